//! `clown statusline`: the line from the daemon with the launch's scoped token, the
//! agent's rate limits recorded for a direct profile, the token good for nothing else,
//! the line without a daemon, and the real Claude Code showing it once the shared setup
//! offers it.

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;
use crate::helpers::*;

const KEY: &str = "sk-ant-api03-STATUSLINE-0123456789-abcdefghijklmnop";

fn input(resets: i64) -> Value {
    json!({
        "session_id": "33333333-cccc-4ccc-8ccc-000000000003", "transcript_path": "/nowhere.jsonl",
        "cwd": "/tmp/active", "model": {"id": "claude-sonnet-4-20250514", "display_name": "Sonnet 4"},
        "version": "2.1.332", "cost": {"total_cost_usd": 0.1234, "total_duration_ms": 60000},
        "context_window": {"total_input_tokens": 13000, "context_window_size": 200000},
        "effort": {"level": "high"},
        "rate_limits": {"five_hour": {"used_percentage": 23.5, "resets_at": resets},
                        "seven_day": {"used_percentage": 41.2, "resets_at": resets + 86_400}}
    })
}

/// Runs `clown statusline` (no --url: the Unix socket in the state directory) with
/// `vars`, `stdin` as its input; returns its exit code and stdout.
fn statusline(env: &TestEnv, vars: &[(&str, &str)], args: &[&str], stdin: &Value) -> (i32, String) {
    let mut child = env
        .clown()
        .arg("statusline")
        .args(args)
        .envs(vars.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim_end().to_string(),
    )
}

#[test]
fn the_line_comes_from_the_daemon_with_the_profiles_own_token() {
    let env = TestEnv::new("statusline");
    let d = Daemon::start(&env);
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "work", "provider_id": "anthropic", "model": "claude-sonnet-4", "api_key": KEY}),
    );
    let t = now();
    // $0.30 an hour ago and $0.60 ten minutes ago: today $0.90, one active block.
    record(
        &d,
        vec![
            event("work", "claude-sonnet-4", t - 3600, [100_000, 0, 0, 0]),
            event("work", "claude-sonnet-4", t - 600, [0, 40_000, 0, 0]),
        ],
    );
    d.api(
        "PUT",
        "/api/budgets/work/daily",
        Some(&json!({"limit_usd": 1.0})),
    )
    .expect_ok();
    let spec = d.api("POST", "/api/profiles/work/launch", None).expect_ok();
    let token = spec["env"]["CLOWN_STATUSLINE_TOKEN"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(token.starts_with("clown-status-work."), "{token}");
    assert!(!token.contains(&d.token));
    let resets = t + 2 * 3600;
    let (code, line) = statusline(
        &env,
        &[("CLOWN_STATUSLINE_TOKEN", &token)],
        &[],
        &input(resets),
    );
    assert_eq!(code, 0);
    let block = d
        .get("/api/usage/blocks?profile=work&active=true")
        .expect_ok();
    let end = block["blocks"][0]["end_time"]
        .as_str()
        .unwrap()
        .parse::<jiff::Timestamp>()
        .unwrap();
    let left = end.as_second() - now();
    let fmt = |s: i64| {
        let m = (s + 59) / 60;
        if m >= 60 {
            format!("{}h {}m", m / 60, m % 60)
        } else {
            format!("{m}m")
        }
    };
    // Today's cost and the budget's use as the reports say (near midnight the first
    // event may be yesterday's).
    let today =
        d.get("/api/usage?period=today&profile=work").expect_ok()["total_cost"]["total_cost"]
            .as_f64()
            .unwrap();
    let used = d.get("/api/budgets").expect_ok()[0]["used_percent"]
        .as_f64()
        .unwrap();
    let mark = if used >= 80.0 { " !" } else { "" };
    let expected = |left: i64| {
        format!(
            "work | Sonnet 4 (high) | $0.12 session / ${today:.2} today / $0.90 block ({} left) | 5h 24% 7d 41% | daily budget {used:.0}%{mark}",
            fmt(left)
        )
    };
    assert!(
        line == expected(left) || line == expected(left + 60),
        "{line}\n{}",
        expected(left)
    );
    // The agent's rate limits are now the profile's (it has no proxy), with time to reset.
    let limits = d.get("/api/usage/limits?profile=work").expect_ok();
    let l = &limits[0];
    assert_eq!(l["source"], "statusline");
    let five = l["windows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["window"] == "five_hour")
        .unwrap();
    assert_eq!(five["used_percentage"], 23.5);
    assert!(
        (five["resets_in_secs"].as_i64().unwrap() - 7200).abs() <= 5,
        "{five}"
    );
    assert_eq!(
        l["statusline"]["session_id"],
        "33333333-cccc-4ccc-8ccc-000000000003"
    );
    assert_eq!(l["statusline"]["session_cost_usd"], 0.1234);
    let detail = d.get("/api/profiles/work/limits").expect_ok();
    assert_eq!(
        detail["latest"]["unified"]["windows"]["seven_day"]["used_percentage"],
        41.2
    );
    assert_eq!(detail["latest"]["source"], "statusline");
    let out = env.cli(&d).args(["usage", "limits"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("five_hour") && text.contains("23.5%") && text.contains("statusline"),
        "{text}"
    );
    // The token is good for this profile's status line only.
    let bearer = format!("Bearer {token}");
    let h = [("Authorization", bearer.as_str())];
    request(d.port, "GET", "/api/usage", &h, b"").expect_error(403);
    request(d.port, "GET", "/api/profiles/work", &h, b"").expect_error(403);
    let other = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/json"),
    ];
    request(
        d.port,
        "POST",
        "/api/statusline?profile=home",
        &other,
        b"{}",
    )
    .expect_error(403);
    let forged = format!(
        "Bearer {}",
        token.replacen("clown-status-work.", "clown-status-home.", 1)
    );
    request(
        d.port,
        "POST",
        "/api/statusline",
        &[("Authorization", forged.as_str())],
        b"{}",
    )
    .expect_error(401);
    // The daemon's own token may name any profile; without one the line is @claude's.
    let (_, mine) = statusline(&env, &[], &[], &json!({"model": {"display_name": "Opus"}}));
    assert_eq!(mine, "@claude | Opus | $0.00 today / no active block");
    // Without a daemon the line still shows what the agent said, and exits 0.
    let (code, alone) = statusline(
        &env,
        &[("CLOWN_STATUSLINE_TOKEN", &token)],
        &["--url", "http://127.0.0.1:1"],
        &input(resets),
    );
    assert_eq!(code, 0);
    assert!(
        alone.starts_with("Sonnet 4 (high) | $0.12 session | clown: "),
        "{alone}"
    );
}

/// Visible text of a terminal's output: escape sequences and whitespace removed.
fn visible(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            match chars.next() {
                Some('[') => {
                    for n in chars.by_ref() {
                        if ('@'..='~').contains(&n) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    while let Some(n) = chars.next() {
                        if n == '\x07' || (n == '\x1b' && chars.peek() == Some(&'\\')) {
                            break;
                        }
                    }
                }
                _ => {}
            }
        } else if !c.is_whitespace() && !c.is_control() {
            out.push(c);
        }
    }
    out
}

