//! Blocks and reports equal ccusage's on the same transcripts, in the same run.

use serde_json::Value;

use super::*;
use crate::helpers::*;

const SONNET: &str = "claude-sonnet-4-20250514";
const OPUS: &str = "claude-opus-4-1-20250805";
const HAIKU: &str = "claude-haiku-4-5-20251001";

/// Transcripts that exercise every rule: exactly five hours after a block's start
/// (stays), a second more (a new block), a silence of five hours and a second (a gap
/// block), twelve hours of steady use (blocks chained by their length), two responses
/// in the same second, three models, two projects, and an active block right now.
fn dataset(now: i64) -> Vec<Msg> {
    let mut m = Vec::new();
    let mut add = |ts: i64, session: &'static str, model: &'static str, n: u64| {
        m.push(Msg {
            ts,
            session,
            model,
            counts: [
                100 + n * 37 % 900,
                20 + n * 13 % 400,
                n * 101 % 3000,
                n * 997 % 40_000,
            ],
        })
    };
    let a = "aaaaaaaa-0000-4000-8000-000000000001";
    let b = "bbbbbbbb-0000-4000-8000-000000000002";
    let c = "aaaaaaaa-0000-4000-8000-000000000003";
    let d = "dddddddd-0000-4000-8000-000000000004";
    add(at("2026-03-14T09:15:00Z"), a, SONNET, 1);
    add(at("2026-03-14T10:00:00Z"), a, SONNET, 2);
    add(at("2026-03-14T14:00:00Z"), a, SONNET, 3);
    add(at("2026-03-14T14:00:01Z"), a, OPUS, 4);
    add(at("2026-03-14T19:00:02Z"), a, SONNET, 5);
    add(at("2026-03-14T19:00:02Z"), a, HAIKU, 6);
    let start = at("2026-03-15T08:20:00Z");
    for i in 0..19 {
        let model = [OPUS, HAIKU, SONNET][i % 3];
        add(start + i as i64 * 40 * 60, b, model, 10 + i as u64);
    }
    add(at("2026-03-16T01:10:00Z"), b, HAIKU, 40);
    add(at("2026-03-16T12:00:00Z"), c, SONNET, 41);
    add(at("2026-03-16T12:30:30Z"), c, OPUS, 42);
    add(at("2026-03-17T23:59:59Z"), c, HAIKU, 43);
    add(at("2026-03-18T00:00:00Z"), c, SONNET, 44);
    for (i, back) in [100, 70, 40, 10].iter().enumerate() {
        add(now - back * 60, d, SONNET, 50 + i as u64);
    }
    m
}

fn tokens4(v: &Value, keys: [&str; 4]) -> [u64; 4] {
    keys.map(|k| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}")))
}

#[test]
fn blocks_equal_ccusage_on_the_same_data() {
    let env = TestEnv::new("blocks-ccusage");
    let d = Daemon::start(&env);
    let claude = env.root.join("claude");
    write_transcripts(&claude, &dataset(now()));
    import(&d, &claude);
    let theirs = ccusage(&env, &claude, &["blocks"]);
    let ours = d.get("/api/usage/blocks?profile=@claude").expect_ok();
    let theirs = theirs["blocks"].as_array().unwrap();
    let ours = ours["blocks"].as_array().unwrap();
    let starts = |v: &[Value], key: &str| v.iter().map(|b| ms(&b[key])).collect::<Vec<_>>();
    assert_eq!(
        starts(ours, "start_time"),
        starts(theirs, "startTime"),
        "block starts"
    );
    assert!(
        theirs.len() >= 10,
        "the data makes many blocks: {}",
        theirs.len()
    );
    assert!(theirs.iter().filter(|b| b["isGap"] == true).count() >= 2);
    for (o, t) in ours.iter().zip(theirs) {
        let what = format!("block {}", t["id"]);
        assert_eq!(o["is_gap"], t["isGap"], "{what}");
        assert_eq!(o["is_active"], t["isActive"], "{what}");
        assert_eq!(ms(&o["end_time"]), ms(&t["endTime"]), "{what}");
        match t["actualEndTime"].as_str() {
            Some(_) => assert_eq!(ms(&o["actual_end_time"]), ms(&t["actualEndTime"]), "{what}"),
            None => assert!(o["actual_end_time"].is_null(), "{what}"),
        }
        assert_eq!(o["entries"], t["entries"], "{what}");
        assert_eq!(
            tokens4(
                &o["tokens"],
                [
                    "input_tokens",
                    "output_tokens",
                    "cache_creation_input_tokens",
                    "cache_read_input_tokens"
                ]
            ),
            tokens4(
                &t["tokenCounts"],
                [
                    "inputTokens",
                    "outputTokens",
                    "cacheCreationInputTokens",
                    "cacheReadInputTokens"
                ]
            ),
            "{what}"
        );
        assert_eq!(o["total_tokens"], t["totalTokens"], "{what}");
        close(
            o["cost_usd"].as_f64().unwrap(),
            t["costUSD"].as_f64().unwrap(),
            &what,
        );
        assert_eq!(o["models"], t["models"], "{what}");
        // The active block: its burn rate exactly, its projection as of a moment later.
        if t["isActive"] == true {
            let (ob, tb) = (&o["burn_rate"], &t["burnRate"]);
            close(
                ob["tokens_per_minute"].as_f64().unwrap(),
                tb["tokensPerMinute"].as_f64().unwrap(),
                "tokens/min",
            );
            close(
                ob["tokens_per_minute_for_indicator"].as_f64().unwrap(),
                tb["tokensPerMinuteForIndicator"].as_f64().unwrap(),
                "indicator",
            );
            close(
                ob["cost_per_hour"].as_f64().unwrap(),
                tb["costPerHour"].as_f64().unwrap(),
                "cost/h",
            );
            let (op, tp) = (&o["projection"], &t["projection"]);
            let minutes = op["remaining_minutes"].as_i64().unwrap();
            assert!(
                (minutes - tp["remainingMinutes"].as_i64().unwrap()).abs() <= 1,
                "{op} {tp}"
            );
            let per_minute = tb["tokensPerMinute"].as_f64().unwrap();
            let projected = op["total_tokens"].as_f64().unwrap();
            assert!(
                (projected - tp["totalTokens"].as_f64().unwrap()).abs() <= per_minute + 1.0,
                "{op} {tp}"
            );
        } else {
            assert!(
                o["burn_rate"].is_null() && o["projection"].is_null(),
                "{what}"
            );
        }
    }
    assert_eq!(ours.last().unwrap()["is_active"], true);
    // The same through the CLI, and the active block alone.
    let out = env
        .cli(&d)
        .args(["usage", "blocks", "--profile", "@claude", "--json"])
        .output()
        .unwrap();
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cli["blocks"].as_array().unwrap().len(), ours.len());
    let active = d
        .get("/api/usage/blocks?profile=@claude&active=true")
        .expect_ok();
    assert_eq!(active["blocks"].as_array().unwrap().len(), 1);
    assert_eq!(active["blocks"][0]["id"], ours.last().unwrap()["id"]);
    // A range keeps the blocks that start in it, computed as from the first event.
    let day = d
        .get("/api/usage/blocks?profile=@claude&since=2026-03-15&until=20260315")
        .expect_ok();
    let want: Vec<i64> = starts(theirs, "startTime")
        .into_iter()
        .filter(|t| {
            (at("2026-03-15T00:00:00Z") * 1000..at("2026-03-16T00:00:00Z") * 1000).contains(t)
        })
        .collect();
    assert_eq!(
        starts(day["blocks"].as_array().unwrap(), "start_time"),
        want
    );
}

