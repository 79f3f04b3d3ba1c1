//! The store under abuse: token counts that would wrap, reads during a long import, and
//! a deleted key that must be gone from the file.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;
use crate::upstream::{Script, Upstream};

fn totals(d: &Daemon) -> Value {
    d.get("/api/usage?period=all").expect_ok()["total_tokens"].clone()
}

#[test]
fn counts_that_would_wrap_are_refused_everywhere() {
    let up = Upstream::start(Script::default());
    let (env, d) = crate::proxy::start("sec-counts", "");
    let now = jiff::Timestamp::now().as_second();
    let event = |input: Value| json!({"profile": "p", "model": "claude-sonnet-4", "ts": now, "source": "test", "input_tokens": input});
    d.api(
        "POST",
        "/api/usage/record",
        Some(&json!({"events": [event(json!(5000))]})),
    )
    .expect_ok();
    let before = totals(&d);
    assert_eq!(before["input_tokens"], 5000);
    // Above i64::MAX (it used to be stored negative, and totals went down), above the
    // maximum, and a time nobody lives in: 400, and nothing of the batch is stored.
    for bad in [
        json!({"events": [event(json!(5000)), event(json!(9_223_372_036_854_775_808u64))]}),
        json!({"events": [event(json!(1_000_000_000_001u64))]}),
        json!({"events": [{"profile": "p", "model": "m", "ts": -1, "source": "test"}]}),
        json!({"sessions": [{"profile": "p", "started_at": 99_999_999_999i64, "source": "test"}]}),
    ] {
        let msg = d
            .api("POST", "/api/usage/record", Some(&bad))
            .expect_error(400);
        assert!(
            msg.contains("events[") || msg.contains("sessions["),
            "{msg}"
        );
    }
    assert_eq!(totals(&d), before);

    // Through a proxy: an upstream answering an absurd count costs only that answer.
    create_profile(
        &d,
        crate::proxy::profile("pc", &up.url(), json!({"enabled": true})),
    );
    let (port, token) = crate::proxy::endpoint(&d, "pc");
    let send = || {
        let r = crate::proxy::post(
            port,
            &[("x-api-key", &token)],
            &crate::proxy::message("claude-sonnet-4", false),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    };
    send();
    up.set_script(Script {
        input_tokens: u64::MAX,
        ..Script::default()
    });
    send();
    up.set_script(Script::default());
    send();
    let events = crate::proxy::settled_events(&env, &[(port, &token)]);
    let from_proxy: Vec<&Value> = events.iter().filter(|e| e["source"] == "proxy").collect();
    assert_eq!(from_proxy.len(), 2, "{events:?}");
    assert!(from_proxy.iter().all(|e| e["input_tokens"] == 1234));

    // In a transcript: the line is malformed, its neighbours count.
    let dir = env.root.join("claude");
    let ts = jiff::Timestamp::now().to_string();
    crate::usage::write_lines(
        &dir.join("projects/p/s.jsonl"),
        &[
            crate::usage::assistant("msg_a", None, &ts, false, [10, 1, 0, 0]),
            crate::usage::assistant("msg_b", None, &ts, false, [u64::MAX, 1, 0, 0]),
            crate::usage::assistant("msg_c", None, &ts, false, [20, 1, 0, 0]),
        ],
        false,
    );
    let summary = crate::usage::import(&d, &dir);
    assert!(summary.contains("1 malformed lines"), "{summary}");
    assert!(summary.contains("Imported 30 input tokens"), "{summary}");
}

/// Writes `files` transcripts of `lines` responses each under `dir/projects`.
fn big_claude_dir(dir: &Path, files: usize, lines: usize) {
    let ts = jiff::Timestamp::now().to_string();
    for f in 0..files {
        let text: Vec<String> = (0..lines)
            .map(|l| {
                crate::usage::assistant(&format!("m-{f}-{l}"), None, &ts, false, [10, 2, 0, 5])
            })
            .collect();
        crate::usage::write_lines(
            &dir.join(format!("projects/p{}/s{f}.jsonl", f % 7)),
            &text,
            false,
        );
    }
}

#[test]
fn reads_are_answered_while_an_import_runs() {
    let env = TestEnv::new("sec-import-reads");
    let d = Daemon::start(&env);
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "r", "provider_id": "anthropic", "api_key": "sk-ant-x-0123456789abcdef"}),
    );
    let dir = env.root.join("big");
    big_claude_dir(&dir, 300, 400);
    let mut events = crate::ws::connect(d.port, "/ws/events", &d.token);
    std::thread::scope(|s| {
        // 120,000 lines: in a debug build beside other tests this may take longer than
        // the usual wait for an answer; what is tested is that reads do not wait for it.
        let import = s.spawn(|| {
            let path = format!("/api/usage/import-claude?claude_dir={}", dir.display());
            d.api_within("POST", &path, None, Duration::from_secs(300))
                .expect_ok()
                .as_str()
                .unwrap()
                .to_string()
        });
        // Once the import is under way (some files in, more to come)…
        events.read_text_frames_until("the import under way", |f| {
            f.iter().any(|f| {
                serde_json::from_str::<Value>(f).is_ok_and(|e| {
                    e["type"] == "usage_import_progress"
                        && e["data"]["files_done"].as_u64() > Some(0)
                        && e["data"]["files_done"] != e["data"]["files_total"]
                })
            })
        });
        // …reads answer before it ends.
        for path in ["/api/profiles", "/api/usage?period=all", "/api/profiles/r"] {
            d.get(path).expect_ok();
        }
        assert!(
            !import.is_finished(),
            "the reads waited for the whole import"
        );
        let summary = import.join().unwrap();
        assert!(summary.contains("from 300 JSONL files"), "{summary}");
    });
    assert_eq!(totals(&d)["input_tokens"], 300 * 400 * 10);
}

#[test]
fn a_deleted_key_is_gone_from_the_database_files() {
    let env = TestEnv::new("sec-delete");
    let d = Daemon::start(&env);
    const KEY: &str = "sk-ant-delete-me-7f3a9c1e5b2d4f60a8e7c6b5d4e3f2a1";
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "gone", "provider_id": "anthropic", "api_key": KEY}),
    );
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "kept", "provider_id": "anthropic", "api_key": "sk-ant-kept-0123456789abcdef"}),
    );
    d.api("DELETE", "/api/profiles/gone?purge=true", None)
        .expect_ok();
    for file in ["clown.db", "clown.db-wal"] {
        let bytes = std::fs::read(env.data_dir().join(file)).unwrap_or_default();
        assert!(
            !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
            "the deleted key is still in {file}"
        );
    }
    // The other profile is intact.
    assert_eq!(d.get("/api/profiles/kept").expect_ok()["api_key_set"], true);
}
