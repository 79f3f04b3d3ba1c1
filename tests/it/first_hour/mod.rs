//! The first hour of a new user (issue "first hour"): agents found where the user's
//! shell finds them, the CLI's own PATH handed to the daemon, `profiles create` checking
//! everything before it asks for the key, error texts that end with a next step, a
//! daemon log without colour codes, `clown service install`, the man pages and
//! `clown doctor`.

mod agent_path;
mod cli_texts;
mod create_order;
mod doctor;
mod service;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::helpers::*;

/// A PATH without any agent (node and the shell are there).
pub const BARE_PATH: &str = "/usr/bin:/bin";

/// The echo agent (`echoer`, binary `clown-test-echo`) registered and written into
/// `<root>/agent-bin`, which is on no PATH; returns that directory.
pub fn echo_agent(env: &TestEnv) -> PathBuf {
    crate::browser::install_echo_agent(env)
}

/// An executable shell script at `path`.
pub fn script(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Profile `alias` of the echo agent.
pub fn echo_profile(d: &Daemon, alias: &str) {
    create_profile(
        d,
        json!({"agent_id": "echoer", "alias": alias, "provider_id": "anthropic", "api_key": "sk-echo-0123456789abcdef"}),
    );
}

/// The output of a session until it holds `needle`.
pub fn session_shows(d: &Daemon, id: &str, needle: &str) {
    let mut ws = crate::ws::connect(d.port, &format!("/ws/terminal/{id}"), &d.token);
    let mut out = Vec::new();
    wait_until(WAIT, needle, || {
        if let Some(crate::ws::Frame::Binary(b)) = ws.read_frame(WAIT) {
            out.extend_from_slice(&b);
        }
        String::from_utf8_lossy(&out).contains(needle).then_some(())
    });
}
