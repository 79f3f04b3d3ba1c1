//! The request inspector: the last N requests per profile with their timings, tokens
//! and redacted errors, bodies only when asked for (redacted, cut), through the API and
//! `clown proxy requests [-f]`.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;

use serde_json::{Value, json};

use super::routing::inspected;
use super::*;
use crate::helpers::*;
use crate::upstream::{Script, Upstream};

#[test]
fn the_inspector_keeps_the_last_requests_redacted() {
    let up = Upstream::start(Script::default());
    let (env, d) = start("px-inspect", "");
    let settings = json!({"enabled": true,
        "inspector": {"keep": 3, "capture_bodies": true, "body_limit": 256}});
    create_profile(&d, profile("ins", &up.url(), settings.clone()));
    for (bad, want) in [
        (json!({"keep": 20000}), "keep must be at most 10000"),
        (json!({"body_limit": 10}), "body_limit must be between 256"),
        (json!({"keep": 3, "shout": true}), "shout"),
    ] {
        let msg = d
            .api(
                "PUT",
                "/api/profiles/ins/proxy",
                Some(&json!({"enabled": true, "inspector": bad})),
            )
            .expect_error(400);
        assert!(msg.contains(want), "{msg}");
    }
    wait_status(&d, "ins", "running");
    let (port, token) = endpoint(&d, "ins");
    let empty = d.get("/api/proxy/ins/requests").expect_ok();
    assert_eq!(empty["requests"], json!([]));
    assert_eq!(empty["keep"], 3);
    d.get("/api/proxy/nope/requests").expect_error(404);

    // Four answers (one streamed), then an error that quotes a key.
    for stream in [false, true, false, false] {
        let mut m = message("claude-sonnet-4", stream);
        m["messages"][0]["content"] = json!(format!("my key is {KEY}, say pong"));
        let r = post(port, &[("x-api-key", &token)], &m);
        assert_eq!(r.status, 200, "{}", r.text());
    }
    up.set_script(Script {
        status: Some(401),
        error_message: Some(format!("invalid x-api-key {KEY}")),
        ..Default::default()
    });
    let r = post(
        port,
        &[("x-api-key", &token)],
        &message("claude-sonnet-4", false),
    );
    assert_eq!(r.status, 401);
    assert!(
        r.text().contains(KEY),
        "the agent gets the upstream's answer as it is"
    );

    // The last three only, oldest first, numbered in order.
    let list = wait_until(WAIT, "the error in the inspector", || {
        let l = inspected(&d, "ins", 3);
        (l.last().is_some_and(|r| r["status"] == 401)).then_some(l)
    });
    assert_eq!(list.len(), 3, "{list:?}");
    let ids: Vec<u64> = list.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    for r in &list[..2] {
        assert_eq!(r["status"], 200);
        assert_eq!(r["route"], "default");
        assert_eq!(r["key"], "primary");
        assert_eq!(r["key_hint"], "…QRST");
        assert_eq!(r["target"], "anthropic");
        assert_eq!(r["model"], "claude-sonnet-4");
        assert_eq!(r["input_tokens"], 1234);
        assert_eq!(r["output_tokens"], 56);
        let (ttfb, total) = (
            r["ttfb_ms"].as_f64().unwrap(),
            r["duration_ms"].as_f64().unwrap(),
        );
        assert!(ttfb > 0.0 && total >= ttfb, "{r}");
        assert!(r["tokens_per_sec"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["request_body"].is_null(), "bodies only when asked for");
        assert!(r["error"].is_null());
    }
    let err = list[2]["error"].as_str().unwrap();
    assert!(
        err.contains("invalid x-api-key [redacted]") && !err.contains(KEY),
        "{err}"
    );
    // With bodies: redacted and cut at the profile's limit.
    let with = d.get("/api/proxy/ins/requests?bodies=true").expect_ok();
    let first = &with["requests"][0];
    let body = first["request_body"].as_str().unwrap();
    assert!(
        body.contains("my key is [redacted], say pong") && !body.contains(KEY),
        "{body}"
    );
    let resp = first["response_body"].as_str().unwrap();
    assert!(resp.contains("Hello from the test upstream"), "{resp}");
    assert!(resp.contains("…[cut: ") && resp.len() < 256 + 40, "{resp}");
    // Following: only those after an id.
    let after = d
        .get(&format!("/api/proxy/ins/requests?after={}", ids[1]))
        .expect_ok();
    assert_eq!(after["requests"].as_array().unwrap().len(), 1);

    // `clown proxy requests -f`: the table, then each new request as it comes.
    let mut child = env
        .cli(&d)
        .args(["proxy", "requests", "ins", "-f"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let mut read_until = |what: &str, f: &dyn Fn(&[String]) -> bool| {
        wait_until(WAIT, what, || {
            while let Ok(l) = rx.try_recv() {
                lines.push(l);
            }
            f(&lines).then(|| lines.clone())
        })
    };
    let table = read_until("the table", &|l| l.len() >= 4);
    assert!(
        table[0].starts_with("ID") && table[0].contains("TTFB"),
        "{table:?}"
    );
    assert!(
        table[3].contains("401") && table[3].contains("[redacted]"),
        "{table:?}"
    );
    up.set_script(Script::default());
    let r = post(
        port,
        &[("x-api-key", &token)],
        &message("claude-opus-4", false),
    );
    assert_eq!(r.status, 200);
    let got = read_until("the followed request", &|l| {
        l.iter().any(|x| x.contains("claude-opus-4"))
    });
    let line = got.iter().find(|x| x.contains("claude-opus-4")).unwrap();
    assert!(
        line.contains("200") && line.contains("primary …QRST"),
        "{line}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let v: Value = d.get("/api/proxy/ins/requests").expect_ok();
    assert_eq!(v["requests"].as_array().unwrap().len(), 3);

    // The settings from the CLI: the ones given change, the others stay; a bad one is
    // the daemon's clear error and changes nothing.
    let set = |args: &[&str]| {
        let mut all = vec!["proxy", "set", "ins"];
        all.extend_from_slice(args);
        let o = env.cli(&d).args(&all).output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr),
        )
    };
    let (ok, out) = set(&[
        "--keep",
        "2",
        "--capture-bodies",
        "false",
        "--cooldown",
        "5",
    ]);
    assert!(ok, "{out}");
    let s = d.get("/api/profiles/ins").expect_ok()["proxy"].clone();
    assert_eq!(
        s["inspector"],
        json!({"keep": 2, "capture_bodies": false, "body_limit": 256})
    );
    assert_eq!(s["pool"]["cooldown_secs"], 5);
    assert_eq!(s["enabled"], true);
    let (ok, out) = set(&["--keep", "20000"]);
    assert!(!ok && out.contains("keep must be at most 10000"), "{out}");
    assert_eq!(
        d.get("/api/profiles/ins").expect_ok()["proxy"]["inspector"]["keep"],
        2
    );
    assert_eq!(
        d.get("/api/proxy/ins/requests").expect_ok()["requests"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "a smaller keep drops the oldest at once"
    );
}

/// A proxy sends only the last `keep` requests of a batch to the inspector (a busy one
/// would send hundreds the ring pushes out at once): the others are counted in the event's
/// `skipped`, every request still gets its number, and the ring is the same.
#[test]
fn a_batch_brings_the_inspector_only_what_it_keeps() {
    let up = Upstream::start(Script::default());
    let (_env, d) = start("px-inspect-keep", "");
    let settings = json!({"enabled": true, "inspector": {"keep": 2}});
    create_profile(&d, profile("few", &up.url(), settings));
    wait_status(&d, "few", "running");
    let (port, token) = endpoint(&d, "few");
    let mut events = crate::ws::connect(d.port, "/ws/events", &d.token);
    // Back to back: well within one batch's gathering of reports.
    for _ in 0..6 {
        let r = post(
            port,
            &[("x-api-key", &token)],
            &message("claude-sonnet-4", false),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let announced = |frames: &[String]| -> (usize, u64, usize) {
        let mut shown = 0;
        let mut skipped = 0;
        let mut most = 0;
        for f in frames {
            let ev: Value = serde_json::from_str(f).unwrap_or_default();
            if ev["type"] != "proxy_requests" || ev["data"]["profile"] != "few" {
                continue;
            }
            let n = ev["data"]["requests"].as_array().map_or(0, Vec::len);
            shown += n;
            most = most.max(n);
            skipped += ev["data"]["skipped"].as_u64().unwrap_or(0);
        }
        (shown, skipped, most)
    };
    let frames = events.read_text_frames_until("six requests announced", |f| {
        let (shown, skipped, _) = announced(f);
        shown as u64 + skipped >= 6
    });
    let (shown, skipped, most) = announced(&frames);
    assert_eq!(shown as u64 + skipped, 6, "{frames:?}");
    assert!(
        most <= 2,
        "a batch brought more than the ring keeps: {frames:?}"
    );
    assert!(
        skipped > 0,
        "six requests in one batch skip four: {frames:?}"
    );
    let list = d.get("/api/proxy/few/requests").expect_ok()["requests"].clone();
    let ids: Vec<u64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert!(
        ids.len() == 2 && ids[1] == ids[0] + 1 && ids[1] >= 6,
        "every request numbered, the last two kept: {ids:?}"
    );
}
