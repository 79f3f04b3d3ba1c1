//! Usage: the report (exact costs, periods in a chosen time zone, filters) and the
//! Claude Code import (dedupe, incremental re-import, stats-cache, real transcripts).

use std::io::Write;
use std::path::Path;

use jiff::civil::Weekday;
use jiff::{ToSpan, Zoned};
use serde_json::{Value, json};

use crate::helpers::*;

fn event(profile: &str, model: &str, ts: i64, counts: [u64; 4]) -> Value {
    json!({
        "profile": profile, "model": model, "ts": ts, "source": "test",
        "input_tokens": counts[0], "output_tokens": counts[1],
        "cache_creation_input_tokens": counts[2], "cache_read_input_tokens": counts[3],
    })
}

fn record(d: &Daemon, events: Vec<Value>) -> Value {
    d.api(
        "POST",
        "/api/usage/record",
        Some(&json!({"events": events})),
    )
    .expect_ok()
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

#[test]
fn the_reference_cost_example_exactly() {
    let env = TestEnv::new("usage-cost");
    let d = Daemon::start(&env);
    record(
        &d,
        vec![event(
            "work-claude",
            "claude-sonnet-4",
            now(),
            [125_000, 45_000, 10_000, 50_000],
        )],
    );
    let u = d.get("/api/usage?period=week").expect_ok();
    assert_eq!(u["period"], "This week");
    assert_eq!(
        u["total_tokens"],
        json!({"input_tokens": 125000, "output_tokens": 45000, "cache_creation_input_tokens": 10000, "cache_read_input_tokens": 50000})
    );
    // Compare the bytes, not floats: these must print exactly as the reference does.
    let body = d.get("/api/usage?period=week").text();
    assert!(
        body.contains(r#""total_cost":{"input_cost":0.375,"output_cost":0.675,"cache_creation_cost":0.0375,"cache_read_cost":0.015,"total_cost":1.1025}"#),
        "{body}"
    );
    let p = &u["aggregates"]["by_profile"]["work-claude"];
    assert_eq!(p["profile"], "work-claude");
    assert_eq!(p["cost"]["total_cost"], 1.1025);
    assert_eq!(p["tokens"]["input_tokens"], 125000);
    assert!(p["last_used"].is_string());
    assert_eq!(
        u["aggregates"]["by_model"]["claude-sonnet-4"]["priced"],
        true
    );
    assert_eq!(u["unpriced_models"], json!([]));
    assert_eq!(d.get("/api/usage").expect_ok()["period"], "Today");
}

#[test]
fn filters_prices_and_bad_input() {
    let env = TestEnv::new("usage-filters");
    let d = Daemon::start(&env);
    let t = now();
    record(
        &d,
        // Five requests of 200,000 (one over 200k would be billed at Sonnet's
        // long-context price).
        std::iter::repeat_n(event("a", "claude-sonnet-4", t, [200_000, 0, 0, 0]), 5)
            .chain([
                event("b", "MiniMax-M2.1", t, [1_000_000, 1_000_000, 0, 0]),
                event("b", "mystery-model", t, [500, 500, 0, 0]),
            ])
            .collect(),
    );
    let all = d.get("/api/usage?period=today").expect_ok();
    assert_eq!(all["total_tokens"]["input_tokens"], 2_000_500);
    assert_eq!(all["unpriced_models"], json!(["mystery-model"]));
    assert_eq!(
        all["aggregates"]["by_model"]["mystery-model"]["priced"],
        false
    );
    assert_eq!(
        all["aggregates"]["by_model"]["mystery-model"]["cost"]["total_cost"],
        0.0
    );
    let minimax = &all["aggregates"]["by_model"]["MiniMax-M2.1"]["cost"]["total_cost"];
    assert!(
        minimax.as_f64().unwrap() > 0.0,
        "non-Anthropic models are priced: {minimax}"
    );
    let b = d.get("/api/usage?period=today&profile=b").expect_ok();
    assert_eq!(b["total_tokens"]["input_tokens"], 1_000_500);
    assert!(b["aggregates"]["by_profile"].get("a").is_none());
    let m = d
        .get("/api/usage?period=today&model=claude-sonnet-4")
        .expect_ok();
    assert_eq!(m["total_tokens"]["input_tokens"], 1_000_000);
    assert_eq!(m["total_cost"]["total_cost"], 3.0);
    assert_eq!(m["aggregates"]["by_day"].as_array().unwrap().len(), 1);
    let msg = d.get("/api/usage?period=fortnight").expect_error(400);
    assert!(msg.contains("fortnight") && msg.contains("7d"), "{msg}");
    d.get("/api/usage?perod=today").expect_error(400);
    // Bad records change nothing.
    let bad = d.api(
        "POST",
        "/api/usage/record",
        Some(&json!({"events": [{"profile": "a"}]})),
    );
    bad.expect_error(400);
    let bad = d.api("POST", "/api/usage/record", Some(&json!({"events": [event("a", "m", t, [1, 1, 1, 1])], "sessions": [{"profile": "a", "started_at": 10, "ended_at": 5, "source": "x"}]})));
    bad.expect_error(400);
    // So is a bad query, whatever the body.
    for query in ["backlog=maybe", "backlog=1", "hurry=true"] {
        let msg = d
            .api(
                "POST",
                &format!("/api/usage/record?{query}"),
                Some(&json!({"events": [event("a", "m", t, [1, 1, 1, 1])]})),
            )
            .expect_error(400);
        assert!(msg.contains("query"), "{query}: {msg}");
    }
    assert_eq!(
        d.get("/api/usage?period=all").expect_ok()["total_tokens"]["input_tokens"],
        2_000_500
    );
    // Re-recording with the same dedupe key adds nothing, from a sender that is behind
    // (stored at once, not on the daemon's background lane) or not.
    let mut e = event("a", "claude-sonnet-4", t, [7, 0, 0, 0]);
    e["dedupe_key"] = json!("k1");
    assert_eq!(record(&d, vec![e.clone()])["events_added"], 1);
    assert_eq!(record(&d, vec![e.clone()])["events_added"], 0);
    let behind = |events: Vec<Value>| {
        d.api(
            "POST",
            "/api/usage/record?backlog=true",
            Some(&json!({"events": events})),
        )
        .expect_ok()
    };
    assert_eq!(behind(vec![e])["events_added"], 0);
    let mut e = event("a", "claude-sonnet-4", t, [11, 0, 0, 0]);
    e["dedupe_key"] = json!("k2");
    assert_eq!(behind(vec![e.clone()])["events_added"], 1);
    assert_eq!(record(&d, vec![e])["events_added"], 0);
    assert_eq!(
        d.get("/api/usage?period=all").expect_ok()["total_tokens"]["input_tokens"],
        2_000_518
    );
}

#[test]
fn periods_follow_the_local_time_zone() {
    let env = TestEnv::new("usage-periods");
    let tz = "Pacific/Auckland";
    let d = Daemon::start_with(&env, |cmd| {
        cmd.env("TZ", tz);
    });
    let zone = jiff::tz::TimeZone::get(tz).unwrap();
    let local: Zoned = jiff::Timestamp::now().to_zoned(zone.clone());
    let today = local.date();
    let midnight = today
        .to_zoned(zone.clone())
        .unwrap()
        .timestamp()
        .as_second();
    let monday = today
        .checked_sub((today.weekday().since(Weekday::Monday) as i64).days())
        .unwrap()
        .to_zoned(zone.clone())
        .unwrap()
        .timestamp()
        .as_second();
    let first = today
        .first_of_month()
        .to_zoned(zone.clone())
        .unwrap()
        .timestamp()
        .as_second();
    // One token each, with distinct kinds so sums tell which were counted.
    record(
        &d,
        vec![
            event("p", "claude-sonnet-4", midnight - 1, [1, 0, 0, 0]),
            event("p", "claude-sonnet-4", midnight, [10, 0, 0, 0]),
            event("p", "claude-sonnet-4", monday - 1, [100, 0, 0, 0]),
            event("p", "claude-sonnet-4", monday, [1000, 0, 0, 0]),
            event("p", "claude-sonnet-4", first - 1, [10000, 0, 0, 0]),
            event("p", "claude-sonnet-4", first, [100000, 0, 0, 0]),
        ],
    );
    let input = |period: &str| {
        d.get(&format!("/api/usage?period={period}")).expect_ok()["total_tokens"]["input_tokens"]
            .as_u64()
            .unwrap()
    };
    // Expected sums computed from the same instants the daemon must use.
    let sum = |start: i64, end: i64| -> u64 {
        [
            (midnight - 1, 1),
            (midnight, 10),
            (monday - 1, 100),
            (monday, 1000),
            (first - 1, 10000),
            (first, 100000),
        ]
        .iter()
        .filter(|(ts, _)| *ts >= start && *ts < end)
        .map(|(_, v)| v)
        .sum()
    };
    let tomorrow = today
        .tomorrow()
        .unwrap()
        .to_zoned(zone.clone())
        .unwrap()
        .timestamp()
        .as_second();
    let yesterday = today
        .yesterday()
        .unwrap()
        .to_zoned(zone.clone())
        .unwrap()
        .timestamp()
        .as_second();
    assert_eq!(input("today"), sum(midnight, tomorrow));
    assert_eq!(input("yesterday"), sum(yesterday, midnight));
    assert_eq!(input("week"), sum(monday, tomorrow));
    assert_eq!(input("month"), sum(first, tomorrow));
    assert_eq!(input("all"), 111111);
    let seven = today
        .checked_sub(6.days())
        .unwrap()
        .to_zoned(zone.clone())
        .unwrap()
        .timestamp()
        .as_second();
    assert_eq!(input("7d"), sum(seven, tomorrow));
    // The midnight boundary itself: the second before is yesterday, midnight is today.
    assert!(sum(midnight, tomorrow) >= 10 && sum(midnight, tomorrow) % 10 == 0);
    let u = d.get("/api/usage?period=7d").expect_ok();
    assert_eq!(u["aggregates"]["by_day"].as_array().unwrap().len(), 7);
    assert_eq!(u["time_zone"], tz);
    let days = u["aggregates"]["by_day"].as_array().unwrap();
    assert_eq!(days.last().unwrap()["date"], today.to_string());
}

/// Writes transcript lines to `path` (creating parents), without a trailing newline
/// after the last one when `complete` is false.
pub fn write_lines(path: &Path, lines: &[String], append: bool) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(append)
        .write(true)
        .truncate(!append)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

pub fn assistant(
    msg: &str,
    req: Option<&str>,
    ts: &str,
    sidechain: bool,
    counts: [u64; 4],
) -> String {
    let mut v = json!({
        "parentUuid": null, "isSidechain": sidechain, "userType": "external", "cwd": "/w",
        "sessionId": "sess-1", "version": "2.1.0", "type": "assistant", "uuid": format!("u-{msg}-{}", counts[1]),
        "timestamp": ts,
        "message": {"id": msg, "type": "message", "role": "assistant", "model": "claude-sonnet-4",
            "content": [{"type": "text", "text": "some \"usage\": text"}],
            "usage": {"input_tokens": counts[0], "output_tokens": counts[1],
                      "cache_creation_input_tokens": counts[2], "cache_read_input_tokens": counts[3]}},
    });
    if let Some(r) = req {
        v["requestId"] = json!(r);
    }
    v.to_string()
}

fn today_ts() -> String {
    jiff::Timestamp::now().to_string()
}

pub fn import(d: &Daemon, dir: &Path) -> String {
    let path = format!("/api/usage/import-claude?claude_dir={}", dir.display());
    d.api("POST", &path, None)
        .expect_ok()
        .as_str()
        .unwrap()
        .to_string()
}

fn all_tokens(d: &Daemon, profile: &str) -> Value {
    d.get(&format!("/api/usage?period=all&profile={profile}"))
        .expect_ok()["total_tokens"]
        .clone()
}

#[test]
fn import_dedupes_and_is_incremental() {
    let env = TestEnv::new("usage-import");
    let d = Daemon::start(&env);
    let dir = env.root.join("claude-data");
    let ts = today_ts();
    let main = dir.join("projects/-w/sess-1.jsonl");
    write_lines(
        &main,
        &[
            r#"{"type":"user","message":{"role":"user","content":"hi"}}"#.to_string(),
            // Streaming snapshots of one message: counted once, the largest.
            assistant("msg_A", Some("req_A"), &ts, false, [100, 1, 10, 1000]),
            assistant("msg_A", Some("req_A"), &ts, false, [100, 50, 10, 1000]),
            assistant("msg_A", Some("req_A"), &ts, false, [100, 20, 10, 1000]),
            // Without requestId: still once per message id.
            assistant("msg_B", None, &ts, false, [5, 5, 0, 0]),
            assistant("msg_B", None, &ts, false, [5, 5, 0, 0]),
            "{\"message\":{\"usage\":{\"input_tokens\":1".to_string(),
        ],
        false,
    );
    // A sidechain replay of msg_A in another file is not counted again.
    write_lines(
        &dir.join("projects/-w/agent-x.jsonl"),
        &[
            assistant("msg_A", Some("req_A"), &ts, true, [100, 50, 10, 1000]),
            // A replay that carries a new requestId is still the same response.
            assistant(
                "msg_A",
                Some("req_A_replayed"),
                &ts,
                true,
                [100, 50, 10, 1000],
            ),
        ],
        false,
    );
    let summary = import(&d, &dir);
    assert!(
        summary.starts_with("Imported 105 input tokens, 55 output tokens"),
        "{summary}"
    );
    assert!(summary.contains("1 malformed lines"), "{summary}");
    assert!(summary.contains("Found 1 session entries"), "{summary}");
    assert!(!summary.contains('\n'));
    let expect = json!({"input_tokens": 105, "output_tokens": 55, "cache_creation_input_tokens": 10, "cache_read_input_tokens": 1000});
    assert_eq!(all_tokens(&d, "@claude"), expect);

    // Re-importing the same data adds nothing and reads nothing.
    let again = import(&d, &dir);
    assert!(
        again.starts_with("Imported 0 input tokens, 0 output tokens"),
        "{again}"
    );
    assert!(again.contains("2 files unchanged"), "{again}");
    assert_eq!(all_tokens(&d, "@claude"), expect);

    // A grown file is read from where the last import stopped; a truncated last line
    // waits until it is complete.
    let partial = assistant("msg_D", Some("req_D"), &ts, false, [1000, 0, 0, 0]);
    write_lines(
        &main,
        &[assistant("msg_C", Some("req_C"), &ts, false, [7, 3, 0, 0])],
        true,
    );
    {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&main)
            .unwrap();
        f.write_all(&partial.as_bytes()[..partial.len() / 2])
            .unwrap();
    }
    let grown = import(&d, &dir);
    assert!(
        grown.starts_with("Imported 7 input tokens, 3 output tokens"),
        "{grown}"
    );
    assert!(grown.contains("0 malformed lines"), "{grown}");
    {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&main)
            .unwrap();
        f.write_all(&partial.as_bytes()[partial.len() / 2..])
            .unwrap();
        f.write_all(b"\n").unwrap();
    }
    let completed = import(&d, &dir);
    assert!(
        completed.starts_with("Imported 1000 input tokens"),
        "{completed}"
    );
    assert_eq!(all_tokens(&d, "@claude")["input_tokens"], 1112);
    // A later, larger snapshot of a known message replaces it: only the growth counts.
    write_lines(
        &main,
        &[assistant("msg_C", Some("req_C"), &ts, false, [7, 9, 0, 0])],
        true,
    );
    let bigger = import(&d, &dir);
    assert!(
        bigger.starts_with("Imported 0 input tokens, 6 output tokens"),
        "{bigger}"
    );
    assert_eq!(all_tokens(&d, "@claude")["output_tokens"], 64);

    let msg = d
        .api(
            "POST",
            "/api/usage/import-claude?claude_dir=/no/such/dir",
            None,
        )
        .expect_error(400);
    assert!(msg.contains("/no/such/dir"), "{msg}");
}

