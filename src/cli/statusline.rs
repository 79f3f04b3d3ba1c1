//! `clown statusline`: the status-line command for Claude Code (or any agent that runs
//! one with its JSON on stdin). It sends that JSON to the daemon in one small request,
//! `POST /api/statusline`, and prints the line the daemon answers: profile, model,
//! session cost, today's cost, the active block's cost and time left, window use and
//! budget state. The daemon computes it from its rollups and memory; nothing is scanned
//! here, and no async runtime is started (the whole run is a few milliseconds).
//!
//! Credential: `CLOWN_STATUSLINE_TOKEN`, which a launch puts in the agent's environment
//! (good for this profile's status line only), else the daemon's token from the state
//! directory (then `--profile`, default `@claude`). Transport: the daemon's Unix socket
//! in the state directory, else TCP to `--url`/`CLOWN_URL` or the configured address (a
//! sandboxed agent cannot see the state directory). When the daemon cannot answer, the
//! line says so and still shows the model and session cost from the input; the command
//! always exits 0, so the agent's screen never shows an error instead of a line.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use clap::Args;
use serde_json::Value;

use super::transport::Transport;
use super::{Cli, encode};
use crate::paths::{Paths, process_env};
use crate::usage::statusline::Input;

/// Largest input read from stdin.
const MAX_INPUT: u64 = 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Args)]
pub struct StatuslineArgs {
    /// Whose line, with the daemon's token (a status-line token names its own profile).
    #[arg(long)]
    profile: Option<String>,
}

/// The command line of `clown statusline` or `clown statusline --profile P` (the forms an
/// agent's settings run), made without building clap's whole command tree: starting the
/// binary is most of a status line's time, and the tree of every subcommand is the larger
/// part of what `main` does before any work. `None` for anything else (other arguments,
/// `--help`, `CLOWN_URL` or `CLOWN_CONFIG` set): clap parses those, with its errors.
pub fn quick_cli(args: &[std::ffi::OsString]) -> Option<Cli> {
    let args: Vec<&str> = args
        .iter()
        .skip(1)
        .map(|a| a.to_str())
        .collect::<Option<_>>()?;
    let plain = |v: &str| !v.is_empty() && !v.starts_with('-');
    let profile = match args.as_slice() {
        ["statusline"] => None,
        ["statusline", "--profile", p] if plain(p) => Some(p.to_string()),
        ["statusline", a] => Some(
            a.strip_prefix("--profile=")
                .filter(|p| plain(p))?
                .to_string(),
        ),
        _ => return None,
    };
    if ["CLOWN_URL", "CLOWN_CONFIG"]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
    {
        return None;
    }
    Some(Cli {
        url: None,
        config: None,
        verbose: 0,
        command: super::Command::Statusline(StatuslineArgs { profile }),
    })
}

