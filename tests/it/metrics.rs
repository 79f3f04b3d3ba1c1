//! `GET /metrics`: who may read it (the daemon's token, the read-only metrics token and
//! nothing else it opens), both formats, exact token and cost totals, proxy request
//! counts; a real Prometheus (Debian's) scraping the daemon with the metrics token and
//! answering PromQL with the expected totals; the shipped Grafana dashboard naming only
//! metrics the daemon serves.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::helpers::*;
use crate::prometheus::Prometheus;
use crate::proxy;
use crate::usage::{assistant, import, write_lines};

/// Sonnet 4's prices: $3 / $15 / $3.75 / $0.30 per million tokens.
fn sonnet_cost(c: [u64; 4]) -> f64 {
    (c[0] as f64 * 3.0 + c[1] as f64 * 15.0 + c[2] as f64 * 3.75 + c[3] as f64 * 0.3) / 1e6
}

fn scrape(d: &Daemon, token: &str, accept: Option<&str>) -> Resp {
    let auth = format!("Bearer {token}");
    let mut h = vec![("Authorization", auth.as_str())];
    if let Some(a) = accept {
        h.push(("Accept", a));
    }
    request(d.port, "GET", "/metrics", &h, b"")
}

/// The value of the sample `line_start` (name and labels) in a text exposition.
fn sample(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|rest| rest.trim().parse().ok())
}

fn start_with_metrics_token(name: &str, extra: &str) -> (TestEnv, Daemon, PathBuf) {
    let env = TestEnv::new(name);
    let token_file = env.root.join("metrics.token");
    env.write_config(&format!(
        "{}\n[metrics]\ntoken_file = \"{}\"\n",
        proxy::config(extra),
        token_file.display()
    ));
    let d = Daemon::start(&env);
    (env, d, token_file)
}