#[test]
fn stats_cache_fills_days_without_transcripts() {
    let env = TestEnv::new("usage-stats");
    // What the explicit import reports; the live import of ~/.claude is off here.
    env.write_config("[usage]\nwatch = false\n");
    let d = Daemon::start(&env);
    // Default locations: the user's ~/.claude belongs to no profile.
    let dir = env.home.join(".claude");
    let today = jiff::Zoned::now().date();
    let old = today.checked_sub(90.days()).unwrap();
    write_lines(
        &dir.join("projects/-w/s.jsonl"),
        &[assistant(
            "msg_T",
            Some("req_T"),
            &today_ts(),
            false,
            [10, 10, 0, 0],
        )],
        false,
    );
    let stats = json!({
        "version": 4,
        "dailyModelTokens": [
            {"date": old.to_string(), "tokensByModel": {"claude-sonnet-4": 1000}},
            {"date": today.to_string(), "tokensByModel": {"claude-sonnet-4": 999999}}
        ],
        "modelUsage": {"claude-sonnet-4": {"inputTokens": 1, "outputTokens": 1, "cacheReadInputTokens": 2, "cacheCreationInputTokens": 0, "costUSD": 0}},
        "dailyActivity": [], "totalSessions": 3
    });
    std::fs::write(dir.join("stats-cache.json"), stats.to_string()).unwrap();
    let summary = d.api("POST", "/api/usage/import-claude", None).expect_ok();
    let summary = summary.as_str().unwrap();
    assert!(summary.contains("stats-cache.json (1 days"), "{summary}");
    let t = all_tokens(&d, "@claude");
    // Today comes from the transcript only; the old day from stats, split 1:1:2.
    assert_eq!(
        t,
        json!({"input_tokens": 260, "output_tokens": 260, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 500})
    );
    let again = d.api("POST", "/api/usage/import-claude", None).expect_ok();
    assert!(
        !again.as_str().unwrap().contains("stats-cache.json ("),
        "{again}"
    );
    assert_eq!(all_tokens(&d, "@claude"), t);
}

