//! The daemon follows the agents' logs live: a line an agent appends shows in
//! `GET /api/usage` and as `usage_recorded` on `/ws/events` with no import command, also
//! when the file is truncated, rotated or deleted, when the directory appears only after
//! the daemon started, and for a profile created while it runs.

use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};

use crate::helpers::*;

fn append(path: &Path, lines: &[String]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

fn input(d: &Daemon, profile: &str) -> u64 {
    d.get(&format!("/api/usage?period=all&profile={profile}"))
        .expect_ok()["total_tokens"]["input_tokens"]
        .as_u64()
        .unwrap()
}

fn wait_input(d: &Daemon, profile: &str, want: u64) {
    wait_until(WAIT, &format!("{profile} at {want} input tokens"), || {
        (input(d, profile) == want).then_some(())
    });
}

/// Waits for the next `usage_recorded` the watcher announces.
fn next_recorded(events: &mut crate::ws::Ws) -> Value {
    let frames = events.read_text_frames_until("a usage_recorded event", |f| {
        f.iter()
            .any(|t| t.contains("\"usage_recorded\"") && t.contains("\"watch\""))
    });
    let last = frames
        .iter()
        .rfind(|t| t.contains("\"usage_recorded\""))
        .unwrap();
    serde_json::from_str(last).unwrap()
}

fn now_iso(offset: i64) -> String {
    jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() + offset)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S.000Z")
        .to_string()
}

fn codex_count(input: u64, total: u64) -> String {
    json!({"timestamp": now_iso(-60 + total as i64 % 50), "type": "event_msg", "payload": {"type": "token_count", "info": {
        "total_token_usage": {"input_tokens": total, "cached_input_tokens": 0, "output_tokens": 0, "reasoning_output_tokens": 0, "total_tokens": total},
        "last_token_usage": {"input_tokens": input, "cached_input_tokens": 0, "output_tokens": 0, "reasoning_output_tokens": 0, "total_tokens": input}}}})
    .to_string()
}

fn claude(id: &str, input: u64) -> String {
    json!({"sessionId": "s-live", "type": "assistant", "timestamp": now_iso(-30), "requestId": format!("req_{id}"),
           "message": {"id": id, "model": "claude-sonnet-4", "usage": {"input_tokens": input, "output_tokens": 1}}})
    .to_string()
}

#[test]
fn an_appended_line_shows_without_an_import() {
    let env = TestEnv::new("usage-live-append");
    let rollout = env
        .home
        .join(".codex/sessions/2026/01/01/rollout-2026-01-01T00-00-00-0199dddd-0000-7000-8000-000000000001.jsonl");
    append(
        &rollout,
        &[
            json!({"timestamp": now_iso(-100), "type": "turn_context", "payload": {"model": "gpt-5"}})
                .to_string(),
            codex_count(1000, 1000),
        ],
    );
    let d = Daemon::start(&env);
    // Read at start (what was written while the daemon was down); the watch is in place.
    wait_input(&d, "@codex", 1000);
    let mut events = crate::ws::connect(d.port, "/ws/events", &d.token);
    append(&rollout, &[codex_count(234, 1234)]);
    let ev = next_recorded(&mut events);
    assert_eq!(ev["data"]["agents"], json!(["codex"]), "{ev}");
    // Waited for, not read once: the event read may be the start's own import, published
    // just after the commit the first wait saw.
    wait_input(&d, "@codex", 1234);
    // A half-written line waits for its end.
    let line = codex_count(66, 1300);
    {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&rollout)
            .unwrap();
        f.write_all(&line.as_bytes()[..40]).unwrap();
        f.flush().unwrap();
        f.write_all(&line.as_bytes()[40..]).unwrap();
        f.write_all(b"\n").unwrap();
    }
    next_recorded(&mut events);
    wait_input(&d, "@codex", 1300);
    // A directory that did not exist when the daemon started.
    let chat = env.home.join(".gemini/tmp/proj/chats/session-x.jsonl");
    append(
        &chat,
        &[
            json!({"sessionId": "g-live", "projectHash": "p", "startTime": now_iso(-50)}).to_string(),
            json!({"id": "g1", "timestamp": now_iso(-40), "type": "gemini", "model": "gemini-2.5-flash",
                   "tokens": {"input": 500, "output": 5, "cached": 0, "thoughts": 0, "tool": 0, "total": 505}})
            .to_string(),
        ],
    );
    wait_input(&d, "@gemini", 500);
}

#[test]
fn truncated_rotated_and_deleted_files() {
    let env = TestEnv::new("usage-live-rotate");
    let d = Daemon::start(&env);
    let mut events = crate::ws::connect(d.port, "/ws/events", &d.token);
    // A profile created while the daemon runs: its home is watched, its usage its own.
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "live", "provider_id": "anthropic", "api_key": "sk-ant-live-0123456789abcdef"}),
    );
    let file = env.home.join(".claude-profiles/live/projects/-w/s.jsonl");
    append(&file, &[claude("m1", 1), claude("m2", 10)]);
    wait_input(&d, "live", 11);
    // Truncated and rewritten: the new line counts, the lines read before stay counted once.
    std::fs::write(&file, format!("{}\n", claude("m1", 1))).unwrap();
    append(&file, &[claude("m3", 100)]);
    wait_input(&d, "live", 111);
    // Rotated: the old file moved aside, a new one under the same name.
    std::fs::rename(&file, file.with_extension("jsonl.1")).unwrap();
    append(&file, &[claude("m4", 1000)]);
    wait_input(&d, "live", 1111);
    // Deleted: what it held stays counted; a later file is followed.
    std::fs::remove_file(&file).unwrap();
    append(&file.with_file_name("t.jsonl"), &[claude("m5", 10000)]);
    wait_input(&d, "live", 11111);
    let ev = next_recorded(&mut events);
    assert!(ev["data"]["events"].as_u64().unwrap() >= 1, "{ev}");
    assert_eq!(
        input(&d, "@claude"),
        0,
        "nothing went to the pseudo-profile"
    );
}