#[test]
fn metrics_need_a_token_and_the_metrics_token_opens_nothing_else() {
    let (_env, d, token_file) = start_with_metrics_token("metrics-auth", "");
    // Created at start, private, random.
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&token_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let metrics_token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_string();
    assert!(metrics_token.len() >= 32);

    let r = request(d.port, "GET", "/metrics", &[], b"");
    r.expect_error(401);
    let r = scrape(&d, "wrong", None);
    r.expect_error(401);
    // A cookie holding the metrics token is no way in.
    let cookie = format!("clown_session={metrics_token}");
    request(d.port, "GET", "/metrics", &[("Cookie", &cookie)], b"").expect_error(401);

    for token in [d.token.as_str(), metrics_token.as_str()] {
        let r = scrape(&d, token, None);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            r.header("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        let text = r.text();
        assert!(text.contains("# TYPE clown_tokens_total counter"), "{text}");
        assert!(text.contains("# TYPE process_resident_memory_bytes gauge"));
        assert!(sample(&text, "process_open_fds ").unwrap() > 0.0);
        assert!(sample(&text, "process_start_time_seconds ").unwrap() > 1.7e9);
        assert!(!text.contains(&d.token) && !text.contains(&metrics_token));
    }
    // The metrics token reads /metrics and nothing else.
    let bearer = format!("Bearer {metrics_token}");
    for (method, path) in [
        ("GET", "/api/profiles"),
        ("GET", "/api/usage"),
        ("POST", "/api/usage/record"),
        ("GET", "/ws/events"),
    ] {
        let r = request(d.port, method, path, &[("Authorization", &bearer)], b"{}");
        let msg = r.expect_error(403);
        assert!(msg.contains("metrics"), "{msg}");
    }
    // Host and Origin are checked as for the API.
    let r = request(
        d.port,
        "GET",
        "/metrics",
        &[("Authorization", &bearer), ("Host", "evil.example:80")],
        b"",
    );
    r.expect_error(403);
}

#[test]
fn totals_are_exact_in_both_formats() {
    let env = TestEnv::new("metrics-totals");
    let d = Daemon::start(&env);
    d.api(
        "POST",
        "/api/profiles",
        Some(
            &json!({"alias": "work", "agent_id": "claude", "provider_id": "anthropic",
                      "api_key": "sk-ant-metrics-0123456789abcdef"}),
        ),
    )
    .expect_ok();
    let now = jiff::Timestamp::now().as_second();
    let ev = |key: &str, model: &str, c: [u64; 4]| {
        json!({"profile": "work", "model": model, "ts": now, "source": "test", "dedupe_key": key,
               "input_tokens": c[0], "output_tokens": c[1],
               "cache_creation_input_tokens": c[2], "cache_read_input_tokens": c[3]})
    };
    let body = json!({"events": [
        ev("a", "claude-sonnet-4", [1000, 200, 30, 4000]),
        ev("b", "claude-sonnet-4", [10, 2, 3, 4]),
        ev("b", "claude-sonnet-4", [10, 2, 3, 4]),
        ev("c", "no-such-model", [5, 5, 0, 0]),
    ]});
    d.api("POST", "/api/usage/record", Some(&body)).expect_ok();
    let text = scrape(&d, &d.token, None).text();
    let labels =
        "profile=\"work\",agent=\"claude\",provider=\"anthropic\",model=\"claude-sonnet-4\"";
    for (kind, want) in [
        ("input", 1010.0),
        ("output", 202.0),
        ("cache_creation", 33.0),
        ("cache_read", 4004.0),
    ] {
        let line = format!("clown_tokens_total{{{labels},kind=\"{kind}\"}} ");
        assert_eq!(sample(&text, &line), Some(want), "{line} in\n{text}");
    }
    let cost = sample(&text, &format!("clown_cost_usd_total{{{labels}}} ")).unwrap();
    assert!(
        (cost - sonnet_cost([1010, 202, 33, 4004])).abs() < 1e-12,
        "{cost}"
    );
    assert_eq!(
        sample(&text, &format!("clown_responses_total{{{labels}}} ")),
        Some(2.0)
    );
    // An unpriced model costs 0, and is still counted.
    let unpriced =
        "profile=\"work\",agent=\"claude\",provider=\"anthropic\",model=\"no-such-model\"";
    assert_eq!(
        sample(&text, &format!("clown_cost_usd_total{{{unpriced}}} ")),
        Some(0.0)
    );

    // A scrape renders again only what changed: new events, a grown event, a new profile
    // (whose agent and provider fill rows that name none) all show on the next one.
    let body = json!({"events": [
        ev("d", "claude-sonnet-4", [1, 1, 1, 1]),
        ev("a", "claude-sonnet-4", [1000, 900, 30, 4000]),
        {"profile": "later", "model": "claude-sonnet-4", "source": "test", "input_tokens": 7},
    ]});
    d.api("POST", "/api/usage/record", Some(&body)).expect_ok();
    let text = scrape(&d, &d.token, None).text();
    let line = format!("clown_tokens_total{{{labels},kind=\"output\"}} ");
    assert_eq!(sample(&text, &line), Some(202.0 + 1.0 + 700.0), "{text}");
    let later = "clown_tokens_total{profile=\"later\",agent=\"unknown\",provider=\"unknown\",model=\"claude-sonnet-4\",kind=\"input\"} ";
    assert_eq!(sample(&text, later), Some(7.0), "{text}");
    d.api(
        "POST",
        "/api/profiles",
        Some(
            &json!({"alias": "later", "agent_id": "codex", "provider_id": "openai",
                      "api_key": "sk-metrics-0123456789abcdef"}),
        ),
    )
    .expect_ok();
    let text = scrape(&d, &d.token, None).text();
    let later = "clown_tokens_total{profile=\"later\",agent=\"codex\",provider=\"openai\",model=\"claude-sonnet-4\",kind=\"input\"} ";
    assert_eq!(sample(&text, later), Some(7.0), "{text}");

    let r = scrape(
        &d,
        &d.token,
        Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"),
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let om = r.text();
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(om.contains("# TYPE clown_tokens counter"), "{om}");
    assert!(om.contains("# TYPE clown_proxy_request_duration_seconds histogram"));
    let line = format!("clown_tokens_total{{{labels},kind=\"input\"}} ");
    assert_eq!(sample(&om, &line), Some(1011.0));
    // Every family is written whole: no family name appears in two separate runs.
    let mut seen = Vec::new();
    for l in om.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = l.split_whitespace().nth(2).unwrap().to_string();
        assert!(!seen.contains(&name), "{name} twice");
        seen.push(name);
    }
}

/// Requests through a proxy are counted per profile, target and status, with timings;
/// a fallback's failed attempt is counted with the status it got, an unreachable target
/// as 502.
#[test]
fn proxy_requests_are_counted_by_target_and_status() {
    use crate::upstream::{Script, Upstream};
    let good = Upstream::start(Script::default());
    let bad = Upstream::start(Script {
        status: Some(529),
        ..Script::default()
    });
    let (_env, d) = proxy::start("metrics-proxy", "");
    let fallback = json!([{"provider_id": "anthropic", "base_url": good.url()}]);
    create_profile(
        &d,
        proxy::profile(
            "mx",
            &bad.url(),
            json!({"enabled": true, "fallbacks": fallback}),
        ),
    );
    let closed = format!("http://127.0.0.1:{}", free_port());
    create_profile(&d, proxy::profile("mr", &closed, json!({"enabled": true})));
    for (alias, want) in [("mx", 200), ("mr", 502)] {
        proxy::wait_status(&d, alias, "running");
        let (port, token) = proxy::endpoint(&d, alias);
        let r = proxy::post(
            port,
            &[("x-api-key", &token)],
            &proxy::message("claude-sonnet-4", true),
        );
        assert_eq!(r.status, want, "{}", r.text());
    }
    let text = wait_until(WAIT, "the requests in /metrics", || {
        let t = scrape(&d, &d.token, None).text();
        (t.contains("clown_proxy_requests_total{profile=\"mr\"") && t.contains("status=\"200\""))
            .then_some(t)
    });
    for (line, want) in [
        (
            "clown_proxy_requests_total{profile=\"mx\",target=\"anthropic\",status=\"529\"} ",
            1.0,
        ),
        (
            "clown_proxy_requests_total{profile=\"mx\",target=\"anthropic\",status=\"200\"} ",
            1.0,
        ),
        (
            "clown_proxy_requests_total{profile=\"mr\",target=\"anthropic\",status=\"502\"} ",
            1.0,
        ),
        (
            "clown_proxy_request_duration_seconds_count{profile=\"mx\",target=\"anthropic\"} ",
            2.0,
        ),
        (
            "clown_proxy_request_duration_seconds_bucket{profile=\"mx\",target=\"anthropic\",le=\"+Inf\"} ",
            2.0,
        ),
        // Only the answer that reached the agent had a first byte.
        (
            "clown_proxy_time_to_first_byte_seconds_count{profile=\"mx\",target=\"anthropic\"} ",
            1.0,
        ),
        ("clown_proxy_state{profile=\"mx\",state=\"running\"} ", 1.0),
        ("clown_proxy_state{profile=\"mx\",state=\"failed\"} ", 0.0),
    ] {
        assert_eq!(sample(&text, line), Some(want), "{line} in\n{text}");
    }
    // Reported requests are checked like events: a target is a plain name, a status real.
    for bad in [
        json!({"profile": "mx", "target": "a b", "status": 200, "duration_seconds": 0.1}),
        json!({"profile": "mx", "target": "anthropic", "status": 42, "duration_seconds": 0.1}),
        json!({"profile": "mx", "target": "anthropic", "status": 200, "duration_seconds": -1.0}),
    ] {
        let r = d.api(
            "POST",
            "/api/usage/record",
            Some(&json!({"requests": [bad]})),
        );
        r.expect_error(400);
    }
    // Counted requests (what proxies send) too: and a bad entry leaves the counts as
    // they were.
    let histogram = |count: u64, sum: f64| {
        let mut buckets = [0u64; 14];
        buckets[3] = count;
        json!({"buckets": buckets, "count": count, "sum": sum})
    };
    let counts = |target: &str, count: u64, sum: f64, ttfb: serde_json::Value| {
        json!({"profile": "mc", "target": target, "status": 200,
               "duration": histogram(count, sum), "ttfb": ttfb})
    };
    for bad in [
        counts("a b", 3, 0.3, histogram(3, 0.1)),
        counts("anthropic", 3, -0.3, histogram(3, 0.1)),
        counts("anthropic", 3, 0.3, histogram(4, 0.1)),
        counts("anthropic", 0, 0.0, histogram(0, 0.0)),
        json!({"profile": "mc", "target": "anthropic", "status": 200,
               "duration": {"buckets": [1, 2], "count": 3, "sum": 0.3}}),
    ] {
        let r = d.api(
            "POST",
            "/api/usage/record",
            Some(&json!({"request_counts": [counts("anthropic", 1, 0.1, histogram(1, 0.1)), bad]})),
        );
        r.expect_error(400);
        assert!(r.text().contains("request_counts[1]"), "{}", r.text());
    }
    for _ in 0..2 {
        d.api(
            "POST",
            "/api/usage/record",
            Some(&json!({"request_counts": [counts("anthropic", 3, 0.3, histogram(2, 0.1))]})),
        )
        .expect_ok();
    }
    let text = scrape(&d, &d.token, None).text();
    for (line, want) in [
        (
            "clown_proxy_requests_total{profile=\"mc\",target=\"anthropic\",status=\"200\"} ",
            6.0,
        ),
        (
            "clown_proxy_request_duration_seconds_bucket{profile=\"mc\",target=\"anthropic\",le=\"0.05\"} ",
            0.0,
        ),
        (
            "clown_proxy_request_duration_seconds_bucket{profile=\"mc\",target=\"anthropic\",le=\"0.1\"} ",
            6.0,
        ),
        (
            "clown_proxy_request_duration_seconds_sum{profile=\"mc\",target=\"anthropic\"} ",
            0.6,
        ),
        (
            "clown_proxy_time_to_first_byte_seconds_count{profile=\"mc\",target=\"anthropic\"} ",
            4.0,
        ),
    ] {
        assert_eq!(sample(&text, line), Some(want), "{line} in\n{text}");
    }
}

#[test]
fn a_real_prometheus_scrapes_the_expected_totals() {
    let upstream = crate::upstream::Upstream::start(crate::upstream::Script::default());
    let (env, d, token_file) = start_with_metrics_token("metrics-prom", "");
    // A proxied request: 1234 / 56 / 7 / 89 tokens of claude-sonnet-4 for profile 'pm'.
    d.api(
        "POST",
        "/api/profiles",
        Some(&proxy::profile(
            "pm",
            &upstream.url(),
            json!({"enabled": true}),
        )),
    )
    .expect_ok();
    proxy::wait_status(&d, "pm", "running");
    let (port, token) = proxy::endpoint(&d, "pm");
    let r = proxy::post(
        port,
        &[("x-api-key", &token)],
        &proxy::message("claude-sonnet-4", true),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // An import: one message of 100 / 50 / 10 / 1000 tokens, under '@claude'.
    let dir = env.root.join("claude-data");
    let ts = jiff::Timestamp::now().to_string();
    write_lines(
        &dir.join("projects/-w/s.jsonl"),
        &[assistant(
            "msg_P",
            Some("req_P"),
            &ts,
            false,
            [100, 50, 10, 1000],
        )],
        false,
    );
    import(&d, &dir);

    let prom = Prometheus::start(&env.root.join("prometheus"), d.port, &token_file);
    let up = wait_until(WAIT, "the clown target up in Prometheus", || {
        let t = prom.get("/api/v1/targets");
        let target = t["data"]["activeTargets"].as_array()?.first()?.clone();
        (target["health"] == "up").then_some(target)
    });
    assert_eq!(up["labels"]["job"], "clown", "{up}");

    let want_input = 1234.0 + 100.0;
    let got = wait_until(WAIT, "the token total in PromQL", || {
        let v = prom.query("sum(clown_tokens_total{kind=\"input\"})")?;
        (v == want_input).then_some(v)
    });
    assert_eq!(got, want_input, "{}", prom.log());
    for (kind, want) in [
        ("output", 56.0 + 50.0),
        ("cache_creation", 7.0 + 10.0),
        ("cache_read", 89.0 + 1000.0),
    ] {
        let q = format!("sum(clown_tokens_total{{kind=\"{kind}\"}})");
        assert_eq!(prom.query(&q), Some(want), "{q}");
    }
    let cost = prom.query("sum(clown_cost_usd_total)").unwrap();
    let want = sonnet_cost([1334, 106, 17, 1089]);
    assert!((cost - want).abs() < 1e-12, "{cost} vs {want}");
    // Per profile, agent and provider.
    let q = "sum by (profile) (clown_tokens_total{profile=\"pm\",agent=\"claude\",provider=\"anthropic\"})";
    assert_eq!(prom.query(q), Some(1234.0 + 56.0 + 7.0 + 89.0));
    let q = "clown_cost_usd_total{profile=\"@claude\",agent=\"claude\"}";
    let c = prom.query(q).unwrap();
    assert!((c - sonnet_cost([100, 50, 10, 1000])).abs() < 1e-12);
    // The proxied request, its status and timings.
    let q = "sum(clown_proxy_requests_total{profile=\"pm\",target=\"anthropic\",status=\"200\"})";
    wait_until(WAIT, "the proxy request in PromQL", || {
        (prom.query(q)? == 1.0).then_some(())
    });
    let q = "sum(clown_proxy_time_to_first_byte_seconds_count{profile=\"pm\"})";
    assert_eq!(prom.query(q), Some(1.0));
    assert_eq!(prom.query("clown_import_runs_total"), Some(1.0));
    assert_eq!(
        prom.query("clown_proxy_state{profile=\"pm\",state=\"running\"}"),
        Some(1.0)
    );
    assert!(prom.query("process_resident_memory_bytes").unwrap() > 1e6);
    // Prometheus asked for gzip, and read it: every scrape it stored was gzipped.
    assert!(
        prom.query("sum(clown_metrics_scrapes_total{encoding=\"gzip\"})")
            .unwrap()
            >= 1.0
    );
    assert_eq!(
        prom.query("sum(clown_metrics_scrapes_total{encoding=\"identity\"})"),
        Some(0.0)
    );
}

/// Every PromQL expression of the shipped dashboard names metrics the daemon serves.
#[test]
fn the_grafana_dashboard_uses_served_metrics() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/grafana/clown-dashboard.json");
    let dash: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .expect("the dashboard is well-formed JSON");
    assert!(dash["title"].is_string() && dash["uid"].is_string());
    // What a live daemon serves, with some usage and a proxy so every family has samples.
    let upstream = crate::upstream::Upstream::start(crate::upstream::Script::default());
    // With [sync] set (to a closed port), so the sync gauges are served too.
    let sync = format!(
        "[sync]\nurl = \"postgres://clown@127.0.0.1:{}/clown\"\nretry_max_ms = 1000\n",
        free_port()
    );
    let (_env, d) = proxy::start("metrics-dash", &sync);
    d.api(
        "POST",
        "/api/profiles",
        Some(&proxy::profile(
            "pd",
            &upstream.url(),
            json!({"enabled": true}),
        )),
    )
    .expect_ok();
    proxy::wait_status(&d, "pd", "running");
    let (port, token) = proxy::endpoint(&d, "pd");
    proxy::post(
        port,
        &[("x-api-key", &token)],
        &proxy::message("claude-sonnet-4", false),
    );
    let text = wait_until(WAIT, "the request's metrics", || {
        let t = scrape(&d, &d.token, None).text();
        (t.contains("clown_proxy_time_to_first_byte_seconds_bucket{profile=\"pd\"")
            && t.contains("clown_tokens_total{profile=\"pd\""))
        .then_some(t)
    });
    let served: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let mut exprs = Vec::new();
    collect_exprs(&dash, &mut exprs);
    assert!(exprs.len() >= 8, "{exprs:?}");
    let metric = regex_lite::Regex::new(r"\b(clown_[a-z0-9_]+|process_[a-z0-9_]+)").unwrap();
    for e in &exprs {
        let names: Vec<&str> = metric.find_iter(e).map(|m| m.as_str()).collect();
        assert!(!names.is_empty(), "no metric in {e}");
        for n in names {
            assert!(served.contains(&n), "{n} (in {e}) is not served");
        }
    }
}

fn collect_exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                if k == "expr"
                    && let Some(s) = v.as_str()
                {
                    out.push(s.to_string());
                }
                collect_exprs(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}
