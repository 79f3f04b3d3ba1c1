//! What goes through a proxy: the bytes, the keys, the usage, the model aliases.
use serde_json::json;

use super::*;
use crate::helpers::*;
use crate::upstream::{Script, Upstream};

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
    let events_now = settled_events(&env, &[(port_a, &token_a), (port_b, &token_b)]);
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
        // Stored under the hash of its dedupe key (`proxy:<process>:<n>`): a retried
        // report is recognised.
        assert!(e["id"].as_i64().is_some(), "{e}");
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
    // count_tokens, /health and refused requests record nothing.
    assert_eq!(settled_events(&env, &[(port_a, &token_a)]).len(), 3);
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
        .cli(&d)
        .args(["profiles", "env", "iso"])
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
    // The child got the key through a pipe: it is not on its command line, not in its
    // environment, not in its log, not in the daemon's.
    let pid = s["pid"].as_u64().unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains(&KEY[..20]));
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    assert!(!String::from_utf8_lossy(&environ).contains(&KEY[..20]));
    let logs = d
        .get("/api/proxy/iso/logs?lines=1000")
        .expect_ok()
        .to_string();
    assert!(logs.contains("listening on 127.0.0.1"), "{logs}");
    assert!(!logs.contains(&KEY[..20]) && !d.stderr().contains(&KEY[..20]));
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