#[test]
fn real_claude_code_shows_it_from_the_shared_setup() {
    let env = TestEnv::new("statusline-claude");
    env.write_config(&format!(
        "[agents]\nextra_paths = [\"{}\"]\n",
        deps_bin().display()
    ));
    let d = Daemon::start(&env);
    let up = crate::upstream::Upstream::start(crate::upstream::Script::default());
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "lined", "provider_id": "anthropic", "model": "claude-sonnet-4",
               "api_key": KEY, "base_url": up.url()}),
    );
    record(
        &d,
        vec![event(
            "lined",
            "claude-sonnet-4",
            now() - 60,
            [1_000_000 / 10, 0, 0, 0],
        )],
    );
    // Offered in the shared setup: the profile gets it in its settings.json.
    d.api(
        "PUT",
        "/api/setup/status-line",
        Some(&json!({"enabled": true})),
    )
    .expect_ok();
    let settings: Value = serde_json::from_str(
        &std::fs::read_to_string(env.home.join(".claude-profiles/lined/settings.json")).unwrap(),
    )
    .unwrap();
    let command = settings["statusLine"]["command"].as_str().unwrap();
    assert!(
        command.ends_with(" statusline") && command.contains("clown"),
        "{settings}"
    );
    let project = env.root.join("project");
    std::fs::create_dir_all(&project).unwrap();
    let id = d
        .api(
            "POST",
            "/api/terminal/sessions",
            Some(&json!({"profile_alias": "lined", "cols": 160, "rows": 40, "working_dir": project.display().to_string()})),
        )
        .expect_ok()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut ws = crate::ws::connect(d.port, &format!("/ws/terminal/{id}"), &d.token);
    let mut screen = Vec::new();
    // The line the daemon makes, as the agent draws it (cursor moves between words).
    let want = "$0.30block(";
    let deadline = Instant::now() + Duration::from_secs(60);
    while !visible(&screen).contains("lined|") || !visible(&screen).contains(want) {
        let left = deadline.saturating_duration_since(Instant::now());
        match ws.read_frame(left) {
            Some(crate::ws::Frame::Binary(b)) => screen.extend_from_slice(&b),
            Some(_) => {}
            None => panic!("no status line on the screen: {}", visible(&screen)),
        }
    }
    d.api("DELETE", &format!("/api/terminal/sessions/{id}"), None)
        .expect_ok();
    // Turned off, it leaves the profile's settings.
    d.api(
        "PUT",
        "/api/setup/status-line",
        Some(&json!({"enabled": false})),
    )
    .expect_ok();
    let settings: Value = serde_json::from_str(
        &std::fs::read_to_string(env.home.join(".claude-profiles/lined/settings.json")).unwrap(),
    )
    .unwrap();
    assert!(settings.get("statusLine").is_none(), "{settings}");
}
