//! Budgets: each threshold announced once, the hard stop answering the agent in its
//! provider's error shape with nothing sent upstream or recorded, and lifted again.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;
use crate::proxy::{assert_error_json, endpoint, message, post, start, usage_events, wait_status};
use crate::upstream::{Script, Upstream};
use crate::ws;

/// What one request through the proxy costs at the test upstream's default counts on
/// claude-sonnet-4 (1234 in, 56 out, 7 cache write, 89 cache read; $3/15/3.75/0.30).
const PER_REQUEST: f64 = 0.004_594_95;

fn alerts(frames: &[String]) -> Vec<u64> {
    frames
        .iter()
        .filter_map(|f| serde_json::from_str::<Value>(f).ok())
        .filter(|v| v["type"] == "budget_alert")
        .map(|v| v["data"]["threshold"].as_u64().unwrap())
        .collect()
}

#[test]
fn thresholds_once_each_then_the_hard_stop_refuses_in_the_providers_shape() {
    let up = Upstream::start(Script::default());
    let (env, d) = start("budget-stop", "");
    create_profile(
        &d,
        crate::proxy::profile("work", &up.url(), json!({"enabled": true})),
    );
    create_profile(
        &d,
        json!({"agent_id": "codex", "alias": "cx", "provider_id": "openai", "model": "gpt-5",
               "api_key": "sk-openai-0123456789abcdef", "base_url": format!("{}/v1", up.url()),
               "proxy": {"enabled": true}}),
    );
    wait_status(&d, "work", "running");
    wait_status(&d, "cx", "running");
    let (port, token) = endpoint(&d, "work");
    let mut events = ws::connect(d.port, "/ws/events", &d.token);

    // 9.67 % of the budget per request: 80 % at the 9th, 95 % at the 10th, 100 % at the 11th.
    let limit = 0.0475;
    let set = d.api(
        "PUT",
        "/api/budgets/work/daily",
        Some(&json!({"limit_usd": limit, "hard_stop": true})),
    );
    assert_eq!(set.status, 200, "{}", set.text());
    assert_eq!(set.json()["data"]["level"], "ok");
    let mut seen = Vec::new();
    for i in 1..=11 {
        let r = post(
            port,
            &[("x-api-key", &token)],
            &message("claude-sonnet-4", false),
        );
        assert_eq!(r.status, 200, "request {i}: {}", r.text());
        wait_until(WAIT, &format!("the usage of request {i}"), || {
            (usage_events(&env).len() == i).then_some(())
        });
        let want = ((i as f64 * PER_REQUEST / limit * 100.0) * 10.0).round() / 10.0;
        let b = wait_until(WAIT, "the budget to count it", || {
            let list = d.get("/api/budgets").expect_ok();
            let b = list[0].clone();
            ((b["used_percent"].as_f64().unwrap() * 10.0).round() / 10.0 == want).then_some(b)
        });
        let expect: &[u64] = match i {
            ..=8 => &[],
            9 => &[80],
            10 => &[80, 95],
            _ => &[80, 95, 100],
        };
        if !expect.is_empty() {
            let frames = events.read_text_frames_until(&format!("alerts {expect:?}"), |f| {
                seen.len() + alerts(f).len() >= expect.len()
            });
            seen.extend(alerts(&frames));
        }
        assert_eq!(seen, expect, "after request {i} ({b})");
    }
    let b = &d.get("/api/budgets").expect_ok()[0];
    assert_eq!(
        (b["level"].as_str(), b["stopped"].as_bool()),
        (Some("exceeded"), Some(true))
    );

    // The stop reaches the proxy: the next request is refused, in Anthropic's shape,
    // naming the budget; the upstream sees nothing and nothing is recorded.
    let upstream_before = up.messages().len();
    let recorded_before = usage_events(&env).len();
    let refused = wait_until(WAIT, "the proxy to refuse", || {
        let r = post(
            port,
            &[("x-api-key", &token)],
            &message("claude-sonnet-4", false),
        );
        (r.status != 200).then_some(r)
    });
    let msg = assert_error_json(&refused, 403, "permission_error");
    assert!(msg.contains("the daily budget of 'work'"), "{msg}");
    assert!(msg.contains("clown budget set"), "{msg}");
    assert_eq!(
        up.messages().len(),
        upstream_before,
        "nothing went upstream"
    );
    let streamed = post(
        port,
        &[("x-api-key", &token)],
        &message("claude-sonnet-4", true),
    );
    assert_error_json(&streamed, 403, "permission_error");
    holds_for(Duration::from_millis(600), "nothing recorded", || {
        usage_events(&env).len() == recorded_before
    });
    // The other profile is not covered.
    let (cx_port, cx_token) = openai_endpoint(&d);
    let ok = chat(cx_port, &cx_token);
    assert_eq!(ok.status, 200, "{}", ok.text());

    // Re-evaluations (a record elsewhere, a listing) announce nothing again.
    crate::usage_blocks::record(
        &d,
        vec![crate::usage_blocks::event(
            "other",
            "claude-sonnet-4",
            crate::usage_blocks::now(),
            [1, 0, 0, 0],
        )],
    );
    d.get("/api/budgets").expect_ok();
    let more = events.read_text_frames_until("the other profile's usage", |f| {
        f.iter().any(|t| t.contains("usage_recorded"))
    });
    d.get("/api/budgets").expect_ok();
    assert!(alerts(&more).is_empty(), "{more:?}");

    // An overall budget stops every proxy: the OpenAI agent gets OpenAI's error shape.
    let all = d.api(
        "PUT",
        "/api/budgets/@all/monthly",
        Some(&json!({"limit_usd": 0.01, "hard_stop": true})),
    );
    assert_eq!(all.status, 200, "{}", all.text());
    let refused = wait_until(WAIT, "the codex proxy to refuse", || {
        let r = chat(cx_port, &cx_token);
        (r.status != 200).then_some(r)
    });
    assert_eq!(refused.status, 429, "{}", refused.text());
    let v = refused.json();
    assert_eq!(v["error"]["type"], "insufficient_quota", "{v}");
    assert_eq!(v["error"]["code"], "budget_exceeded", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the monthly budget of all profiles"),
        "{v}"
    );

    // Removing the budgets lifts the stops.
    d.api("DELETE", "/api/budgets/@all/monthly", None)
        .expect_ok();
    d.api("DELETE", "/api/budgets/work/daily", None).expect_ok();
    wait_until(WAIT, "the stop to be lifted", || {
        let r = post(
            port,
            &[("x-api-key", &token)],
            &message("claude-sonnet-4", false),
        );
        (r.status == 200).then_some(())
    });
    assert_eq!(chat(cx_port, &cx_token).status, 200);
    d.api("DELETE", "/api/budgets/work/daily", None)
        .expect_error(404);
}

