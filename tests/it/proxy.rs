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
    let url = spec["env"]["ANTHROPIC_BASE_URL"]
        .as_str()
        .unwrap()
        .to_string();
    let port = url.rsplit(':').next().unwrap().parse().unwrap();
    let token = spec["env"]["ANTHROPIC_API_KEY"]
        .as_str()
        .unwrap()
        .to_string();
    (port, token)
}

fn message(model: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 64, "stream": stream,
           "messages": [{"role": "user", "content": "say pong"}]})
}

fn post(port: u16, headers: &[(&str, &str)], body: &Value) -> Resp {
    let mut h = vec![
        ("Content-Type", "application/json"),
        ("anthropic-version", "2023-06-01"),
    ];
    h.extend_from_slice(headers);
    request(
        port,
        "POST",
        "/v1/messages",
        &h,
        body.to_string().as_bytes(),
    )
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
        let is_proxy = args
            .windows(3)
            .any(|w| w[0] == "proxy" && w[1] == "--profile" && w[2] == alias);
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
    for k in [
        "profile",
        "enabled",
        "port",
        "pid",
        "status",
        "restarts",
        "started_at",
    ] {
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
        let ct = if stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        assert_eq!(r.header("content-type"), Some(ct));
    }
    // The bearer form of the local token works too.
    let body = message("claude-opus-4", true);
    let r = post(
        port_b,
        &[("Authorization", &format!("Bearer {token_b}"))],
        &body,
    );
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
        assert_eq!(
            m.headers.get("anthropic-version").map(String::as_str),
            Some("2023-06-01")
        );
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
        .map(|e| {
            (
                e["profile"].as_str().unwrap().into(),
                e["model"].as_str().unwrap().into(),
            )
        })
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
    assert_eq!(
        up.messages().len(),
        before,
        "refused requests never reach upstream"
    );
    // count_tokens passes but is no usage; /health needs no token; other paths are 404.
    let r = request(
        port_a,
        "POST",
        "/v1/messages/count_tokens?beta=true",
        &[
            ("x-api-key", &token_a),
            ("content-type", "application/json"),
        ],
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

#[test]
fn the_real_key_stays_with_the_proxy() {
    let up = Upstream::start(Script::default());
    let (env, d) = start("px-keys", "");
    // An Anthropic-compatible provider that takes the key as a bearer token.
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "iso", "provider_id": "minimax", "api_key": KEY,
               "base_url": up.url(), "proxy": {"enabled": true}}),
    );
    let s = wait_status(&d, "iso", "running");
    let spec = launch_env(&d, "iso");
    let text = spec.to_string();
    assert!(
        !text.contains(KEY),
        "the launch spec carries the real key: {text}"
    );
    assert!(!text.contains(&KEY[KEY.len() - 20..]));
    let token = spec["env"]["ANTHROPIC_API_KEY"].as_str().unwrap();
    assert_eq!(token.len(), 64);
    assert_eq!(spec["env"]["ANTHROPIC_BASE_URL"], s["url"]);
    assert!(spec["env"].get("ANTHROPIC_AUTH_TOKEN").is_none());
    assert!(
        spec["unset"]
            .as_array()
            .unwrap()
            .contains(&json!("ANTHROPIC_AUTH_TOKEN"))
    );
    // `clown profiles env` prints the same.
    let out = env
        .clown()
        .args([
            "--url",
            &format!("http://127.0.0.1:{}", d.port),
            "profiles",
            "env",
            "iso",
        ])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains(token) && !printed.contains(KEY),
        "{printed}"
    );
    // No file of the profile home holds the key or a large part of it.
    let home = env.home.join(".claude-profiles/iso");
    let mut files = 0;
    let mut stack = vec![home.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files += 1;
                let t = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).to_string();
                assert!(
                    !t.contains(&KEY[KEY.len() - 12..]),
                    "{} holds the key",
                    p.display()
                );
            }
        }
    }
    assert!(files > 0);
    // Upstream gets the real key in the provider's scheme.
    let port = s["port"].as_u64().unwrap() as u16;
    let r = post(
        port,
        &[("x-api-key", token)],
        &message("MiniMax-M2.1", false),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let m = up.messages().pop().unwrap();
    assert_eq!(
        m.headers.get("authorization").map(String::as_str),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert!(!m.headers.contains_key("x-api-key"));
    // The child has the key in its environment only: not on its command line, not in
    // its log, not in the daemon's.
    let pid = s["pid"].as_u64().unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains(&KEY[..20]));
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    assert!(String::from_utf8_lossy(&environ).contains(KEY));
    let logs = d
        .get("/api/proxy/iso/logs?lines=1000")
        .expect_ok()
        .to_string();
    assert!(logs.contains("listening on 127.0.0.1"), "{logs}");
    assert!(!logs.contains(&KEY[..20]) && !d.stderr().contains(&KEY[..20]));
}

