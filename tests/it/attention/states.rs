//! What every session has, with the shell test agent: the hook route and the token only
//! it accepts (and `clown hook`, which uses them), the terminal's own signals for agents
//! without hooks, the "needs you" list, the proxy's view, and webhooks that leave alone
//! a session someone is looking at.

use std::io::Write;
use std::process::Stdio;

use serde_json::json;

use super::*;
use crate::terminal::{setup, start};
use crate::upstream::{Script, Upstream};

/// `NAME=value` printed by a session's script, read off its screen.
fn printed(screen: &Screen, name: &str) -> String {
    let flat = screen.flat();
    let at = flat
        .find(&format!("{name}="))
        .unwrap_or_else(|| panic!("{name} in {flat}"));
    flat[at + name.len() + 1..]
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

const SHOW_ENV: &str =
    "echo \"S=$CLOWN_SESSION_ID;T=$CLOWN_HOOK_TOKEN;U=$CLOWN_HOOK_URL;\"; sleep 1000";

fn post_hook(d: &Daemon, id: &str, token: &str, body: &Value) -> Resp {
    let auth = format!("Bearer {token}");
    request(
        d.port,
        "POST",
        &format!("/api/terminal/sessions/{id}/hook"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.to_string().as_bytes(),
    )
}

#[test]
fn a_hook_token_opens_its_own_sessions_hook_route_only() {
    let (env, d) = setup("att-token", "");
    let a = start(&d, SHOW_ENV);
    let b = start(&d, SHOW_ENV);
    let screen = Screen::attach(&d, &a);
    wait_until(WAIT, "the environment on screen", || {
        screen.flat().contains("U=").then_some(())
    });
    assert_eq!(printed(&screen, "S"), a);
    assert_eq!(printed(&screen, "U"), d.url());
    let token = printed(&screen, "T");
    assert!(
        token.starts_with("clown-hook-") && token.len() == 11 + 64,
        "{token}"
    );
    let stop = json!({"agent": "claude", "event": "Stop"});
    let r = post_hook(&d, &a, &token, &stop).expect_ok();
    assert_eq!(r["attention"], "turn_finished");
    // Another session's route, any other route, a wrong token, the token as a cookie.
    assert!(
        post_hook(&d, &b, &token, &stop)
            .expect_error(403)
            .contains("own session")
    );
    let auth = format!("Bearer {token}");
    for (method, path) in [
        ("GET", "/api/terminal/sessions".to_string()),
        ("GET", format!("/api/terminal/sessions/{a}")),
        ("DELETE", format!("/api/terminal/sessions/{a}")),
        ("POST", "/api/usage/record".to_string()),
        ("GET", "/api/profiles".to_string()),
    ] {
        let r = request(d.port, method, &path, &[("Authorization", &auth)], b"");
        r.expect_error(403);
    }
    let wrong = format!("clown-hook-{}", "0".repeat(64));
    post_hook(&d, &a, &wrong, &stop).expect_error(401);
    let cookie = format!("clown_session={token}");
    let r = request(
        d.port,
        "POST",
        &format!("/api/terminal/sessions/{a}/hook"),
        &[("Cookie", &cookie), ("Content-Type", "application/json")],
        stop.to_string().as_bytes(),
    );
    r.expect_error(401);
    // Bad bodies change nothing.
    for bad in [
        json!({"agent": "claude"}),
        json!({"agent": "c", "event": "Stop", "extra": 1}),
        json!([1]),
    ] {
        post_hook(&d, &a, &token, &bad).expect_error(400);
    }
    let long = json!({"agent": "claude", "event": "Notification", "message": "x".repeat(5000)});
    assert!(
        post_hook(&d, &a, &token, &long)
            .expect_error(400)
            .contains("message")
    );
    assert_eq!(
        d.get(&format!("/api/terminal/sessions/{a}")).expect_ok()["attention"],
        "turn_finished"
    );
    // `clown hook`, as the agent runs it: the event on stdin, the session from the
    // environment; quiet, and exit 0 whatever happens.
    let hook = |vars: &[(&str, &str)], event: &str| {
        let mut child = env
            .clown()
            .args(["hook", "claude"])
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
            .write_all(event.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let url = d.url();
    let vars = [
        ("CLOWN_SESSION_ID", a.as_str()),
        ("CLOWN_HOOK_TOKEN", token.as_str()),
        ("CLOWN_HOOK_URL", url.as_str()),
    ];
    let event = json!({"session_id": "conv-1", "hook_event_name": "PermissionRequest",
                       "tool_name": "Bash", "tool_input": {"command": "mkdir x"}});
    let out = hook(&vars, &event.to_string());
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "{out:?}"
    );
    let info = d.get(&format!("/api/terminal/sessions/{a}")).expect_ok();
    assert_eq!(info["attention"], "needs_input");
    assert_eq!(info["attention_message"], "Permission to use Bash");
    assert_eq!(info["conversation_id"], "conv-1");
    for (vars, input) in [
        (&[][..], event.to_string()),
        (&vars[..], "not json".to_string()),
        (
            &[
                ("CLOWN_SESSION_ID", b.as_str()),
                ("CLOWN_HOOK_TOKEN", token.as_str()),
                ("CLOWN_HOOK_URL", url.as_str()),
            ][..],
            json!({"hook_event_name": "Stop"}).to_string(),
        ),
    ] {
        let out = hook(vars, &input);
        assert!(
            out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
            "{out:?}"
        );
    }
    assert_eq!(
        d.get(&format!("/api/terminal/sessions/{b}")).expect_ok()["attention"],
        "idle"
    );
    // The token dies with its session.
    d.api("DELETE", &format!("/api/terminal/sessions/{a}"), None)
        .expect_ok();
    post_hook(&d, &a, &token, &stop).expect_error(401);
}

#[test]
fn without_hooks_the_terminal_says_when_it_waits() {
    let (_env, d) = setup("att-terminal", "[terminal]\nquiet_ms = 300\n");
    let mut events = Events::open(&d);
    let first = start(&d, "sleep 1000");
    d.api(
        "POST",
        &format!("/api/terminal/sessions/{first}/hook"),
        Some(&json!({"agent": "x", "event": "Stop"})),
    )
    .expect_ok();
    let id = start(
        &d,
        "printf 'Would you like to run the following command? (y/n)\\a'; read a; echo \"answered $a\"; sleep 1000",
    );
    let (asked, _) = events.wait(&id, "needs_input", WAIT);
    assert_eq!(asked["source"], "terminal");
    // The "needs you" list: the longest waiting first.
    let waiting = d.get("/api/terminal/sessions?waiting=true").expect_ok();
    let ids: Vec<&str> = waiting
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [first.as_str(), id.as_str()]);
    assert!(waiting[0]["waiting_secs"].as_i64().unwrap() >= 0);
    let screen = Screen::attach(&d, &id);
    let mut keys = screen.keys.clone_sender();
    // Moving within the prompt is no answer; the answer is, and the quiet after it ends
    // the turn: what came after the answer asks nothing.
    keys.send_binary(b"\x1b[B");
    holds_for(Duration::from_millis(700), "needs_input", || {
        d.get(&format!("/api/terminal/sessions/{id}")).expect_ok()["attention"] == "needs_input"
    });
    keys.send_binary(b"y\r");
    events.wait(&id, "working", WAIT);
    screen.wait_after(0, "answered y", WAIT);
    let (done, _) = events.wait(&id, "turn_finished", WAIT);
    assert_eq!(done["source"], "terminal");
    let all = d.get("/api/terminal/sessions").expect_ok();
    let fresh = start(&d, "sleep 1000");
    let info = d
        .get(&format!("/api/terminal/sessions/{fresh}"))
        .expect_ok();
    assert_eq!(info["attention"], "idle");
    assert!(info.get("waiting_secs").is_none(), "{info}");
    assert_eq!(all.as_array().unwrap().len(), 2);
}

#[test]
fn webhooks_leave_alone_a_session_someone_looks_at() {
    let receiver = Receiver::start();
    let (_env, d) = setup(
        "att-focus",
        &format!(
            "[[notifications.webhooks]]\nurl = \"{}\"\n",
            receiver.url("/h")
        ),
    );
    let mut events = Events::open(&d);
    let id = start(&d, "sleep 1000");
    let hook = |event: &str, kind: Option<&str>| {
        let mut body = json!({"agent": "claude", "event": event});
        if let Some(k) = kind {
            body["notification_type"] = json!(k);
        }
        d.api(
            "POST",
            &format!("/api/terminal/sessions/{id}/hook"),
            Some(&body),
        )
        .expect_ok();
    };
    let mut viewer = crate::ws::connect(d.port, &format!("/ws/terminal/{id}"), &d.token);
    viewer.send_text(r#"{"type":"focus","shown":true}"#);
    wait_until(WAIT, "looked_at", || {
        (d.get(&format!("/api/terminal/sessions/{id}")).expect_ok()["looked_at"] == true)
            .then_some(())
    });
    hook("Notification", Some("permission_prompt"));
    let (changed, _) = events.wait(&id, "needs_input", WAIT);
    assert_eq!(changed["looked_at"], true);
    holds_for(Duration::from_millis(1500), "no webhook", || {
        receiver.to("/h").is_empty()
    });
    // Looked away (the window lost focus): the next change is sent.
    viewer.send_text(r#"{"type":"focus","shown":false}"#);
    wait_until(WAIT, "not looked at", || {
        (d.get(&format!("/api/terminal/sessions/{id}")).expect_ok()["looked_at"] == false)
            .then_some(())
    });
    hook("UserPromptSubmit", None);
    hook("Stop", None);
    let got = wait_until(WAIT, "the webhook", || {
        let got = receiver.to("/h");
        (!got.is_empty()).then_some(got)
    });
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["attention"], "turn_finished");
    // A client that reported being shown and then went away counts no more.
    viewer.send_text(r#"{"type":"focus","shown":true}"#);
    wait_until(WAIT, "looked_at", || {
        (d.get(&format!("/api/terminal/sessions/{id}")).expect_ok()["looked_at"] == true)
            .then_some(())
    });
    viewer.close();
    drop(viewer);
    wait_until(WAIT, "not looked at", || {
        (d.get(&format!("/api/terminal/sessions/{id}")).expect_ok()["looked_at"] == false)
            .then_some(())
    });
    hook("PermissionRequest", None);
    wait_until(WAIT, "the second webhook", || {
        (receiver.to("/h").len() == 2).then_some(())
    });
    events.wait(&id, "needs_input", WAIT);
}

#[test]
fn the_proxy_reports_a_rate_limit_to_its_profiles_sessions() {
    let up = Upstream::start(Script {
        status: Some(429),
        ..Default::default()
    });
    let (_env, d) = setup("att-proxy", &crate::proxy::config(""));
    create_profile(
        &d,
        json!({"agent_id": "testsh", "alias": "p", "provider_id": "anthropic",
               "api_key": "sk-test-key-0123456789", "base_url": up.url(), "proxy": {"enabled": true}}),
    );
    let mut events = Events::open(&d);
    let id = crate::terminal::start_profile(&d, "p", "sleep 1000");
    let other = start(&d, "sleep 1000");
    for s in [&id, &other] {
        d.api(
            "POST",
            &format!("/api/terminal/sessions/{s}/hook"),
            Some(&json!({"agent": "x", "event": "UserPromptSubmit"})),
        )
        .expect_ok();
    }
    let spec = d.api("POST", "/api/profiles/p/launch", None).expect_ok();
    let base = spec["env"]["TEST_AGENT_BASE_URL"].as_str().unwrap();
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    let token = spec["env"]["TEST_AGENT_KEY"].as_str().unwrap().to_string();
    let send = || {
        let body = json!({"model": "claude-sonnet-4", "max_tokens": 8,
                          "messages": [{"role": "user", "content": "hi"}]});
        request(
            port,
            "POST",
            "/v1/messages",
            &[("x-api-key", &token), ("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
    };
    assert_eq!(send().status, 429);
    let (limited, _) = events.wait(&id, "rate_limited", WAIT);
    assert_eq!(limited["source"], "proxy");
    assert_eq!(
        d.get(&format!("/api/terminal/sessions/{other}"))
            .expect_ok()["attention"],
        "working",
        "another profile's session is not touched"
    );
    up.set_script(Script::default());
    assert_eq!(send().status, 200);
    events.wait(&id, "working", WAIT);
}
