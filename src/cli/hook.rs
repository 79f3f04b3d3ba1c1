//! `clown hook AGENT [EVENT-JSON]`: what an agent's hooks run (installed by
//! `agents::hooks`). It reads the event (the last argument, as Codex's `notify` passes
//! it, else standard input, as Claude Code and Gemini CLI pass it), keeps only the
//! fields clown uses ([`HookReport`]), and posts them to its session's hook route with
//! the session's token, all three taken from the environment the session gave the
//! agent. Outside a clown session there is none, and it does nothing.
//!
//! It never fails the agent and never speaks to it: no output (some agents read a
//! hook's output as instructions), exit code 0 whatever happens, and at most
//! [`TIMEOUT`] on a daemon that does not answer. Plain blocking I/O, no runtime: it
//! runs at every event, so its start-up is what the agent waits for.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use clap::Args;
use serde_json::Value;

use crate::agents::hook_events::HookReport;

/// The longest a hook waits for the daemon.
const TIMEOUT: Duration = Duration::from_secs(2);
/// The most of an event read from standard input (tool inputs can be large files).
const MAX_EVENT: u64 = 8 * 1024 * 1024;

#[derive(Debug, Args)]
pub struct HookArgs {
    /// The agent whose event this is (claude, codex, gemini, ...).
    agent: String,
    /// The event as JSON (default: read from standard input).
    event: Option<String>,
}

pub fn run(args: &HookArgs) -> i32 {
    if let Err(e) = send(args)
        && std::env::var_os("CLOWN_HOOK_DEBUG").is_some()
    {
        eprintln!("clown hook: {e}");
    }
    0
}

fn send(args: &HookArgs) -> Result<(), String> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let (session, token, url) = (
        var("CLOWN_SESSION_ID")?,
        var("CLOWN_HOOK_TOKEN")?,
        var("CLOWN_HOOK_URL")?,
    );
    let text = match &args.event {
        Some(t) => t.clone(),
        None => {
            let mut t = String::new();
            std::io::stdin()
                .take(MAX_EVENT)
                .read_to_string(&mut t)
                .map_err(|e| e.to_string())?;
            t
        }
    };
    let raw: Value = serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
    let report = HookReport::from_raw(&args.agent, &raw).ok_or("not an event")?;
    let body = serde_json::to_string(&report).map_err(|e| e.to_string())?;
    let host = url
        .strip_prefix("http://")
        .ok_or("CLOWN_HOOK_URL is not http://")?
        .trim_end_matches('/');
    let addr: std::net::SocketAddr = host.parse().map_err(|_| format!("bad address {host}"))?;
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "POST /api/terminal/sessions/{session}/hook HTTP/1.1\r\nHost: {host}\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).map_err(|e| e.to_string())?;
    if &head[9..12] == b"200" {
        Ok(())
    } else {
        Err(format!(
            "the daemon answered {}",
            String::from_utf8_lossy(&head[9..12])
        ))
    }
}
