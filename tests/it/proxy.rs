//! The per-profile proxy: byte-for-byte pass-through, key isolation, usage, fallbacks,
//! timeouts, model aliases, supervision (restarts, failure, no leftover process), the
//! API and CLI, and the real Claude Code going through it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::*;
use crate::upstream::{Script, Upstream};

const KEY: &str = "sk-ant-api03-PROXYSECRET-0123456789-abcdefghijklmnop-QRST";

static RANGE: AtomicU16 = AtomicU16::new(0);

/// Config for a proxy test: its own port range (tests run in parallel) and short timers.
fn config(extra: &str) -> String {
    let slot = RANGE.fetch_add(1, Ordering::SeqCst);
    let base = 30_000 + (std::process::id() as u16 % 100) * 200 + slot * 10;
    format!(
        "[proxy]\nport_range = [{base}, {}]\nrestart_initial_ms = 200\nrestart_max_ms = 3000\nmax_restarts = 4\nrestart_window_secs = 60\nstop_grace_ms = 2000\n{extra}",
        base + 9
    )
}

fn start(name: &str, extra: &str) -> (TestEnv, Daemon) {
    let env = TestEnv::new(name);
    env.write_config(&config(extra));
    let d = Daemon::start(&env);
    (env, d)
}

fn profile(alias: &str, base_url: &str, proxy: Value) -> Value {
    json!({
        "agent_id": "claude",
        "alias": alias,
        "provider_id": "anthropic",
        "model": "claude-sonnet-4",
        "api_key": KEY,
        "base_url": base_url,
        "proxy": proxy,
    })
}

fn status(d: &Daemon, alias: &str) -> Value {
    d.get(&format!("/api/proxy/status/{alias}")).expect_ok()
}

fn wait_status(d: &Daemon, alias: &str, want: &str) -> Value {
    wait_until(WAIT, &format!("proxy '{alias}' {want}"), || {
        let s = status(d, alias);
        (s["status"] == want).then_some(s)
    })
}

/// The launch environment of `alias` (what the agent gets).
fn launch_env(d: &Daemon, alias: &str) -> Value {
    d.api("POST", &format!("/api/profiles/{alias}/launch"), None)
        .expect_ok()
}

/// The proxy's port and the local token, as a launch hands them to the agent.
fn endpoint(d: &Daemon, alias: &str) -> (u16, String) {
    let spec = launch_env(d, alias);
    let url = spec["env"]["ANTHROPIC_BASE_URL"].as_str().unwrap().to_string();
    let port = url.rsplit(':').next().unwrap().parse().unwrap();
    let token = spec["env"]["ANTHROPIC_API_KEY"].as_str().unwrap().to_string();
    (port, token)
}

fn message(model: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 64, "stream": stream,
           "messages": [{"role": "user", "content": "say pong"}]})
}

fn post(port: u16, headers: &[(&str, &str)], body: &Value) -> Resp {
    let mut h = vec![("Content-Type", "application/json"), ("anthropic-version", "2023-06-01")];
    h.extend_from_slice(headers);
    request(port, "POST", "/v1/messages", &h, body.to_string().as_bytes())
}

/// Sends a request and reads whatever comes back until the connection closes.
fn post_raw(port: u16, token: &str, body: &Value) -> (Vec<u8>, Duration) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let body = body.to_string();
    let req = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let t = Instant::now();
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    (out, t.elapsed())
}

/// Usage events in the database, as JSON objects.
pub fn usage_events(env: &TestEnv) -> Vec<Value> {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3,sys,json\nc=sqlite3.connect(sys.argv[1])\nc.row_factory=sqlite3.Row\nfor r in c.execute('select * from usage_events order by id'): print(json.dumps(dict(r)))\n",
        )
        .arg(env.data_dir().join("clown.db"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn wait_events(env: &TestEnv, n: usize) -> Vec<Value> {
    wait_until(WAIT, &format!("{n} usage events"), || {
        let e = usage_events(env);
        (e.len() >= n).then_some(e)
    })
}

/// Pids of `clown proxy` children serving `alias`, from /proc.
fn proxy_pids(alias: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmd
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).to_string())
            .collect();
        let is_proxy = args.windows(3).any(|w| w[0] == "proxy" && w[1] == "--profile" && w[2] == alias);
        // A zombie has an empty cmdline and does not count.
        if is_proxy && args.first().is_some_and(|a| a.ends_with("clown")) {
            pids.push(pid);
        }
    }
    pids
}

fn assert_error_json(r: &Resp, status: u16, kind: &str) -> String {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], kind, "{v}");
    v["error"]["message"].as_str().unwrap().to_string()
}

