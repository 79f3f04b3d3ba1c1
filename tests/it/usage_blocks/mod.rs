//! Billing blocks, the ccusage-style reports, the export, budgets (alerts and the
//! proxy's hard stop) and the status line. Blocks and reports are compared with the real
//! ccusage 20.0.24 (`scripts/prepare-tests` installs it) on the same transcripts, in the
//! same run. Shared helpers here.

mod budgets;
mod ccusage;
mod statusline;
mod views;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::*;

/// One assistant response in a generated transcript.
pub struct Msg {
    pub ts: i64,
    pub session: &'static str,
    pub model: &'static str,
    /// input, output, cache write, cache read
    pub counts: [u64; 4],
}

/// A timestamp as Claude Code writes it (milliseconds, Z).
pub fn stamp(ts: i64) -> String {
    jiff::Timestamp::from_second(ts)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S.000Z")
        .to_string()
}

pub fn at(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_second()
}

/// Writes `msgs` as Claude Code transcripts under `dir/projects/<project>/<session>.jsonl`
/// (project = the session's first letter), compact JSON, each with its own message and
/// request ids.
pub fn write_transcripts(dir: &Path, msgs: &[Msg]) {
    for (i, m) in msgs.iter().enumerate() {
        let project = dir
            .join("projects")
            .join(format!("-tmp-{}", &m.session[..1]));
        std::fs::create_dir_all(&project).unwrap();
        let line = json!({
            "parentUuid": null, "isSidechain": false, "userType": "external", "cwd": "/tmp/p",
            "sessionId": m.session, "version": "2.1.332", "type": "assistant",
            "message": {"id": format!("msg_{i:04}"), "type": "message", "role": "assistant",
                "model": m.model, "content": [{"type": "text", "text": "ok"}],
                "usage": {"input_tokens": m.counts[0], "output_tokens": m.counts[1],
                          "cache_creation_input_tokens": m.counts[2], "cache_read_input_tokens": m.counts[3]}},
            "requestId": format!("req_{i:04}"), "uuid": format!("u-{i}"), "timestamp": stamp(m.ts),
        });
        let path = project.join(format!("{}.jsonl", m.session));
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str(&serde_json::to_string(&line).unwrap());
        text.push('\n');
        std::fs::write(&path, text).unwrap();
    }
}

/// Where the real ccusage is (installed by `scripts/prepare-tests` beside the agents).
pub fn ccusage_bin() -> PathBuf {
    let bin = deps_bin().join("ccusage");
    assert!(
        bin.exists(),
        "ccusage is missing from {}; run scripts/prepare-tests",
        bin.display()
    );
    bin
}

/// `ccusage ARGS --json --offline` on the Claude data in `claude_dir`, in UTC, with an
/// empty home (so nothing else is read).
pub fn ccusage(env: &TestEnv, claude_dir: &Path, args: &[&str]) -> Value {
    let home = env.root.join("ccusage-home");
    std::fs::create_dir_all(&home).unwrap();
    let out = Command::new(ccusage_bin())
        .args(args)
        .args(["--json", "--offline"])
        .env_clear()
        .env("HOME", &home)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TZ", "UTC")
        .env("CLAUDE_CONFIG_DIR", claude_dir)
        .output()
        .expect("run ccusage");
    assert!(
        out.status.success(),
        "ccusage {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "ccusage {args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

pub fn import(d: &Daemon, dir: &Path) {
    d.api(
        "POST",
        &format!("/api/usage/import-claude?claude_dir={}", dir.display()),
        None,
    )
    .expect_ok();
}

/// An RFC 3339 time (any precision) as Unix milliseconds.
pub fn ms(v: &Value) -> i64 {
    v.as_str()
        .unwrap_or_else(|| panic!("a time, not {v}"))
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_millisecond()
}

pub fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-6),
        "{what}: {a} vs {b}"
    );
}

pub fn event(profile: &str, model: &str, ts: i64, counts: [u64; 4]) -> Value {
    json!({
        "profile": profile, "model": model, "ts": ts, "source": "test",
        "input_tokens": counts[0], "output_tokens": counts[1],
        "cache_creation_input_tokens": counts[2], "cache_read_input_tokens": counts[3],
    })
}

pub fn record(d: &Daemon, events: Vec<Value>) {
    d.api(
        "POST",
        "/api/usage/record",
        Some(&json!({"events": events})),
    )
    .expect_ok();
}

pub fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}