#[test]
fn daily_monthly_and_session_totals_equal_ccusage() {
    let env = TestEnv::new("reports-ccusage");
    let d = Daemon::start(&env);
    let claude = env.root.join("claude");
    write_transcripts(&claude, &dataset(now()));
    import(&d, &claude);
    let keys = [
        "inputTokens",
        "outputTokens",
        "cacheCreationTokens",
        "cacheReadTokens",
    ];
    let ours_keys = [
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ];
    for (report, theirs_list, theirs_key, route, ours_key) in [
        ("daily", "daily", "date", "daily", "date"),
        ("monthly", "monthly", "month", "monthly", "month"),
        ("session", "sessions", "sessionId", "sessions", "session_id"),
    ] {
        let theirs = ccusage(&env, &claude, &["claude", report]);
        let ours = d
            .get(&format!("/api/usage/{route}?profile=@claude"))
            .expect_ok();
        let mut t_rows: Vec<&Value> = theirs[theirs_list].as_array().unwrap().iter().collect();
        let mut o_rows: Vec<&Value> = ours["rows"].as_array().unwrap().iter().collect();
        t_rows.sort_by_key(|r| r[theirs_key].as_str().unwrap().to_string());
        o_rows.sort_by_key(|r| r[ours_key].as_str().unwrap().to_string());
        assert_eq!(o_rows.len(), t_rows.len(), "{report} rows");
        assert!(t_rows.len() >= 2, "{report}: {theirs}");
        for (o, t) in o_rows.iter().zip(&t_rows) {
            let what = format!("{report} {}", t[theirs_key]);
            assert_eq!(o[ours_key], t[theirs_key], "{what}");
            assert_eq!(tokens4(&o["tokens"], ours_keys), tokens4(t, keys), "{what}");
            assert_eq!(o["total_tokens"], t["totalTokens"], "{what}");
            close(
                o["cost_usd"].as_f64().unwrap(),
                t["totalCost"].as_f64().unwrap(),
                &what,
            );
        }
        let (ot, tt) = (&ours["totals"], &theirs["totals"]);
        assert_eq!(
            tokens4(&ot["tokens"], ours_keys),
            tokens4(tt, keys),
            "{report} totals"
        );
        close(
            ot["cost_usd"].as_f64().unwrap(),
            tt["totalCost"].as_f64().unwrap(),
            report,
        );
    }
    // The CLI's table ends with the same total.
    let out = env
        .cli(&d)
        .args(["usage", "daily", "--profile", "@claude"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let total_line = text.lines().find(|l| l.starts_with("total")).unwrap();
    let total = ccusage(&env, &claude, &["claude", "daily"])["totals"]["totalTokens"]
        .as_u64()
        .unwrap();
    let grouped = total
        .to_string()
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(",");
    assert!(total_line.contains(&grouped), "{total_line} / {grouped}");
}
