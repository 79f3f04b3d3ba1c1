//! Read-only share links of a terminal session, with the real binary: the link opens its
//! page and a WebSocket that shows the session's output and refuses input; its token
//! opens nothing else (not another session, not the API, not the writable WebSocket);
//! Host and Origin are checked as everywhere; it ends when revoked or expired, and its
//! viewers are disconnected then; the CLI makes, lists and revokes links.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::*;
use crate::terminal::{setup, start};
use crate::ws::{Frame, Ws};

const ECHO: &str = "echo ready; while IFS= read -r l; do echo \"GOT:$l\"; done";

fn share(d: &Daemon, id: &str, body: Value) -> Value {
    d.api(
        "POST",
        &format!("/api/terminal/sessions/{id}/share"),
        Some(&body),
    )
    .expect_ok()
}

/// Opens the share WebSocket of `token` with no credential but the path's.
fn viewer(d: &Daemon, token: &str) -> Result<Ws, u16> {
    crate::ws::try_connect(
        d.port,
        &format!("/ws/share/{token}"),
        "",
        &format!("http://127.0.0.1:{}", d.port),
    )
}

/// Reads binary output until it holds `needle`; returns everything read so far.
fn read_until(ws: &mut Ws, out: &mut Vec<u8>, texts: &mut Vec<String>, needle: &str) {
    let deadline = Instant::now() + WAIT;
    while !String::from_utf8_lossy(out).contains(needle) {
        let left = deadline.saturating_duration_since(Instant::now());
        match ws.read_frame(left) {
            Some(Frame::Binary(b)) => out.extend_from_slice(&b),
            Some(Frame::Text(t)) => texts.push(t),
            Some(Frame::Close(c)) => panic!("closed ({c:?}) before {needle:?}"),
            Some(_) => {}
            None => panic!(
                "no {needle:?} within {WAIT:?}: {:?}",
                String::from_utf8_lossy(out)
            ),
        }
    }
}

/// The close code the server ends `ws` with (text and output before it are skipped).
fn close_code(ws: &mut Ws) -> Option<u16> {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match ws.read_frame(left) {
            Some(Frame::Close(code)) => return code,
            Some(_) => {}
            None => panic!("the viewer was not disconnected"),
        }
    }
}

fn with_bearer(d: &Daemon, method: &str, path: &str, token: &str) -> Resp {
    let auth = format!("Bearer {token}");
    request(d.port, method, path, &[("Authorization", &auth)], b"")
}