#[test]
fn real_claude_transcripts_import_exactly() {
    let env = TestEnv::new("usage-real");
    let upstream = crate::upstream::Upstream::start(crate::upstream::Script {
        reply: "COUNTED".into(),
        input_tokens: 4321,
        output_tokens: 87,
        cache_creation_input_tokens: 65,
        cache_read_input_tokens: 1234,
        ..Default::default()
    });
    let d = Daemon::start(&env);
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "real", "provider_id": "anthropic", "api_key": "sk-ant-real-0123456789abcdef",
               "base_url": upstream.url()}),
    );
    let project = env.root.join("proj");
    std::fs::create_dir_all(&project).unwrap();
    let out = env
        .cli(&d)
        .args(["profiles", "run", "real", "--", "-p", "count me"])
        .env("PATH", path_with_deps())
        .current_dir(&project)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("COUNTED"));
    let requests = upstream.messages().len() as u64;
    assert!(requests >= 1);
    let summary = d.api("POST", "/api/usage/import-claude", None).expect_ok();
    assert!(
        summary.as_str().unwrap().contains("0 malformed lines"),
        "{summary}"
    );
    let u = d.get("/api/usage?period=today&profile=real").expect_ok();
    assert_eq!(
        u["total_tokens"],
        json!({"input_tokens": 4321 * requests, "output_tokens": 87 * requests,
               "cache_creation_input_tokens": 65 * requests, "cache_read_input_tokens": 1234 * requests}),
        "{summary}"
    );
    // The run itself was recorded as a session of the profile.
    assert!(u["total_sessions"].as_u64().unwrap() >= 1, "{u}");
    assert_eq!(u["aggregates"]["by_profile"]["real"]["profile"], "real");
}

