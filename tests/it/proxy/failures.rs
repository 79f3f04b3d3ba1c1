//! When the upstream fails: fallbacks (and when there are none), timeouts, streams.

use std::time::{Duration, Instant};

use serde_json::json;

use super::*;
use crate::helpers::*;
use crate::upstream::{Script, Upstream};

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
    // The primary cools down after its 529: the second request goes straight on.
    assert_eq!(bad.messages().len(), 1);
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
    // Every member cooling after overloads: one error naming the soonest back.
    good.set_script(Script {
        status: Some(529),
        ..Default::default()
    });
    let r = post(
        port,
        &[("x-api-key", &token)],
        &message("claude-sonnet-4", false),
    );
    let msg = assert_error_json(&r, 503, "overloaded_error");
    assert!(msg.contains("the soonest back is 'primary'"), "{msg}");
    assert!(r.header("retry-after").is_some());
    // Usage names the model and provider actually used.
    let events = wait_events(&env, 3);
    assert!(
        events.iter().all(|e| e["model"] == "claude-opus-4"),
        "{events:?}"
    );
    let logs = d.get("/api/proxy/fb/logs").expect_ok().to_string();
    assert!(logs.contains("trying fallback-1"), "{logs}");
}

#[test]
fn a_fallback_can_use_another_profiles_key() {
    const OTHER: &str = "mm-key-0123456789-abcdefghij-OTHERPROFILE";
    let bad = Upstream::start(Script {
        status: Some(529),
        ..Default::default()
    });
    let good = Upstream::start(Script::default());
    let (env, d) = start("px-keyprofile", "");
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "mm", "provider_id": "minimax", "api_key": OTHER}),
    );
    let fallback = json!([{"provider_id": "minimax", "base_url": good.url(),
                           "model": "MiniMax-M2.1", "key_profile": "mm"}]);
    create_profile(
        &d,
        profile(
            "kp",
            &bad.url(),
            json!({"enabled": true, "fallbacks": fallback}),
        ),
    );
    wait_status(&d, "kp", "running");
    let (port, token) = endpoint(&d, "kp");
    let r = post(
        port,
        &[("x-api-key", &token)],
        &message("claude-sonnet-4", false),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // The first target got this profile's key; the fallback the other profile's, in its
    // provider's scheme, with its model.
    let first = bad.messages().pop().unwrap();
    assert_eq!(
        first.headers.get("x-api-key").map(String::as_str),
        Some(KEY)
    );
    let m = good.messages().pop().unwrap();
    assert_eq!(
        m.headers.get("authorization").map(String::as_str),
        Some(format!("Bearer {OTHER}").as_str())
    );
    assert!(!m.headers.contains_key("x-api-key"));
    assert_eq!(m.json()["model"], "MiniMax-M2.1");
    // Usage is recorded for the profile whose proxy served the request.
    let events = wait_events(&env, 1);
    assert_eq!(events[0]["profile"], "kp", "{events:?}");
    // Neither key shows in the proxy's status, logs or the daemon's output.
    let seen = format!(
        "{}{}",
        status(&d, "kp"),
        d.get("/api/proxy/kp/logs?lines=1000").expect_ok()
    );
    for secret in [KEY, OTHER] {
        assert!(!seen.contains(&secret[..16]) && !d.stderr().contains(&secret[..16]));
    }
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
