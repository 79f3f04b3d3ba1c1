//! The proxy's threads (`proxy.threads`): one agent connection is served on the thread
//! that accepted it; connections open side by side go one to each thread; every request
//! is answered with the upstream's bytes and counted once.
use std::collections::HashMap;
use std::io::BufReader;
use std::net::TcpStream;

use serde_json::{Value, json};

use super::*;
use crate::helpers::*;
use crate::upstream::{Script, Upstream};

/// A kept-alive connection to a proxy.
struct Agent {
    port: u16,
    token: String,
    reader: BufReader<TcpStream>,
}

impl Agent {
    fn open(port: u16, token: &str) -> Self {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        Self {
            port,
            token: token.to_string(),
            reader: BufReader::new(s),
        }
    }

    fn post(&mut self, body: &Value) -> Resp {
        let headers = [
            ("content-type", "application/json"),
            ("x-api-key", self.token.as_str()),
        ];
        let bytes = body.to_string();
        let s = self.reader.get_mut();
        write_request(
            s,
            self.port,
            "POST",
            "/v1/messages",
            &headers,
            bytes.as_bytes(),
            true,
        );
        read_response(&mut self.reader)
    }
}

/// The proxy's threads other than the first (named `proxy-N`) and how often each has
/// gone to sleep (`voluntary_ctxt_switches`): with polling off, a thread serving a
/// request sleeps at least once per request, an idle one never.
fn sleeps(pid: i64) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        let name = comm.trim();
        if !name.starts_with("proxy-") {
            continue;
        }
        let status = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
        let n = status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap();
        out.insert(name.to_string(), n);
    }
    out
}

#[test]
fn one_connection_stays_on_the_first_thread_and_more_spread_over_the_others() {
    let up = Upstream::start(Script::default());
    let (env, d) = start("px-threads", "threads = 3\nbusy_poll_us = 0\n");
    create_profile(&d, profile("th", &up.url(), json!({"enabled": true})));
    let pid = wait_status(&d, "th", "running")["pid"].as_i64().unwrap();
    let (port, token) = endpoint(&d, "th");
    let body = message("claude-sonnet-4", false);
    let want = up.expected("/v1/messages", &body).1;
    let before = wait_until(WAIT, "the proxy's two other threads", || {
        let s = sleeps(pid);
        (s.len() == 2).then_some(s)
    });
    assert!(
        before.contains_key("proxy-1") && before.contains_key("proxy-2"),
        "{before:?}"
    );

    // One connection: served where it was accepted; the other threads never wake.
    let mut a = Agent::open(port, &token);
    for _ in 0..30 {
        let r = a.post(&body);
        assert_eq!((r.status, &r.body), (200, &want), "{}", r.text());
    }
    let one = sleeps(pid);
    for (name, n) in &one {
        assert!(
            n - before[name] < 5,
            "{name} woke for one connection: {before:?} -> {one:?}"
        );
    }

    // Two more while the first stays open: one on each other thread.
    let mut b = Agent::open(port, &token);
    let mut c = Agent::open(port, &token);
    for _ in 0..30 {
        for agent in [&mut a, &mut b, &mut c] {
            let r = agent.post(&body);
            assert_eq!((r.status, &r.body), (200, &want), "{}", r.text());
        }
    }
    let three = sleeps(pid);
    for (name, n) in &three {
        assert!(
            n - one[name] >= 30,
            "{name} served no connection: {one:?} -> {three:?}"
        );
    }

    // Every request reached the upstream with the real key, and is counted once.
    let events = settled_events(&env, &[(port, &token)]);
    assert_eq!(events.len(), 120);
    let seen = up.messages();
    assert!(seen.len() >= 120, "{}", seen.len());
    assert!(
        seen.iter()
            .all(|m| m.headers.get("x-api-key").map(String::as_str) == Some(KEY))
    );
    drop(d);
}

#[test]
fn a_stop_lets_a_request_on_another_thread_finish_and_counts_it() {
    let up = Upstream::start(Script {
        delay: std::time::Duration::from_millis(800),
        ..Script::default()
    });
    let (env, d) = start("px-threads-stop", "threads = 2\nbusy_poll_us = 0\n");
    create_profile(&d, profile("ts", &up.url(), json!({"enabled": true})));
    let pid = wait_status(&d, "ts", "running")["pid"].as_i64().unwrap();
    let (port, token) = endpoint(&d, "ts");
    let body = message("claude-sonnet-4", false);
    let want = up.expected("/v1/messages", &body).1;
    let before = wait_until(WAIT, "the proxy's other thread", || {
        sleeps(pid).get("proxy-1").copied()
    });

    // The first connection takes the accepting thread; the second goes to the other one,
    // and its request is still waiting on the upstream when the proxy is stopped.
    let _first = Agent::open(port, &token);
    let mut second = Agent::open(port, &token);
    let sent = body.clone();
    let answer = std::thread::spawn(move || second.post(&sent));
    wait_until(WAIT, "the request at the upstream", || {
        (!up.messages().is_empty()).then_some(())
    });
    let now = sleeps(pid)["proxy-1"];
    assert!(
        now > before,
        "the second connection is on the other thread: {before} -> {now}"
    );
    d.api("POST", "/api/proxy/ts/stop", None).expect_ok();

    let r = answer.join().unwrap();
    assert_eq!((r.status, &r.body), (200, &want), "{}", r.text());
    assert!(proxy_pids("ts").is_empty(), "the stop leaves no process");
    // Flushed before the child exited: the request is counted, once.
    let events = usage_events(&env);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["profile"], "ts");
    drop(d);
}