#[test]
fn fallbacks_on_529_429_and_refused_connections() {
    let bad = Upstream::start(Script {
        status: Some(529),
        ..Default::default()
    });
    let good = Upstream::start(Script {
        reply: "FROM-THE-FALLBACK".into(),
        ..Default::default()
    });
    let (env, d) = start("px-fallback", "");
    let fallback =
        json!([{"provider_id": "anthropic", "base_url": good.url(), "model": "claude-opus-4"}]);
    create_profile(
        &d,
        profile(
            "fb",
            &bad.url(),
            json!({"enabled": true, "fallbacks": fallback}),
        ),
    );
    let closed = free_port();
    create_profile(
        &d,
        profile(
            "fb-refused",
            &format!("http://127.0.0.1:{closed}"),
            json!({"enabled": true, "fallbacks": fallback}),
        ),
    );
    create_profile(
        &d,
        profile(
            "fb-none",
            &format!("http://127.0.0.1:{closed}"),
            json!({"enabled": true}),
        ),
    );
    for alias in ["fb", "fb-refused", "fb-none"] {
        wait_status(&d, alias, "running");
    }
    let (port, token) = endpoint(&d, "fb");
    for (status, stream) in [(529, false), (429, true)] {
        bad.set_script(Script {
            status: Some(status),
            ..Default::default()
        });
        let r = post(
            port,
            &[("x-api-key", &token)],
            &message("claude-sonnet-4", stream),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.text().contains("FROM-THE-FALLBACK"));
    }
    assert_eq!(bad.messages().len(), 2);
    let tried = good.messages();
    assert_eq!(tried.len(), 2);
    for m in &tried {
        assert_eq!(
            m.json()["model"],
            "claude-opus-4",
            "the fallback's model is sent"
        );
        assert_eq!(m.headers.get("x-api-key").map(String::as_str), Some(KEY));
    }
    // A refused connection falls back too.
    let (port2, token2) = endpoint(&d, "fb-refused");
    let r = post(
        port2,
        &[("x-api-key", &token2)],
        &message("claude-sonnet-4", false),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(good.messages().len(), 3);
    // With nowhere to fall back to: a 502 in Anthropic's error format.
    let (port3, token3) = endpoint(&d, "fb-none");
    let r = post(
        port3,
        &[("x-api-key", &token3)],
        &message("claude-sonnet-4", false),
    );
    let msg = assert_error_json(&r, 502, "api_error");
    assert!(msg.contains("unreachable"), "{msg}");
    // The last target's own error status goes to the agent as it is.
    good.set_script(Script {
        status: Some(529),
        ..Default::default()
    });
    let r = post(
        port,
        &[("x-api-key", &token)],
        &message("claude-sonnet-4", false),
    );
    assert_error_json(&r, 529, "overloaded_error");
    // Usage names the model and provider actually used.
    let events = wait_events(&env, 3);
    assert!(
        events.iter().all(|e| e["model"] == "claude-opus-4"),
        "{events:?}"
    );
    let logs = d.get("/api/proxy/fb/logs").expect_ok().to_string();
    assert!(logs.contains("falling back"), "{logs}");
}

#[test]
fn no_fallback_once_bytes_reached_the_agent() {
    let broken = Upstream::start(Script {
        break_after_events: Some(2),
        ..Default::default()
    });
    let good = Upstream::start(Script::default());
    let (env, d) = start("px-nofallback", "");
    let fallback = json!([{"provider_id": "anthropic", "base_url": good.url()}]);
    create_profile(
        &d,
        profile(
            "nf",
            &broken.url(),
            json!({"enabled": true, "fallbacks": fallback}),
        ),
    );
    wait_status(&d, "nf", "running");
    let (port, token) = endpoint(&d, "nf");
    let body = message("claude-sonnet-4", true);
    let (raw, _) = post_raw(port, &token, &body);
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("event: message_start") && text.contains("content_block_start"));
    assert!(!text.contains("message_stop"), "the stream was cut: {text}");
    assert_eq!(broken.messages().len(), 1);
    assert_eq!(good.messages().len(), 0, "no fallback after the first byte");
    // The input tokens of the cut stream were still used, and are recorded.
    let e = wait_events(&env, 1);
    assert_eq!(e[0]["input_tokens"], 1234);
    // Headers without a body byte: nothing reached the agent yet, so it falls back.
    broken.set_script(Script {
        break_after_events: Some(0),
        ..Default::default()
    });
    let r = post(port, &[("x-api-key", &token)], &body);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, good.expected("/v1/messages", &body).1);
    assert_eq!(good.messages().len(), 1);
}