pub fn run(cli: &Cli, args: &StatuslineArgs) -> anyhow::Result<i32> {
    let mut input = Vec::new();
    std::io::stdin().take(MAX_INPUT).read_to_end(&mut input)?;
    if input.iter().all(u8::is_ascii_whitespace) {
        input = b"{}".to_vec();
    }
    let out = match ask(cli, args, &input) {
        Ok(line) => line,
        Err(e) => fallback(&input, &e),
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{out}")?;
    stdout.flush()?;
    Ok(0)
}

/// The line from the input alone, and why the daemon's is missing.
fn fallback(input: &[u8], e: &anyhow::Error) -> String {
    let v: Value = serde_json::from_slice(input).unwrap_or(Value::Null);
    let i = Input::from_json(&v);
    let mut parts = Vec::new();
    if let Some(m) = i.model {
        parts.push(m);
    }
    if let Some(c) = i.session_cost_usd {
        parts.push(format!("${c:.2} session"));
    }
    let why = e.to_string();
    parts.push(format!(
        "clown: {}",
        why.lines()
            .next()
            .unwrap_or("no answer")
            .chars()
            .take(80)
            .collect::<String>()
    ));
    parts.join(" | ")
}

fn ask(cli: &Cli, args: &StatuslineArgs, input: &[u8]) -> anyhow::Result<String> {
    let env = process_env();
    let paths = Paths::from_env(&env)?;
    let token = match env
        .get(crate::profiles::STATUSLINE_ENV)
        .filter(|t| !t.is_empty())
    {
        Some(t) => t.clone(),
        None => std::fs::read_to_string(paths.token_file())
            .map_err(|e| anyhow::anyhow!("no CLOWN_STATUSLINE_TOKEN and no daemon token ({e})"))?
            .trim()
            .to_string(),
    };
    let path = match &args.profile {
        Some(p) => format!("/api/statusline?profile={}", encode(p)),
        None => "/api/statusline".to_string(),
    };
    let head = |host: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            input.len()
        )
    };
    let answer = match (cli.url.is_none())
        .then(|| UnixStream::connect(paths.socket_file()).ok())
        .flatten()
    {
        Some(s) => exchange(s, head("localhost").as_bytes(), input)?,
        None => {
            let target = super::client::resolve_target(cli, &paths, &env)?;
            let addr = target
                .base
                .trim_start_matches("http://")
                .trim_end_matches('/');
            Transport::Tcp(addr.to_string()).check_owner()?;
            let s = std::net::TcpStream::connect(addr)
                .map_err(|e| anyhow::anyhow!("cannot reach the daemon at {addr}: {e}"))?;
            let _ = s.set_nodelay(true);
            exchange(s, head(addr).as_bytes(), input)?
        }
    };
    let v: Value = serde_json::from_slice(&answer)
        .map_err(|_| anyhow::anyhow!("unexpected answer from the daemon"))?;
    match v["data"]["line"].as_str() {
        Some(l) if v["success"] == true => Ok(l.to_string()),
        _ => anyhow::bail!("{}", v["error"].as_str().unwrap_or("the daemon refused")),
    }
}

/// Writes the request, reads the whole response, returns its body.
fn exchange<S: Read + Write + Timeouts>(
    mut s: S,
    head: &[u8],
    body: &[u8],
) -> anyhow::Result<Vec<u8>> {
    s.timeouts(TIMEOUT);
    s.write_all(head)?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("incomplete answer from the daemon"))?;
    let (headers, rest) = (&raw[..split], &raw[split + 4..]);
    let chunked = String::from_utf8_lossy(headers)
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    Ok(if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    })
}

/// A chunked body's data.
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&rest[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        rest = &rest[eol + 2..];
        if size == 0 || rest.len() < size {
            break;
        }
        out.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
    out
}

trait Timeouts {
    fn timeouts(&self, t: Duration);
}

impl Timeouts for UnixStream {
    fn timeouts(&self, t: Duration) {
        let _ = self.set_read_timeout(Some(t));
        let _ = self.set_write_timeout(Some(t));
    }
}

impl Timeouts for std::net::TcpStream {
    fn timeouts(&self, t: Duration) {
        let _ = self.set_read_timeout(Some(t));
        let _ = self.set_write_timeout(Some(t));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_status_line_forms_skip_clap() {
        let cli = |a: &[&str]| {
            let a: Vec<std::ffi::OsString> = a.iter().map(Into::into).collect();
            quick_cli(&a).map(|c| match c.command {
                super::super::Command::Statusline(s) => s.profile,
                _ => panic!("not a status line"),
            })
        };
        assert_eq!(cli(&["clown", "statusline"]), Some(None));
        assert_eq!(
            cli(&["clown", "statusline", "--profile", "work"]),
            Some(Some("work".into()))
        );
        assert_eq!(
            cli(&["clown", "statusline", "--profile=work"]),
            Some(Some("work".into()))
        );
        for other in [
            &["clown"][..],
            &["clown", "status"],
            &["clown", "statusline", "--help"],
            &["clown", "statusline", "--profile"],
            &["clown", "statusline", "--profile="],
            &["clown", "statusline", "--profile", "-v"],
            &["clown", "-v", "statusline"],
            &["clown", "statusline", "--url", "http://x"],
        ] {
            assert_eq!(cli(other), None, "{other:?}");
        }
    }

    #[test]
    fn chunked_bodies_and_the_fallback_line() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), b"abcde");
        let l = fallback(
            br#"{"model":{"display_name":"Sonnet 4"},"cost":{"total_cost_usd":0.5}}"#,
            &anyhow::anyhow!("cannot reach the daemon at 127.0.0.1:8765: refused"),
        );
        assert_eq!(
            l,
            "Sonnet 4 | $0.50 session | clown: cannot reach the daemon at 127.0.0.1:8765: refused"
        );
    }
}
