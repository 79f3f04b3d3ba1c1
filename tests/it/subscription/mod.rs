//! Subscription profiles: a long-lived token kept like a key and handed to the real
//! Claude Code on a descriptor (in the user's terminal and in a terminal session), the
//! same token held by the proxy while the agent has only its local token, the provider's
//! rate-limit headers recorded and shown, and the agents' own logins (state read from
//! their files as the agents themselves read it, the login command run with the
//! profile's home).

mod login;
mod token;

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

pub const TOKEN: &str = "sk-ant-oat01-SUBSCRIPTION-TOKEN-0123456789-abcdefghijklmnop";

/// A token profile of Claude Code on the test upstream.
pub fn token_profile(alias: &str, base_url: &str, proxy: bool) -> Value {
    json!({"agent_id": "claude", "alias": alias, "provider_id": "anthropic", "model": "claude-sonnet-4",
           "auth": "token", "oauth_token": TOKEN, "base_url": base_url, "proxy": {"enabled": proxy}})
}

/// The environment of the running process whose environment holds `marker`.
pub fn environ_with(marker: &str) -> Vec<String> {
    wait_until(WAIT, &format!("a process with {marker}"), || {
        std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
            let env = std::fs::read(e.path().join("environ")).ok()?;
            let vars: Vec<String> = env
                .split(|b| *b == 0)
                .map(|v| String::from_utf8_lossy(v).to_string())
                .collect();
            vars.iter().any(|v| v == marker).then_some(vars)
        })
    })
}

/// Runs `cmd` to its end with stdin closed; (success, stdout, stderr).
pub fn output(cmd: &mut std::process::Command) -> (bool, String, String) {
    let out = cmd.stdin(std::process::Stdio::null()).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Waits until the terminal session `id` has terminated; returns its info.
pub fn wait_terminated(d: &Daemon, id: &str) -> Value {
    wait_until(Duration::from_secs(60), "the session to end", || {
        let s = d.get(&format!("/api/terminal/sessions/{id}")).expect_ok();
        (s["state"] == "terminated").then_some(s)
    })
}