#[test]
fn passthrough_is_byte_for_byte_and_usage_is_exact() {
    let up = Upstream::start(Script::default());
    let (env, d) = start("px-pass", "");
    create_profile(&d, profile("pt-a", &up.url(), json!({"enabled": true})));
    let mut b = profile("pt-b", &up.url(), json!({"enabled": true}));
    b["model"] = json!("claude-opus-4");
    create_profile(&d, b);
    let a = wait_status(&d, "pt-a", "running");
    for k in ["profile", "enabled", "port", "pid", "status", "restarts", "started_at"] {
        assert!(a.get(k).is_some(), "{k} in {a}");
    }
    assert_eq!(a["enabled"], true);
    assert_eq!(a["restarts"], 0);
    wait_status(&d, "pt-b", "running");
    let (port_a, token_a) = endpoint(&d, "pt-a");
    let (port_b, token_b) = endpoint(&d, "pt-b");
    assert_ne!(port_a, port_b);
    assert_ne!(token_a, token_b);
    assert_eq!(a["port"], port_a);

    // Non-streaming and streaming: exactly the upstream's bytes.
    for stream in [false, true] {
        let body = message("claude-sonnet-4", stream);
        let r = post(port_a, &[("x-api-key", &token_a)], &body);
        assert_eq!(r.status, 200, "{}", r.text());
        let (_, want) = up.expected("/v1/messages", &body);
        assert_eq!(r.body, want, "stream={stream}");
        assert_eq!(r.header("request-id"), Some("req_test"));
        let ct = if stream { "text/event-stream" } else { "application/json" };
        assert_eq!(r.header("content-type"), Some(ct));
    }
    // The bearer form of the local token works too.
    let body = message("claude-opus-4", true);
    let r = post(port_b, &[("Authorization", &format!("Bearer {token_b}"))], &body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, up.expected("/v1/messages", &body).1);

    // The upstream saw the request bodies unchanged and the real key, never the token.
    let seen = up.messages();
    assert_eq!(seen.len(), 3);
    for (m, sent) in seen.iter().zip([
        message("claude-sonnet-4", false),
        message("claude-sonnet-4", true),
        message("claude-opus-4", true),
    ]) {
        assert_eq!(m.path, "/v1/messages");
        assert_eq!(m.body, sent.to_string().into_bytes());
        assert_eq!(m.headers.get("x-api-key").map(String::as_str), Some(KEY));
        assert!(!m.headers.contains_key("authorization"), "{:?}", m.headers);
        assert_eq!(m.headers.get("anthropic-version").map(String::as_str), Some("2023-06-01"));
        let all = format!("{:?}", m.headers);
        assert!(!all.contains(&token_a) && !all.contains(&token_b));
    }

    // Usage: one event per request, exact, per profile and model.
    let events = wait_events(&env, 3);
    std::thread::sleep(Duration::from_millis(300));
    let events_now = usage_events(&env);
    assert_eq!(events_now.len(), 3, "{events_now:?}");
    let mut by: Vec<(String, String)> = events
        .iter()
        .map(|e| (e["profile"].as_str().unwrap().into(), e["model"].as_str().unwrap().into()))
        .collect();
    by.sort();
    assert_eq!(
        by,
        [
            ("pt-a".to_string(), "claude-sonnet-4".to_string()),
            ("pt-a".into(), "claude-sonnet-4".into()),
            ("pt-b".into(), "claude-opus-4".into())
        ]
    );
    for e in &events {
        assert_eq!(e["source"], "proxy");
        assert_eq!(e["provider"], "anthropic");
        assert_eq!(e["agent"], "claude");
        assert_eq!(
            (
                &e["input_tokens"],
                &e["output_tokens"],
                &e["cache_creation_input_tokens"],
                &e["cache_read_input_tokens"]
            ),
            (&json!(1234), &json!(56), &json!(7), &json!(89)),
            "{e}"
        );
        assert!(e["dedupe_key"].as_str().unwrap().starts_with("proxy:"));
    }

    // Refused: no token, a wrong one, and the real key itself.
    let before = up.messages().len();
    let body = message("claude-sonnet-4", false);
    for headers in [
        vec![],
        vec![("x-api-key", "nope")],
        vec![("x-api-key", KEY)],
        vec![("Authorization", "Bearer nope")],
    ] {
        let r = post(port_a, &headers, &body);
        assert_error_json(&r, 401, "authentication_error");
    }
    assert_eq!(up.messages().len(), before, "refused requests never reach upstream");
    // count_tokens passes but is no usage; /health needs no token; other paths are 404.
    let r = request(
        port_a,
        "POST",
        "/v1/messages/count_tokens?beta=true",
        &[("x-api-key", &token_a), ("content-type", "application/json")],
        body.to_string().as_bytes(),
    );
    assert_eq!(r.json(), json!({"input_tokens": 1234}));
    assert_eq!(
        up.requests.lock().unwrap().last().unwrap().path,
        "/v1/messages/count_tokens?beta=true"
    );
    let h = request(port_a, "GET", "/health", &[], b"");
    assert_eq!(h.status, 200);
    assert_eq!(h.json()["profile"], "pt-a");
    assert_error_json(
        &request(port_a, "GET", "/admin", &[("x-api-key", &token_a)], b""),
        404,
        "not_found_error",
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(usage_events(&env).len(), 3);
}
