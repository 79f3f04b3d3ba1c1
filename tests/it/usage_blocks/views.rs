//! The export (streamed CSV and JSON), bad queries, the weekly report, and
//! `clown usage blocks --live`, which redraws from `/ws/events`.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use serde_json::Value;

use super::*;
use crate::helpers::*;

#[test]
fn export_streams_every_event_as_csv_and_json() {
    let env = TestEnv::new("usage-export");
    let d = Daemon::start(&env);
    let t = now() - 600;
    let mut events: Vec<Value> = (0..5000)
        .map(|i| {
            event(
                "work",
                "claude-sonnet-4",
                t + i % 600,
                [1000 + i as u64, 10, 0, 0],
            )
        })
        .collect();
    for e in events.iter_mut() {
        e["dedupe_key"] = serde_json::json!(format!("k{}", e["input_tokens"]));
    }
    events.push(event("odd,\"name\"", "claude-haiku-4-5", t, [1, 2, 3, 4]));
    let rest = events.split_off(2500);
    record(&d, events);
    record(&d, rest);
    let r = d.get("/api/usage/export?format=csv&period=all");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(
        r.header("content-disposition")
            .unwrap()
            .contains("clown-usage.csv")
    );
    let text = r.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 5001, "a header and one line per event");
    assert!(
        lines[0].starts_with("time,profile,agent,provider,model,source,session_id,input_tokens")
    );
    // A name with a comma and quotes is one quoted field.
    let odd = lines.iter().find(|l| l.contains("odd")).unwrap();
    assert!(odd.contains(",\"odd,\"\"name\"\"\","), "{odd}");
    let sum: u64 = lines[1..]
        .iter()
        .filter(|l| !l.contains("odd"))
        .map(|l| l.split(',').nth(7).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(sum, (0..5000u64).map(|i| 1000 + i).sum::<u64>());
    // JSON: an array of the same rows, a profile filter, and per-day rows.
    let rows: Vec<Value> = d
        .get("/api/usage/export?format=json&profile=work")
        .json()
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rows.len(), 5000);
    assert_eq!(rows[0]["profile"], "work");
    assert!(rows[0]["cost_usd"].as_f64().unwrap() > 0.0);
    let days = d
        .get("/api/usage/export?format=json&granularity=daily")
        .json();
    assert!((2..=4).contains(&days.as_array().unwrap().len()), "{days}");
    // The CLI writes the same bytes to a file.
    let file = env.root.join("out.csv");
    let out = env
        .cli(&d)
        .args(["usage", "export", "--period", "all", "-o"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    // Bad queries are 400 envelopes and stream nothing.
    for q in [
        "format=xml",
        "granularity=hourly",
        "period=fortnight",
        "period=today&since=2026-01-01",
        "since=2026-13-01",
        "since=2026-03-02&until=2026-03-01",
        "agent=nope",
        "colour=red",
    ] {
        let r = d.get(&format!("/api/usage/export?{q}"));
        let msg = r.expect_error(400);
        assert!(!msg.is_empty(), "{q}");
    }
    assert!(
        d.get("/api/usage/daily?week_start=friday")
            .expect_error(400)
            .contains("week_start")
    );
    assert!(
        d.get("/api/usage/blocks?since=yesterday")
            .expect_error(400)
            .contains("since")
    );
}

#[test]
fn weekly_and_agent_filters() {
    let env = TestEnv::new("usage-weekly");
    let d = Daemon::start(&env);
    // 2026-03-01 is a Sunday.
    record(
        &d,
        vec![
            event(
                "@claude",
                "claude-sonnet-4",
                at("2026-03-01T12:00:00Z"),
                [100_000, 0, 0, 0],
            ),
            event(
                "@claude",
                "claude-sonnet-4",
                at("2026-03-02T12:00:00Z"),
                [100_000, 0, 0, 0],
            ),
            event(
                "@codex",
                "gpt-5",
                at("2026-03-02T12:00:00Z"),
                [1_000_000, 0, 0, 0],
            ),
        ],
    );
    let monday = d.get("/api/usage/weekly?agent=claude").expect_ok();
    let weeks: Vec<&str> = monday["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["week"].as_str().unwrap())
        .collect();
    assert_eq!(weeks, ["2026-02-23", "2026-03-02"]);
    // 100,000 input tokens each (a request over 200,000 would be at the long-context price).
    assert_eq!(monday["totals"]["cost_usd"], 0.6);
    let sunday = d
        .get("/api/usage/weekly?agent=claude&week_start=sunday")
        .expect_ok();
    assert_eq!(sunday["rows"].as_array().unwrap().len(), 1);
    assert_eq!(sunday["rows"][0]["week"], "2026-03-01");
    let codex = d.get("/api/usage/monthly?agent=codex").expect_ok();
    assert_eq!(codex["rows"][0]["cost_usd"], 1.25);
    assert_eq!(codex["profiles"], serde_json::json!(["@codex"]));
}

#[test]
fn blocks_live_redraws_on_usage_events() {
    let env = TestEnv::new("blocks-live");
    let d = Daemon::start(&env);
    record(
        &d,
        vec![event(
            "work",
            "claude-sonnet-4",
            now() - 60,
            [1000, 0, 0, 0],
        )],
    );
    let mut child = env
        .cli(&d)
        .args(["usage", "blocks", "--live", "--json", "--profile", "work"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || -> Value { serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap() };
    let first = next();
    assert_eq!(first["blocks"][0]["total_tokens"], 1000);
    assert_eq!(first["blocks"][0]["is_active"], true);
    // New usage: a new frame with it, without the command asking on its own.
    record(
        &d,
        vec![event("work", "claude-sonnet-4", now(), [500, 0, 0, 0])],
    );
    let second = next();
    assert_eq!(second["blocks"][0]["total_tokens"], 1500);
    let _ = child.kill();
    let _ = child.wait();
}
