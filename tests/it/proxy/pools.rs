//! Key pools: several keys per profile (each maybe on its own URL), failover on 429
//! before the answer starts with `Retry-After` as the cool-down, a key over its window's
//! threshold skipped for new conversations, conversations kept on their key, one clear
//! error when every key is cooling, the pool's state in the status, events and CLI, and
//! never a key in a response, log or event.

use std::io::Write;
use std::process::Stdio;

use serde_json::{Value, json};

use super::routing::inspected;
use super::*;
use crate::helpers::*;
use crate::upstream::{Script, Upstream};

const K2: &str = "sk-ant-api03-SECONDKEY-0123456789-abcdefghijklmnop-K2K2";
const K3: &str = "sk-ant-api03-THIRDKEYY-0123456789-abcdefghijklmnop-K3K3";

fn limited(retry_after: &str) -> Script {
    Script {
        status: Some(429),
        headers: vec![("retry-after".into(), retry_after.into())],
        ..Default::default()
    }
}

fn in_conversation(session: &str) -> Value {
    let mut m = message("claude-sonnet-4", false);
    m["metadata"] = json!({"user_id": format!("user_abc_account_def_session_{session}")});
    m
}

fn secs(rfc3339: &str) -> i64 {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_second()
}

fn member<'a>(status: &'a Value, key: &str) -> &'a Value {
    status["pool"]["members"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["key"] == key))
        .unwrap_or_else(|| panic!("no member {key} in {status}"))
}