#[test]
fn a_share_link_shows_one_session_read_only_until_revoked() {
    let (env, d) = setup("share", "");
    let a = start(&d, ECHO);
    let b = start(&d, ECHO);
    let mut owner = crate::ws::connect(d.port, &format!("/ws/terminal/{a}"), &d.token);
    let (mut out, mut texts) = (Vec::new(), Vec::new());
    read_until(&mut owner, &mut out, &mut texts, "ready");

    let mut events = crate::ws::connect(d.port, "/ws/events", &d.token);
    let link = share(&d, &a, json!({"ttl_secs": 600}));
    let token = link["token"].as_str().unwrap().to_string();
    let seen = events.read_text_frames_until("terminal_share_changed", |t| {
        t.iter().any(|m| m.contains("terminal_share_changed"))
    });
    let changed: Value = serde_json::from_str(seen.last().unwrap()).unwrap();
    assert_eq!(changed["data"], json!({"session_id": a, "links": 1}));
    assert!(!seen.iter().any(|m| m.contains(&token)), "never the token");
    assert!(
        token.starts_with("clown-share-") && token.len() == 12 + 64,
        "{link}"
    );
    assert_eq!(link["url"], format!("/share/{token}"));
    assert_eq!(link["session_id"], a.as_str());
    assert_eq!(link["ttl_secs"], 600);
    assert!(!token.contains(&d.token) && !link.to_string().contains(&d.token));
    let listed = d
        .get(&format!("/api/terminal/sessions/{a}/share"))
        .expect_ok();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["id"], link["id"]);
    assert!(
        !listed.to_string().contains(&token),
        "a list never shows the token"
    );

    // The page opens without any other credential; a made-up token's does not.
    let page = request(d.port, "GET", &format!("/share/{token}"), &[], b"");
    assert_eq!(page.status, 200);
    assert!(
        page.text().contains("/assets/js/share.js"),
        "{}",
        page.text()
    );
    let bogus = format!("clown-share-{}", "0".repeat(64));
    let refused = request(d.port, "GET", &format!("/share/{bogus}"), &[], b"");
    assert_eq!(refused.status, 401);
    assert!(refused.text().contains("expired"), "{}", refused.text());
    assert_eq!(viewer(&d, &bogus).err(), Some(401));

    // The viewer sees the session's screen and its live output, at the session's size.
    let mut view = viewer(&d, &token).expect("the share WebSocket opens");
    let hello = view.read_frame(WAIT).expect("a first frame");
    let Frame::Text(hello) = hello else {
        panic!("{hello:?}")
    };
    let hello: Value = serde_json::from_str(&hello).unwrap();
    assert_eq!(hello["type"], "connected");
    assert_eq!(hello["session_id"], a.as_str());
    assert_eq!(hello["read_only"], true);
    assert_eq!(
        (hello["cols"].clone(), hello["rows"].clone()),
        (json!(80), json!(24))
    );
    let (mut seen, mut notes) = (Vec::new(), Vec::new());
    read_until(&mut view, &mut seen, &mut notes, "ready");
    owner.send_binary(b"from-the-owner\n");
    read_until(&mut view, &mut seen, &mut notes, "GOT:from-the-owner");

    // Its input and control messages are refused and reach nothing.
    view.send_binary(b"typed-by-the-viewer\n");
    view.send_text(&json!({"type": "resize", "cols": 20, "rows": 5}).to_string());
    view.send_text(&json!({"type": "signal", "signal": 9}).to_string());
    let errors = view.read_text_frames_until("three refusals", |t| {
        t.iter().filter(|m| m.contains("read-only")).count() == 3
    });
    assert!(
        errors
            .iter()
            .all(|m| m.contains(r#""type":"error""#) && m.contains("input is refused")),
        "{errors:?}"
    );
    owner.send_binary(b"after\n");
    read_until(&mut owner, &mut out, &mut texts, "GOT:after");
    let owner_saw = String::from_utf8_lossy(&out).to_string();
    assert!(!owner_saw.contains("typed-by-the-viewer"), "{owner_saw}");
    let info = d.get(&format!("/api/terminal/sessions/{a}")).expect_ok();
    assert_eq!(
        (info["cols"].clone(), info["rows"].clone()),
        (json!(80), json!(24))
    );
    assert_eq!(info["state"], "running", "not killed by the viewer");

    // The token opens nothing else: not the API, not the writable socket, not session b.
    for (method, path) in [
        ("GET", "/api/terminal/sessions".to_string()),
        ("GET", format!("/api/terminal/sessions/{a}")),
        ("GET", format!("/api/terminal/sessions/{b}")),
        ("POST", format!("/api/terminal/sessions/{a}/share")),
        ("DELETE", format!("/api/terminal/sessions/{b}")),
        ("GET", "/api/profiles".to_string()),
    ] {
        let r = with_bearer(&d, method, &path, &token);
        assert_eq!(r.status, 403, "{method} {path}: {}", r.text());
        assert!(r.expect_error(403).contains("read-only view"));
    }
    let origin = format!("http://127.0.0.1:{}", d.port);
    for id in [&a, &b] {
        let r = crate::ws::try_connect(d.port, &format!("/ws/terminal/{id}"), &token, &origin);
        assert_eq!(r.err(), Some(403), "/ws/terminal/{id}");
    }
    // As a cookie it is nothing.
    let cookie = format!("clown_session={token}");
    let r = request(
        d.port,
        "GET",
        "/api/terminal/sessions",
        &[("Cookie", &cookie)],
        b"",
    );
    assert_eq!(r.status, 401);
    // Host and Origin are checked as everywhere.
    let evil = crate::ws::try_connect(
        d.port,
        &format!("/ws/share/{token}"),
        "",
        "http://evil.example",
    );
    assert_eq!(evil.err(), Some(403));
    let rebound = request(
        d.port,
        "GET",
        &format!("/share/{token}"),
        &[("Host", "evil.example")],
        b"",
    );
    assert_eq!(rebound.status, 403);
    assert!(
        d.get(&format!("/api/terminal/sessions/{b}/share"))
            .expect_ok()
            == json!([])
    );

    // Revoked: the viewer is disconnected, the page and the socket refuse the token.
    let id = link["id"].as_str().unwrap();
    let revoked = d
        .api(
            "DELETE",
            &format!("/api/terminal/sessions/{a}/share/{id}"),
            None,
        )
        .expect_ok();
    assert_eq!(revoked["revoked"], 1);
    assert_eq!(close_code(&mut view), Some(4401));
    assert_eq!(
        request(d.port, "GET", &format!("/share/{token}"), &[], b"").status,
        401
    );
    assert_eq!(viewer(&d, &token).err(), Some(401));
    assert_eq!(with_bearer(&d, "GET", "/api/profiles", &token).status, 401);
    d.api(
        "DELETE",
        &format!("/api/terminal/sessions/{a}/share/{id}"),
        None,
    )
    .expect_error(404);
    drop(env);
}

#[test]
fn a_share_link_expires_and_bad_requests_change_nothing() {
    let (env, d) = setup("share-expiry", "");
    let a = start(&d, ECHO);
    let path = format!("/api/terminal/sessions/{a}/share");
    for bad in [
        json!({"ttl_secs": 0}),
        json!({"ttl_secs": 604_801}),
        json!({"ttl_secs": "60"}),
        json!({"ttl_secs": 1.5}),
        json!({"ttl": 60}),
        json!([1]),
    ] {
        let msg = d.api("POST", &path, Some(&bad)).expect_error(400);
        assert!(msg.contains("ttl"), "{bad}: {msg}");
    }
    let unknown = "00000000-0000-4000-8000-000000000000";
    d.api(
        "POST",
        &format!("/api/terminal/sessions/{unknown}/share"),
        Some(&json!({})),
    )
    .expect_error(404);
    assert_eq!(d.get(&path).expect_ok(), json!([]), "nothing was made");
    // Without a body: an hour.
    let r = d.api("POST", &path, None).expect_ok();
    assert_eq!(r["ttl_secs"], 3600);

    // A link of 3 s: its viewer is disconnected when it runs out, then it opens nothing.
    let short = d
        .api("POST", &path, Some(&json!({"ttl_secs": 3})))
        .expect_ok();
    let token = short["token"].as_str().unwrap().to_string();
    let mut view = viewer(&d, &token).expect("opens while alive");
    assert_eq!(close_code(&mut view), Some(4401));
    wait_until(Duration::from_secs(10), "the page to refuse", || {
        (request(d.port, "GET", &format!("/share/{token}"), &[], b"").status == 401).then_some(())
    });
    assert_eq!(viewer(&d, &token).err(), Some(401));
    let live = d.get(&path).expect_ok();
    assert_eq!(
        live.as_array().unwrap().len(),
        1,
        "only the hour-long one: {live}"
    );

    // The CLI: make (the link on stdout), list, revoke all.
    let out = env
        .cli(&d)
        .args(["terminal", "share", &a[..8], "--ttl", "10m"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        url.starts_with(&format!("{}/share/clown-share-", d.url())),
        "{url}"
    );
    let page = request(d.port, "GET", url.strip_prefix(&d.url()).unwrap(), &[], b"");
    assert_eq!(page.status, 200);
    let list = env
        .cli(&d)
        .args(["terminal", "share", &a, "--list", "--json"])
        .output()
        .unwrap();
    let listed: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    let bad = env
        .cli(&d)
        .args(["terminal", "share", &a, "--ttl", "2w"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--ttl"));
    let revoke = env
        .cli(&d)
        .args(["terminal", "share", &a, "--revoke", "all"])
        .output()
        .unwrap();
    assert!(revoke.status.success());
    assert_eq!(
        String::from_utf8_lossy(&revoke.stdout).trim(),
        "revoked 2 share link(s)"
    );
    let page = request(d.port, "GET", url.strip_prefix(&d.url()).unwrap(), &[], b"");
    assert_eq!(page.status, 401);
    assert_eq!(d.get(&path).expect_ok(), json!([]));
}
