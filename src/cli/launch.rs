//! Starting a profile's agent (or its own login) in the caller's terminal, with the
//! launch the daemon prepared: `clown profiles run|login|env`, and `clown run` for the
//! profile bound to the directory.
//!
//! A secret the launch hands over on a descriptor (Claude Code's subscription token) goes
//! into a pipe made here: the value is written and the writing end closed before the
//! agent starts, and the agent gets the reading end as descriptor 3, named by the
//! variable the launch says. `profiles env` cannot hand a descriptor to a shell; it
//! exports the plain variable instead and says so.

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Command as Process;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::{Client, encode};
use crate::pty::spawn::{FIRST_SECRET_FD, hand_over, secret_pipes};

pub fn string_list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Asks the daemon to prepare `alias` (`what` = `launch` or `login`) for this directory.
pub async fn prepare(client: &Client, alias: &str, what: &str) -> anyhow::Result<Value> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    client
        .post(
            &format!("/api/profiles/{}/{what}", encode(alias)),
            Some(json!({"cwd": cwd})),
        )
        .await
}

/// `export`/`unset` lines for a shell; a descriptor secret as its plain variable.
pub fn print_env(alias: &str, spec: &Value) -> anyhow::Result<()> {
    if !spec["sandbox"].is_null() {
        bail!(
            "profile '{alias}' runs its agent in a sandbox, which an exported environment would bypass; start it with 'clown profiles run {alias}'"
        );
    }
    for name in string_list(&spec["unset"]) {
        println!("unset {name}");
    }
    if let Some(env) = spec["env"].as_object() {
        for (k, v) in env {
            println!("export {k}={}", shell_quote(v.as_str().unwrap_or_default()));
        }
    }
    for s in spec["secret_fds"].as_array().into_iter().flatten() {
        let (Some(var), Some(value)) = (s["plain_env"].as_str(), s["value"].as_str()) else {
            continue;
        };
        eprintln!(
            "note: a shell cannot be handed a descriptor, so the token goes into {var}, where every command and hook the agent runs can read it; 'clown profiles run {alias}' keeps it out of the environment"
        );
        println!("export {var}={}", shell_quote(value));
    }
    Ok(())
}

/// Runs the launch `spec` here with `args`; records the run as a usage session when
/// `record`; returns its exit code.
pub async fn run(
    client: &Client,
    alias: &str,
    spec: &Value,
    args: &[String],
    record: bool,
) -> anyhow::Result<i32> {
    let program = spec["binary_path"]
        .as_str()
        .or_else(|| spec["program"].as_str())
        .unwrap_or_default()
        .to_string();
    // A sandboxed profile's agent runs under the command the daemon gave, never without.
    let mut cmd = match spec["sandbox"].as_object() {
        Some(sandbox) => {
            let wrapper = sandbox["program"].as_str().unwrap_or_default();
            let mut cmd = Process::new(wrapper);
            cmd.args(string_list(&sandbox["args"])).arg(&program);
            cmd
        }
        None => Process::new(&program),
    };
    cmd.args(args);
    for name in string_list(&spec["unset"]) {
        cmd.env_remove(name);
    }
    if let Some(env) = spec["env"].as_object() {
        for (k, v) in env {
            cmd.env(k, v.as_str().unwrap_or_default());
        }
    }
    let secrets: Vec<(String, String)> = spec["secret_fds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            Some((
                s["env"].as_str()?.to_string(),
                s["value"].as_str()?.to_string(),
            ))
        })
        .collect();
    let pipes = secret_pipes(&secrets)?;
    for (i, (var, _)) in secrets.iter().enumerate() {
        cmd.env(var, (FIRST_SECRET_FD + i as i32).to_string());
    }
    let sources: Vec<i32> = pipes.iter().map(AsRawFd::as_raw_fd).collect();
    if !sources.is_empty() {
        // SAFETY: hand_over only calls fcntl and dup2, which are async-signal-safe, and
        // allocates nothing.
        unsafe {
            cmd.pre_exec(move || hand_over(&sources, FIRST_SECRET_FD));
        }
    }
    // The agent owns the terminal: Ctrl-C and friends are for it, not for us.
    let ignore = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGQUIT] {
        let _ = signal_hook::flag::register(sig, ignore.clone());
    }
    let started = jiff::Timestamp::now().as_second();
    let status = cmd.status().with_context(|| {
        format!(
            "cannot run '{program}' for profile '{alias}'; is the agent installed? (see 'clown agents list', 'clown agents install')"
        )
    });
    drop(pipes);
    let status = status?;
    let ended = jiff::Timestamp::now().as_second();
    let code = exit_code(&status);
    if !record {
        return Ok(code);
    }
    let record = json!({"sessions": [{
        "profile": alias,
        "started_at": started,
        "ended_at": ended,
        "exit_code": code,
        "source": "cli",
    }]});
    if let Err(e) = client.post("/api/usage/record", Some(record)).await {
        eprintln!("warning: could not record this run: {e:#}");
    }
    Ok(code)
}

/// The exit code, or 128 + the signal that ended the process.
pub fn exit_code(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

/// Single-quotes `s` for POSIX shells.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