#[test]
fn one_hour_cache_writes_cost_twice_the_input_price() {
    let env = TestEnv::new("usage-1h");
    let d = Daemon::start(&env);
    // Five requests (each under the 200k long-context threshold).
    let mut e = event("p", "claude-sonnet-4", now(), [0, 0, 200_000, 0]);
    e["cache_creation_1h_input_tokens"] = json!(80_000);
    record(&d, vec![e; 5]);
    let u = d.get("/api/usage?period=today").expect_ok();
    // 600,000 five-minute writes at $3.75/M and 400,000 one-hour writes at 2 × $3/M.
    assert_eq!(u["total_cost"]["cache_creation_cost"], 2.25 + 2.4);
    assert_eq!(u["total_tokens"]["cache_creation_input_tokens"], 1_000_000);

    // The import reads the split from the transcript.
    let dir = env.root.join("claude-1h");
    let mut line: Value = serde_json::from_str(&assistant(
        "msg_H",
        Some("req_H"),
        &today_ts(),
        false,
        [0, 0, 200_000, 0],
    ))
    .unwrap();
    line["message"]["usage"]["cache_creation"] =
        json!({"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 200_000});
    write_lines(&dir.join("projects/-w/h.jsonl"), &[line.to_string()], false);
    import(&d, &dir);
    let u = d.get("/api/usage?period=today&profile=@claude").expect_ok();
    assert_eq!(u["total_cost"]["cache_creation_cost"], 1.2);
}

#[test]
fn days_follow_a_time_zone_change_between_starts() {
    let env = TestEnv::new("usage-zone-change");
    let ts = "2026-01-10T23:30:00Z"
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_second();
    let days = |d: &Daemon| -> Vec<String> {
        d.get("/api/usage?period=all").expect_ok()["aggregates"]["by_day"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["date"].as_str().unwrap().to_string())
            .collect()
    };
    let d = Daemon::start(&env);
    record(&d, vec![event("p", "claude-sonnet-4", ts, [5, 0, 0, 0])]);
    assert_eq!(days(&d), vec!["2026-01-10"]);
    drop(d);
    let d = Daemon::start_with(&env, |cmd| {
        cmd.env("TZ", "Pacific/Auckland");
    });
    assert_eq!(days(&d), vec!["2026-01-11"], "rebuilt for the new zone");
    record(
        &d,
        vec![event("p", "claude-sonnet-4", ts + 3600, [7, 0, 0, 0])],
    );
    assert_eq!(
        d.get("/api/usage?period=all").expect_ok()["total_tokens"]["input_tokens"],
        12
    );
    drop(d);
    let d = Daemon::start(&env);
    assert_eq!(days(&d), vec!["2026-01-10", "2026-01-11"]);
}

#[test]
fn import_reads_sub_agent_usage_nested_in_progress_lines() {
    let env = TestEnv::new("usage-progress");
    let d = Daemon::start(&env);
    let dir = env.root.join("claude-progress");
    let ts = today_ts();
    let progress = json!({
        "sessionId": "sess-1", "type": "progress", "timestamp": ts,
        "data": {"type": "agent_progress", "message": {
            "type": "assistant", "timestamp": ts, "requestId": "req_P",
            "message": {"id": "msg_P", "model": "claude-haiku-4-5", "role": "assistant",
                        "content": [{"type": "text", "text": "sub-agent"}],
                        "usage": {"input_tokens": 30, "output_tokens": 3}}}}
    });
    write_lines(
        &dir.join("projects/-w/s.jsonl"),
        &[
            progress.to_string(),
            // The same response in the sub-agent's own transcript counts once.
            assistant("msg_P", Some("req_P"), &ts, true, [30, 3, 0, 0]),
        ],
        false,
    );
    let summary = import(&d, &dir);
    assert!(
        summary.starts_with("Imported 30 input tokens, 3 output tokens"),
        "{summary}"
    );
    assert_eq!(all_tokens(&d, "@claude")["input_tokens"], 30);
}
