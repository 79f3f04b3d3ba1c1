//! The per-profile proxy: byte-for-byte pass-through, key isolation (also against
//! processes of the same user), usage, fallbacks, timeouts, model aliases, supervision
//! (restarts, failure, no leftover process), the API and CLI, and the real Claude Code
//! going through it. Shared helpers here.

mod abandoned;
mod control;
mod failures;
mod forwarding;
mod inspector;
mod isolation;
mod pools;
mod routing;
mod supervision;
mod threads;
mod translation;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::*;

pub const KEY: &str = "sk-ant-api03-PROXYSECRET-0123456789-abcdefghijklmnop-QRST";

static RANGE: AtomicU16 = AtomicU16::new(0);

/// Config for a proxy test: its own port range (tests run in parallel) and short timers.
/// The ranges stay below the kernel's ephemeral ports (32768 and up), which the other
/// tests' connections and daemons take at random.
pub fn config(extra: &str) -> String {
    let slot = RANGE.fetch_add(1, Ordering::SeqCst);
    let base = 20_000 + (std::process::id() as u16 % 40) * 200 + slot * 10;
    format!(
        "[proxy]\nport_range = [{base}, {}]\nrestart_initial_ms = 200\nrestart_max_ms = 3000\nmax_restarts = 4\nrestart_window_secs = 60\nstop_grace_ms = 2000\n{extra}",
        base + 9
    )
}

pub fn start(name: &str, extra: &str) -> (TestEnv, Daemon) {
    let env = TestEnv::new(name);
    env.write_config(&config(extra));
    let d = Daemon::start(&env);
    (env, d)
}

pub fn profile(alias: &str, base_url: &str, proxy: Value) -> Value {
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

pub fn status(d: &Daemon, alias: &str) -> Value {
    d.get(&format!("/api/proxy/status/{alias}")).expect_ok()
}

pub fn wait_status(d: &Daemon, alias: &str, want: &str) -> Value {
    wait_until(WAIT, &format!("proxy '{alias}' {want}"), || {
        let s = status(d, alias);
        (s["status"] == want).then_some(s)
    })
}

/// The launch environment of `alias` (what the agent gets).
pub fn launch_env(d: &Daemon, alias: &str) -> Value {
    d.api("POST", &format!("/api/profiles/{alias}/launch"), None)
        .expect_ok()
}

/// The proxy's port and the local token, as a launch hands them to the agent.
pub fn endpoint(d: &Daemon, alias: &str) -> (u16, String) {
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

pub fn message(model: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 64, "stream": stream,
           "messages": [{"role": "user", "content": "say pong"}]})
}

pub fn post(port: u16, headers: &[(&str, &str)], body: &Value) -> Resp {
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
pub fn post_raw(port: u16, token: &str, body: &Value) -> (Vec<u8>, Duration) {
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
            "import sqlite3,sys,json\nc=sqlite3.connect(sys.argv[1])\nc.row_factory=sqlite3.Row\nfor r in c.execute('select * from usage_events order by rev'): print(json.dumps(dict(r)))\n",
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

pub fn wait_events(env: &TestEnv, n: usize) -> Vec<Value> {
    wait_until(WAIT, &format!("{n} usage events"), || {
        let e = usage_events(env);
        (e.len() >= n).then_some(e)
    })
}

/// The usage events once every report that was due has arrived: a marker request goes
/// through each of `proxies` (port, local token) after the requests under test, and a
/// proxy reports in order, so once every marker is recorded nothing earlier is still on
/// its way. Returns the events other than the markers.
pub fn settled_events(env: &TestEnv, proxies: &[(u16, &str)]) -> Vec<Value> {
    const MARKER: &str = "usage-marker";
    for (port, token) in proxies {
        let r = post(*port, &[("x-api-key", token)], &message(MARKER, false));
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let all = wait_until(WAIT, "the marker requests' usage", || {
        let e = usage_events(env);
        (e.iter().filter(|e| e["model"] == MARKER).count() >= proxies.len()).then_some(e)
    });
    all.into_iter().filter(|e| e["model"] != MARKER).collect()
}

/// Pids of `clown proxy` children serving `alias`, from /proc.
pub fn proxy_pids(alias: &str) -> Vec<i32> {
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

pub fn assert_error_json(r: &Resp, status: u16, kind: &str) -> String {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], kind, "{v}");
    v["error"]["message"].as_str().unwrap().to_string()
}
