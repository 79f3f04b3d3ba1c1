//! Supervision: restarts with growing delays, `failed`, and no process left behind.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;
use crate::helpers::*;
use crate::upstream::{Script, Upstream};

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
        let frames = events.read_text_frames_until("the backoff before the restart", |f| {
            f.iter()
                .any(|f| f.contains("\"backoff_ms\":") && !f.contains("\"backoff_ms\":null"))
        });
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
fn a_proxy_that_stops_answering_health_is_replaced() {
    const SIGSTOP: i32 = 19;
    let up = Upstream::start(Script::default());
    let (_env, d) = start("px-health", "health_interval_ms = 200\n");
    create_profile(&d, profile("hz", &up.url(), json!({"enabled": true})));
    let first = wait_status(&d, "hz", "running");
    let pid = first["pid"].as_i64().unwrap() as i32;
    // Frozen: the process lives and its socket accepts connections, but nothing answers.
    send_signal(pid, SIGSTOP);
    let s = wait_until(Duration::from_secs(30), "a replacement", || {
        let s = status(&d, "hz");
        (s["status"] == "running" && s["pid"] != json!(pid)).then_some(s)
    });
    assert_eq!(s["restarts"], 1, "{s}");
    assert_eq!(s["port"], first["port"], "{s}");
    assert_eq!(s["last_exit_code"], 128 + SIGKILL, "{s}");
    assert!(
        s["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("did not answer /health 3 times")),
        "{s}"
    );
    // The frozen process was killed and reaped: it is gone, not left stopped.
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    let (p, token) = endpoint(&d, "hz");
    assert_eq!(
        post(
            p,
            &[("x-api-key", &token)],
            &message("claude-sonnet-4", false)
        )
        .status,
        200
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
        .read_text_frames_until("the proxy's failure", |f| {
            f.iter().any(|f| f.contains("\"status\":\"failed\""))
        })
        .iter()
        .filter_map(|f| serde_json::from_str::<Value>(f).ok())
        .filter(|e| e["type"] == "proxy_state_changed" && e["data"]["profile"] == "crash")
        .map(|e| e["data"]["status"].as_str().unwrap().to_string())
        .collect();
    for st in ["starting", "backoff", "failed"] {
        assert!(statuses.contains(&st.to_string()), "{st} in {statuses:?}");
    }
    assert!(proxy_pids("crash").is_empty());
    // It stays down for longer than its longest restart delay (restart_max_ms); starting
    // it by hand once the port is free brings it up.
    holds_for(
        Duration::from_millis(3000),
        "the failed proxy staying down",
        || status(&d, "crash")["status"] == "failed" && proxy_pids("crash").is_empty(),
    );
    let s = d.api("POST", "/api/proxy/crash/stop", None).expect_ok();
    assert_eq!(
        s["status"], "stopped",
        "stopping a failed proxy acknowledges it"
    );
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