#[test]
fn a_pool_fails_over_cools_down_skips_and_sticks() {
    let u1 = Upstream::start(limited("120"));
    let reset = jiff::Timestamp::now().as_second() + 3600;
    let u2 = Upstream::start(Script {
        reply: "FROM-K2".into(),
        headers: vec![
            (
                "anthropic-ratelimit-unified-5h-utilization".into(),
                "0.97".into(),
            ),
            (
                "anthropic-ratelimit-unified-5h-reset".into(),
                reset.to_string(),
            ),
        ],
        ..Default::default()
    });
    let u3 = Upstream::start(Script {
        reply: "FROM-K3".into(),
        ..Default::default()
    });
    let (env, d) = start("px-pool", "");
    let mut events = crate::ws::connect(d.port, "/ws/events", &d.token);
    create_profile(&d, profile("pl", &u1.url(), json!({"enabled": true})));
    wait_status(&d, "pl", "running");
    // One key: no pool in the status.
    assert!(status(&d, "pl")["pool"].is_null());

    // k2 through the CLI, its key on standard input; k3 through the API.
    let mut child = env
        .cli(&d)
        .args(["proxy", "key-add", "pl", "k2", "--base-url", &u2.url()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{K2}").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("key 'k2' (…K2K2) added"), "{text}");
    let k3 = json!({"label": "k3", "secret": K3, "base_url": u3.url(), "priority": 5});
    let added = d
        .api("POST", "/api/profiles/pl/keys", Some(&k3))
        .expect_ok();
    assert_eq!(added["hint"], "…K3K3");
    // Bad keys change nothing.
    d.api("POST", "/api/profiles/pl/keys", Some(&k3))
        .expect_error(409);
    for (body, want) in [
        (json!({"label": "primary", "secret": K3}), "not 'primary'"),
        (json!({"label": "x", "secret": " "}), "secret"),
        (
            json!({"label": "x", "secret": K3, "kind": "token", "provider_id": "deepseek"}),
            "Anthropic's API only",
        ),
        (
            json!({"label": "x", "secret": K3, "provider_id": "openai-nope"}),
            "unknown provider",
        ),
        (
            json!({"label": "x", "secret": K3, "base_url": "ftp://x"}),
            "base_url",
        ),
    ] {
        let msg = d
            .api("POST", "/api/profiles/pl/keys", Some(&body))
            .expect_error(400);
        assert!(msg.contains(want), "{want}: {msg}");
    }
    d.api("POST", "/api/profiles/nope/keys", Some(&k3))
        .expect_error(404);
    let keys = d.get("/api/profiles/pl/keys").expect_ok();
    let labels: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["k2", "k3"]);
    let (ok, out) = {
        let o = env.cli(&d).args(["proxy", "keys", "pl"]).output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).to_string(),
        )
    };
    assert!(ok && out.contains("k2") && out.contains("…K3K3"), "{out}");
    wait_status(&d, "pl", "running");
    let (port, token) = endpoint(&d, "pl");

    // A: the primary answers 429 (retry-after 120): k2 answers, nothing failed.
    let r = post(port, &[("x-api-key", &token)], &in_conversation("X"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("FROM-K2"));
    assert_eq!(u1.messages().len(), 1);
    assert_eq!(
        u2.messages()[0]
            .headers
            .get("x-api-key")
            .map(String::as_str),
        Some(K2)
    );
    // The pool's state: the primary cooling until its Retry-After, k2 over its window's
    // threshold (97% ≥ 95%) until the window's reset, k3 ready.
    let s = wait_until(WAIT, "the pool's state", || {
        let s = status(&d, "pl");
        (s["pool"]["members"]
            .as_array()
            .is_some_and(|m| m.len() == 3)
            && member(&s, "k2")["state"] == "skipped")
            .then_some(s)
    });
    let primary = member(&s, "primary");
    assert_eq!(primary["state"], "cooling", "{s}");
    assert!(
        primary["reason"]
            .as_str()
            .unwrap()
            .contains("retry-after 120 s"),
        "{s}"
    );
    let until = secs(primary["until"].as_str().unwrap());
    let left = until - jiff::Timestamp::now().as_second();
    assert!((100..=121).contains(&left), "{left} s left: {s}");
    let k2 = member(&s, "k2");
    assert!(
        k2["reason"].as_str().unwrap().contains("5h window at 97%"),
        "{s}"
    );
    assert_eq!(secs(k2["until"].as_str().unwrap()), reset);
    assert_eq!(member(&s, "k3")["state"], "ready");

    // B: the same conversation stays on k2, skipped or not; C: a new one goes to k3.
    let r = post(port, &[("x-api-key", &token)], &in_conversation("X"));
    assert!(r.text().contains("FROM-K2"), "{}", r.text());
    let r = post(port, &[("x-api-key", &token)], &in_conversation("Y"));
    assert!(r.text().contains("FROM-K3"), "{}", r.text());
    assert_eq!(u1.messages().len(), 1, "a cooling key is not tried");
    assert_eq!(
        u3.messages()[0]
            .headers
            .get("x-api-key")
            .map(String::as_str),
        Some(K3)
    );

    // D: every key refuses: one error naming the soonest back.
    u2.set_script(limited("50"));
    u3.set_script(limited("40"));
    let r = post(port, &[("x-api-key", &token)], &in_conversation("Y"));
    let msg = assert_error_json(&r, 429, "rate_limit_error");
    assert!(
        msg.contains("every key of profile 'pl' is cooling down after rate limits")
            && msg.contains("the soonest back is 'k3'"),
        "{msg}"
    );
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((30..=40).contains(&retry), "{retry}");
    // E: still all cooling: the error at once, no key tried.
    let tried = u2.messages().len() + u3.messages().len();
    let r = post(port, &[("x-api-key", &token)], &in_conversation("Z"));
    assert_error_json(&r, 429, "rate_limit_error");
    assert_eq!(u2.messages().len() + u3.messages().len(), tried);

    // The inspector: who answered each, what failed before, stickiness, usage per key.
    let list = inspected(&d, "pl", 5);
    let key = |i: usize| list[i]["key"].clone();
    assert_eq!(
        (key(0), key(1), key(2)),
        (json!("k2"), json!("k2"), json!("k3")),
        "{list:?}"
    );
    assert_eq!(list[0]["key_hint"], "…K2K2");
    assert_eq!(list[0]["attempts"][0]["key"], "primary");
    assert_eq!(list[0]["attempts"][0]["status"], 429);
    assert_eq!(
        (list[0]["sticky"].clone(), list[1]["sticky"].clone()),
        (json!(false), json!(true))
    );
    assert_eq!(list[3]["status"], 429);
    assert_eq!(
        list[3]["attempts"].as_array().unwrap().len(),
        2,
        "{:?}",
        list[3]
    );
    assert!(
        list[3]["error"]
            .as_str()
            .unwrap()
            .contains("soonest back is 'k3'")
    );
    // Usage is recorded per key (label and hint). Events of the same second come in no
    // set order while nothing pushes to a shared database (they carry no arrival
    // number): compared sorted.
    let mut used: Vec<(Value, Value)> = wait_events(&env, 3)
        .iter()
        .map(|e| (e["key_label"].clone(), e["key_hint"].clone()))
        .collect();
    used.sort_by_key(|(l, h)| (l.to_string(), h.to_string()));
    assert_eq!(
        used,
        [
            (json!("k2"), json!("…K2K2")),
            (json!("k2"), json!("…K2K2")),
            (json!("k3"), json!("…K3K3"))
        ]
    );
    let s = status(&d, "pl");
    assert_eq!(member(&s, "k2")["requests"], 2, "{s}");
    assert_eq!(member(&s, "k2")["input_tokens"], 2 * 1234, "{s}");
    assert_eq!(member(&s, "k3")["failures"], 1, "{s}");
    let (ok, out) = {
        let o = env
            .cli(&d)
            .args(["proxy", "status", "pl"])
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).to_string(),
        )
    };
    assert!(
        ok && out.contains("pool:") && out.contains("primary") && out.contains("cooling until"),
        "{out}"
    );
    let frames = events.read_text_frames_until("proxy_pool_changed", |f| {
        f.iter()
            .any(|t| t.contains("\"proxy_pool_changed\"") && t.contains("\"cooling\""))
    });

    // Keys are secrets: in no response, log or event.
    let mut seen = vec![
        d.get("/api/profiles/pl/keys").text(),
        d.get("/api/proxy/status").text(),
        d.get("/api/proxy/pl/requests?bodies=true").text(),
        d.get("/api/proxy/pl/logs?lines=10000").text(),
        d.get("/api/daemon/logs").text(),
        d.get("/api/profiles/pl").text(),
        d.stderr(),
        out,
    ];
    seen.extend(frames);
    for text in &seen {
        for secret in [KEY, K2, K3] {
            assert!(!text.contains(secret), "a key in {text}");
        }
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(env.data_dir().join("clown.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // A key removed is gone from the pool (the proxy restarts without it).
    let o = env
        .cli(&d)
        .args(["proxy", "key-remove", "pl", "k3"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    d.api("DELETE", "/api/profiles/pl/keys/k3", None)
        .expect_error(404);
    let keys = d.get("/api/profiles/pl/keys").expect_ok();
    assert_eq!(keys.as_array().unwrap().len(), 1);
}