#[test]
fn events_stream_through_and_timeouts_answer_504() {
    let up = Upstream::start(Script {
        event_gap: Duration::from_millis(1500),
        ..Default::default()
    });
    let (_env, d) = start(
        "px-timeouts",
        "response_timeout_ms = 700\nidle_timeout_ms = 3000\n",
    );
    create_profile(&d, profile("to", &up.url(), json!({"enabled": true})));
    wait_status(&d, "to", "running");
    let (port, token) = endpoint(&d, "to");
    // The first event arrives while the upstream still holds the rest back.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let body = message("claude-sonnet-4", true).to_string();
    write!(
        s,
        "POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: {token}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let t = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("message_start") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    let first = t.elapsed();
    assert!(
        first < Duration::from_millis(1000),
        "first event after {first:?}"
    );
    while !String::from_utf8_lossy(&got).contains("message_stop") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    assert!(t.elapsed() >= Duration::from_millis(1400));
    // No response head within the response timeout: 504, quickly.
    up.set_script(Script {
        delay: Duration::from_millis(3000),
        ..Default::default()
    });
    let t = Instant::now();
    let r = post(
        port,
        &[("x-api-key", &token)],
        &message("claude-sonnet-4", false),
    );
    let msg = assert_error_json(&r, 504, "api_error");
    assert!(msg.contains("timed out"), "{msg}");
    assert!(
        t.elapsed() < Duration::from_millis(2500),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn idle_streams_are_cut() {
    let up = Upstream::start(Script {
        event_gap: Duration::from_millis(4000),
        ..Default::default()
    });
    let (_env, d) = start("px-idle", "idle_timeout_ms = 800\n");
    create_profile(&d, profile("idle", &up.url(), json!({"enabled": true})));
    wait_status(&d, "idle", "running");
    let (port, token) = endpoint(&d, "idle");
    let (raw, took) = post_raw(port, &token, &message("claude-sonnet-4", true));
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.contains("message_start") && !text.contains("message_stop"),
        "{text}"
    );
    assert!(took < Duration::from_millis(3000), "cut after {took:?}");
}

#[test]
fn model_aliases_rewrite_only_the_model() {
    let up = Upstream::start(Script::default());
    let (env, d) = start("px-alias", "");
    create_profile(
        &d,
        profile(
            "al",
            &up.url(),
            json!({"enabled": true, "model_aliases": {"claude-opus-4": "claude-sonnet-4"}}),
        ),
    );
    wait_status(&d, "al", "running");
    let (port, token) = endpoint(&d, "al");
    let sent = r#"{"model":"claude-opus-4","max_tokens":5,"messages":[{"role":"user","content":"claude-opus-4"}]}"#;
    let r = request(
        port,
        "POST",
        "/v1/messages",
        &[("x-api-key", &token), ("content-type", "application/json")],
        sent.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let m = up.messages().pop().unwrap();
    assert_eq!(
        String::from_utf8(m.body).unwrap(),
        sent.replacen("claude-opus-4", "claude-sonnet-4", 1)
    );
    let e = wait_events(&env, 1);
    assert_eq!(e[0]["model"], "claude-sonnet-4");
    // Changing the settings restarts the proxy with them (same port, new mapping).
    let r = d
        .api(
            "PUT",
            "/api/profiles/al/proxy",
            Some(&json!({"enabled": true, "model_aliases": {"claude-opus-4": "claude-haiku-4"}})),
        )
        .expect_ok();
    assert_eq!(r["status"], "running", "{r}");
    assert_eq!(
        r["settings"]["model_aliases"]["claude-opus-4"],
        "claude-haiku-4"
    );
    assert_eq!(r["port"], port);
    post(
        port,
        &[("x-api-key", &token)],
        &message("claude-opus-4", false),
    );
    assert_eq!(
        up.messages().pop().unwrap().json()["model"],
        "claude-haiku-4"
    );
}

#[test]
fn killed_proxies_restart_with_growing_delays() {
    let up = Upstream::start(Script::default());
    let (_env, d) = start("px-restart", "");
    create_profile(&d, profile("kr", &up.url(), json!({"enabled": true})));
    let first = wait_status(&d, "kr", "running");
    let port = first["port"].clone();
    let mut events = crate::ws::connect(d.port, "/ws/events", &d.token);
    let mut pid = first["pid"].as_i64().unwrap() as i32;
    let mut delays = Vec::new();
    for n in 1..=3 {
        let killed = Instant::now();
        send_signal(pid, SIGKILL);
        let s = wait_until(WAIT, "a new pid", || {
            let s = status(&d, "kr");
            (s["status"] == "running" && s["pid"] != json!(pid)).then_some(s)
        });
        assert_eq!(s["restarts"], n, "{s}");
        assert_eq!(s["last_exit_code"], 128 + SIGKILL, "{s}");
        assert_eq!(s["port"], port, "the URL stays the same across restarts");
        let frames = events.read_text_frames(Duration::from_millis(300));
        let delay = frames
            .iter()
            .rev()
            .filter_map(|f| serde_json::from_str::<Value>(f).ok())
            .filter(|e| e["type"] == "proxy_state_changed" && e["data"]["status"] == "backoff")
            .find_map(|e| e["data"]["backoff_ms"].as_u64())
            .unwrap_or_else(|| panic!("no backoff event in {frames:?}"));
        assert!(
            killed.elapsed() >= Duration::from_millis(delay),
            "restarted before its delay"
        );
        delays.push(delay);
        pid = s["pid"].as_i64().unwrap() as i32;
    }
    assert!(
        delays.windows(2).all(|w| w[1] > w[0]),
        "delays grow: {delays:?}"
    );
    assert!(delays[0] <= 200 && delays[0] >= 150, "{delays:?}");
    // Still serving on the same URL.
    let (p, token) = endpoint(&d, "kr");
    assert_eq!(json!(p), port);
    assert_eq!(
        post(
            p,
            &[("x-api-key", &token)],
            &message("claude-sonnet-4", false)
        )
        .status,
        200
    );
    let logs = d.get("/api/proxy/kr/logs?lines=200").expect_ok();
    let logs = logs.to_string();
    assert!(
        logs.contains("exited with code 137") && logs.contains("restarting in"),
        "{logs}"
    );
}

#[test]
fn a_proxy_that_always_crashes_ends_failed() {
    // The profile's fixed port is taken: every start of the child fails to listen.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (_env, d) = start("px-failed", "");
    let mut events = crate::ws::connect(d.port, "/ws/events", &d.token);
    create_profile(
        &d,
        profile(
            "crash",
            "http://127.0.0.1:9",
            json!({"enabled": true, "port": port}),
        ),
    );
    let s = wait_status(&d, "crash", "failed");
    assert_eq!(s["restarts"], 4, "{s}");
    assert_eq!(s["pid"], Value::Null);
    let err = s["last_error"].as_str().unwrap();
    assert!(
        err.contains("cannot listen") && err.contains("gave up"),
        "{err}"
    );
    let statuses: Vec<String> = events
        .read_text_frames(Duration::from_millis(300))
        .iter()
        .filter_map(|f| serde_json::from_str::<Value>(f).ok())
        .filter(|e| e["type"] == "proxy_state_changed" && e["data"]["profile"] == "crash")
        .map(|e| e["data"]["status"].as_str().unwrap().to_string())
        .collect();
    for st in ["starting", "backoff", "failed"] {
        assert!(statuses.contains(&st.to_string()), "{st} in {statuses:?}");
    }
    assert!(proxy_pids("crash").is_empty());
    // It stays down; starting it by hand once the port is free brings it up.
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(status(&d, "crash")["status"], "failed");
    drop(taken);
    let s = d.api("POST", "/api/proxy/crash/start", None).expect_ok();
    assert_eq!(s["status"], "running", "{s}");
    assert_eq!(s["restarts"], 0);
    assert_eq!(s["port"], port);
    // A launch refuses to hand out the key when the proxy cannot run.
    d.api("POST", "/api/proxy/crash/stop", None).expect_ok();
    let hold = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let r = d.api("POST", "/api/profiles/crash/launch", None);
    let msg = r.expect_error(409);
    assert!(msg.contains("proxy") && !r.text().contains(KEY), "{msg}");
    drop(hold);
}

#[test]
fn stop_and_daemon_shutdown_leave_no_proxy_process() {
    let up = Upstream::start(Script::default());
    let (env, mut d) = start("px-stop", "");
    for alias in ["st-1", "st-2"] {
        create_profile(&d, profile(alias, &up.url(), json!({"enabled": true})));
    }
    let s1 = wait_status(&d, "st-1", "running");
    wait_status(&d, "st-2", "running");
    assert_eq!(d.get("/api/daemon/status").expect_ok()["active_proxies"], 2);
    assert_eq!(proxy_pids("st-1"), vec![s1["pid"].as_i64().unwrap() as i32]);
    let stopped = d.api("POST", "/api/proxy/st-1/stop", None).expect_ok();
    assert_eq!(stopped["status"], "stopped");
    assert_eq!(stopped["pid"], Value::Null);
    assert!(proxy_pids("st-1").is_empty(), "stop leaves no process");
    let port1 = s1["port"].as_u64().unwrap() as u16;
    assert!(std::net::TcpListener::bind(("127.0.0.1", port1)).is_ok());
    // Stopping again is harmless; the list shows both.
    d.api("POST", "/api/proxy/st-1/stop", None).expect_ok();
    let list = d.get("/api/proxy/status").expect_ok();
    let names: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["profile"].clone())
        .collect();
    assert_eq!(names, [json!("st-1"), json!("st-2")]);
    assert_eq!(d.get("/api/daemon/status").expect_ok()["active_proxies"], 1);

    // A daemon restart brings back every enabled proxy; SIGTERM takes them all down.
    d.signal(SIGTERM);
    assert!(d.wait_exit(WAIT).success());
    assert!(proxy_pids("st-2").is_empty(), "SIGTERM leaves no proxy");
    let mut d = Daemon::start(&env);
    wait_status(&d, "st-1", "running");
    let s2 = wait_status(&d, "st-2", "running");
    assert_eq!(proxy_pids("st-2").len(), 1);
    d.signal(SIGTERM);
    assert!(d.wait_exit(WAIT).success());
    for alias in ["st-1", "st-2"] {
        assert!(proxy_pids(alias).is_empty(), "{alias} left behind");
    }
    // Usage reported before the stop was flushed (none here), and the port is free.
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", s2["port"].as_u64().unwrap() as u16)).is_ok()
    );

    // Even a daemon killed with SIGKILL takes its proxies with it.
    let mut d = Daemon::start(&env);
    wait_status(&d, "st-2", "running");
    d.signal(SIGKILL);
    d.wait_exit(WAIT);
    wait_until(WAIT, "orphaned proxies to exit", || {
        (proxy_pids("st-1").is_empty() && proxy_pids("st-2").is_empty()).then_some(())
    });
}

#[test]
fn proxy_api_errors_settings_and_delete() {
    let up = Upstream::start(Script::default());
    let (_env, d) = start("px-api", "");
    create_profile(&d, profile("api", &up.url(), json!({})));
    create_profile(
        &d,
        json!({"agent_id": "codex", "alias": "cx", "provider_id": "openai", "api_key": "sk-openai-0123456789abcdef"}),
    );
    // Unknown profiles.
    for (m, path) in [
        ("GET", "/api/proxy/status/ghost"),
        ("POST", "/api/proxy/ghost/start"),
        ("POST", "/api/proxy/ghost/stop"),
        ("GET", "/api/proxy/ghost/logs"),
    ] {
        assert_eq!(
            d.api(m, path, None).expect_error(404),
            "Profile 'ghost' not found"
        );
    }
    d.api(
        "PUT",
        "/api/profiles/ghost/proxy",
        Some(&json!({"enabled": true})),
    )
    .expect_error(404);
    // Disabled and never run: listed nowhere, status stopped.
    assert_eq!(d.get("/api/proxy/status").expect_ok(), json!([]));
    let s = status(&d, "api");
    assert_eq!(
        (&s["status"], &s["enabled"], &s["pid"]),
        (&json!("stopped"), &json!(false), &Value::Null)
    );
    // Without the proxy, a launch hands the agent the real endpoint.
    assert_eq!(launch_env(&d, "api")["env"]["ANTHROPIC_BASE_URL"], up.url());
    // Invalid settings.
    let bad = |body: Value| {
        d.api("PUT", "/api/profiles/api/proxy", Some(&body))
            .expect_error(400)
    };
    assert!(bad(json!({"enabled": true, "colour": 1})).contains("colour"));
    assert!(bad(json!({"port": 0})).contains("port"));
    assert!(bad(json!({"fallbacks": [{"provider_id": "nope"}]})).contains("unknown provider"));
    assert!(bad(json!({"fallbacks": [{"provider_id": "openai"}]})).contains("does not speak"));
    assert!(
        bad(json!({"fallbacks": [{"provider_id": "minimax", "key_profile": "ghost"}]}))
            .contains("'ghost' not found")
    );
    // A started proxy runs without `enabled`; a second start is a conflict.
    let s = d.api("POST", "/api/proxy/api/start", None).expect_ok();
    assert_eq!(
        (&s["status"], &s["enabled"]),
        (&json!("running"), &json!(false))
    );
    let msg = d
        .api("POST", "/api/proxy/api/start", None)
        .expect_error(409);
    assert!(msg.contains("already running on port"), "{msg}");
    // A running proxy is used by launches even when not enabled.
    assert_eq!(launch_env(&d, "api")["env"]["ANTHROPIC_BASE_URL"], s["url"]);
    // Enabling with a fixed port moves it there.
    let fixed = free_port();
    let s = d
        .api(
            "PUT",
            "/api/profiles/api/proxy",
            Some(&json!({"enabled": true, "port": fixed})),
        )
        .expect_ok();
    assert_eq!(
        (&s["status"], &s["port"], &s["enabled"]),
        (&json!("running"), &json!(fixed), &json!(true))
    );
    assert_eq!(
        d.get("/api/profiles/api").expect_ok()["proxy"]["port"],
        fixed
    );
    // Disabling stops it.
    let s = d
        .api(
            "PUT",
            "/api/profiles/api/proxy",
            Some(&json!({"enabled": false})),
        )
        .expect_ok();
    assert_eq!(s["status"], "stopped");
    assert!(proxy_pids("api").is_empty());
    // The log through the API: the last N lines.
    let lines = d.get("/api/proxy/api/logs?lines=3").expect_ok();
    assert_eq!(lines.as_array().unwrap().len(), 3, "{lines}");
    assert!(lines.to_string().contains("supervisor: stopped"), "{lines}");
    d.get("/api/proxy/api/logs?lines=x").expect_error(400);
    // A Codex profile's launch goes to the proxy's /v1 with the local token.
    d.api(
        "PUT",
        "/api/profiles/cx/proxy",
        Some(&json!({"enabled": true})),
    )
    .expect_ok();
    let spec = launch_env(&d, "cx");
    let token = spec["env"]["OPENAI_API_KEY"].as_str().unwrap();
    assert_ne!(token, "sk-openai-0123456789abcdef");
    let config = std::fs::read_to_string(
        std::path::Path::new(spec["home"].as_str().unwrap()).join("config.toml"),
    )
    .unwrap();
    let url = status(&d, "cx")["url"].as_str().unwrap().to_string();
    assert!(
        config.contains(&format!("base_url = \"{url}/v1\"")),
        "{config}"
    );
    // Deleting a profile whose proxy runs needs force, which stops it.
    let msg = d.api("DELETE", "/api/profiles/cx", None).expect_error(409);
    assert!(msg.contains("proxy"), "{msg}");
    d.api("DELETE", "/api/profiles/cx?force=true", None)
        .expect_ok();
    assert!(proxy_pids("cx").is_empty());
    assert_eq!(d.get("/api/daemon/status").expect_ok()["active_proxies"], 0);
}

#[test]
fn cli_proxy_commands() {
    let up = Upstream::start(Script::default());
    let (_env, d) = start("px-cli", "");
    create_profile(&d, profile("cli", &up.url(), json!({})));
    let url = format!("http://127.0.0.1:{}", d.port);
    let clown = |args: &[&str]| {
        let out = _env
            .clown()
            .arg("--url")
            .arg(&url)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, out, _) = clown(&["proxy", "status"]);
    assert!(ok && out.contains("no proxies"), "{out}");
    let (ok, out, err) = clown(&["proxy", "start", "cli"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("running") && out.contains("http://127.0.0.1:"),
        "{out}"
    );
    let (ok, _, err) = clown(&["proxy", "start", "cli"]);
    assert!(
        !ok && err.contains("already running") && err.contains("409"),
        "{err}"
    );
    let (ok, out, _) = clown(&["proxy", "status"]);
    assert!(ok, "{out}");
    assert!(out.lines().next().unwrap().starts_with("PROFILE"), "{out}");
    assert!(out.contains("cli") && out.contains("running"), "{out}");
    let (ok, out, _) = clown(&["proxy", "status", "cli", "--json"]);
    assert!(ok);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["status"],
        "running"
    );
    let (ok, out, _) = clown(&["proxy", "logs", "cli", "-n", "2"]);
    assert!(ok && out.lines().count() == 2, "{out}");
    let (ok, out, _) = clown(&["proxy", "stop", "cli"]);
    assert!(ok && out.contains("stopped"), "{out}");
    let (ok, out, err) = clown(&["proxy", "enable", "cli"]);
    assert!(ok && out.contains("running"), "{out}{err}");
    assert_eq!(
        d.get("/api/profiles/cli").expect_ok()["proxy"]["enabled"],
        true
    );
    let (ok, out, _) = clown(&["proxy", "disable", "cli"]);
    assert!(ok && out.contains("stopped"), "{out}");
    let (ok, _, err) = clown(&["proxy", "start", "ghost"]);
    assert!(!ok && err.contains("Profile 'ghost' not found"), "{err}");
    // The child form refuses to run without the daemon's plan.
    let (ok, _, err) = clown(&["proxy", "--profile", "cli", "--port", "1"]);
    assert!(!ok && err.contains("clown proxy start cli"), "{err}");
}

#[test]
fn real_claude_code_goes_through_the_proxy() {
    let up = Upstream::start(Script {
        reply: "PONG-THROUGH-THE-PROXY".into(),
        // Slow enough to look at Claude Code's environment while it waits.
        delay: Duration::from_millis(1500),
        ..Default::default()
    });
    let (env, d) = start("px-claude", "");
    create_profile(&d, profile("work", &up.url(), json!({"enabled": true})));
    let s = wait_status(&d, "work", "running");
    let project = env.root.join("project");
    std::fs::create_dir_all(&project).unwrap();
    let child = env
        .clown()
        .args(["--url", &format!("http://127.0.0.1:{}", d.port)])
        .args(["profiles", "run", "work", "--", "-p", "say pong"])
        .env("PATH", path_with_deps())
        .current_dir(&project)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Claude Code's own environment, read from /proc while it runs.
    let home = env.home.join(".claude-profiles/work").display().to_string();
    let marker = format!("CLAUDE_CONFIG_DIR={home}");
    let environ = wait_until(WAIT, "Claude Code to run", || {
        std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
            let env = std::fs::read(e.path().join("environ")).ok()?;
            let vars: Vec<String> = env
                .split(|b| *b == 0)
                .map(|v| String::from_utf8_lossy(v).to_string())
                .collect();
            vars.contains(&marker).then_some(vars)
        })
    });
    assert!(
        !environ.iter().any(|v| v.contains(KEY)),
        "the key reached Claude Code"
    );
    assert!(environ.contains(&format!(
        "ANTHROPIC_BASE_URL={}",
        s["url"].as_str().unwrap()
    )));
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("PONG-THROUGH-THE-PROXY"), "{stdout}");
    let messages = up.messages();
    assert!(!messages.is_empty());
    for m in &messages {
        assert_eq!(m.headers.get("x-api-key").map(String::as_str), Some(KEY));
        assert!(m.path.starts_with("/v1/messages"), "{}", m.path);
    }
    // Every message request is one usage event of this profile, recorded by the proxy.
    let events = wait_events(&env, messages.len());
    assert_eq!(events.len(), messages.len(), "{events:?}");
    for e in &events {
        assert_eq!(
            (&e["profile"], &e["source"]),
            (&json!("work"), &json!("proxy"))
        );
        assert_eq!(e["input_tokens"], 1234);
        assert_eq!(e["output_tokens"], 56);
    }
    assert!(
        events.iter().any(|e| e["model"] == "claude-sonnet-4"),
        "{events:?}"
    );
}