fn openai_endpoint(d: &Daemon) -> (u16, String) {
    let spec = crate::proxy::launch_env(d, "cx");
    let token = spec["env"]["OPENAI_API_KEY"].as_str().unwrap().to_string();
    let port = crate::proxy::status(d, "cx")["port"].as_u64().unwrap() as u16;
    (port, token)
}

fn chat(port: u16, token: &str) -> Resp {
    let body = json!({"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]});
    request(
        port,
        "POST",
        "/v1/chat/completions",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &format!("Bearer {token}")),
        ],
        body.to_string().as_bytes(),
    )
}

#[test]
fn budgets_refuse_bad_input() {
    let env = TestEnv::new("budget-input");
    let d = Daemon::start(&env);
    let put = |path: &str, body: Value| d.api("PUT", path, Some(&body));
    assert!(
        put("/api/budgets/nobody/daily", json!({"limit_usd": 5}))
            .expect_error(404)
            .contains("nobody")
    );
    for (path, body, says) in [
        (
            "/api/budgets/@all/weekly",
            json!({"limit_usd": 5}),
            "period",
        ),
        ("/api/budgets/@all/daily", json!({}), "limit_usd"),
        (
            "/api/budgets/@all/daily",
            json!({"limit_usd": -1}),
            "positive",
        ),
        (
            "/api/budgets/@all/daily",
            json!({"window": "five_hour"}),
            "together",
        ),
        (
            "/api/budgets/@all/daily",
            json!({"window": "hourly", "window_percent": 5}),
            "window",
        ),
        (
            "/api/budgets/@all/daily",
            json!({"window": "five_hour", "window_percent": 150}),
            "100",
        ),
        (
            "/api/budgets/@nosuchagent/daily",
            json!({"limit_usd": 5}),
            "scope",
        ),
        (
            "/api/budgets/@all/daily",
            json!({"limit_usd": 5, "extra": 1}),
            "extra",
        ),
    ] {
        let msg = put(path, body.clone()).expect_error(400);
        assert!(msg.contains(says), "{path} {body}: {msg}");
    }
    assert_eq!(d.get("/api/budgets").expect_ok(), json!([]));
    // A window budget follows the provider's window: here the status line's report.
    let b = put(
        "/api/budgets/@claude/daily",
        json!({"window": "five_hour", "window_percent": 50, "limit_usd": 100}),
    );
    assert_eq!(b.status, 200);
    d.api(
        "POST",
        "/api/statusline",
        Some(&json!({"session_id": "s", "rate_limits": {"five_hour": {"used_percentage": 45.0, "resets_at": crate::usage_blocks::now() + 3600}}})),
    )
    .expect_ok();
    let list = wait_until(WAIT, "the window's use", || {
        let l = d.get("/api/budgets").expect_ok();
        (l[0]["window_used_percent"] == 45.0).then_some(l)
    });
    assert_eq!(list[0]["binding"], "window");
    assert_eq!(list[0]["used_percent"], 90.0);
    assert_eq!(list[0]["level"], "warning");
    // The CLI lists and removes it.
    let out = env.cli(&d).args(["budget", "list"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("@claude") && text.contains("50% of five_hour") && text.contains("90.0%"),
        "{text}"
    );
    let out = env
        .cli(&d)
        .args(["budget", "remove", "@claude", "--period", "daily"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(d.get("/api/budgets").expect_ok(), json!([]));
}
