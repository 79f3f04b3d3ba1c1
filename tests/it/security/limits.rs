//! What no local user can do to the API: stall it with idle connections, or get an
//! answer outside the envelope; and the smaller promises (the shutdown bound, a proxy's
//! status naming the port it tried, a warning for a non-loopback address).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::*;
use crate::upstream::{Script, Upstream};

fn raise_own_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
}

#[test]
fn idle_connections_cannot_stall_the_api() {
    raise_own_fd_limit();
    let env = TestEnv::new("sec-idle-conns");
    // As under systemd's default, and no room to raise it: 1,024 open files at most.
    let d = Daemon::start_with(&env, |cmd| {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit(2) only, in the child before exec.
        unsafe {
            cmd.pre_exec(|| {
                use nix::sys::resource::{Resource, setrlimit};
                setrlimit(Resource::RLIMIT_NOFILE, 1024, 1024).map_err(std::io::Error::from)
            });
        }
    });
    let idle: Vec<TcpStream> = (0..1100)
        .map(|_| TcpStream::connect(("127.0.0.1", d.port)).unwrap())
        .collect();
    // An authorised request still gets through, promptly.
    let started = Instant::now();
    d.get("/api/daemon/status").expect_ok();
    d.get("/api/profiles").expect_ok();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "authorised requests waited {:?}",
        started.elapsed()
    );
    // The idle ones are closed: at once past the cap, the rest after a few seconds.
    let mut first = idle.into_iter().next().unwrap();
    first.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        first.read(&mut buf).unwrap_or(0),
        0,
        "an idle connection stays open"
    );
    let warnings = d.stderr().matches("accept failed").count();
    assert!(warnings <= 3, "{warnings} accept warnings in the log");
}

/// The raw answer to `bytes` sent on a new connection.
fn raw(port: u16, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn envelope_of(answer: &str) -> serde_json::Value {
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((answer, ""));
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{answer}"
    );
    let v: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"));
    assert_eq!(v["success"], false, "{answer}");
    v
}

#[test]
fn protocol_errors_and_oversized_headers_get_the_envelope() {
    let env = TestEnv::new("sec-protocol");
    let d = Daemon::start(&env);
    let host = format!("Host: 127.0.0.1:{}\r\n", d.port);
    let big = format!(
        "GET /api/daemon/status HTTP/1.1\r\n{host}Authorization: Bearer {}\r\nX-Pad: {}\r\nConnection: close\r\n\r\n",
        d.token,
        "a".repeat(100 * 1024)
    );
    let answer = raw(d.port, big.as_bytes());
    assert!(
        answer.starts_with("HTTP/1.1 431 "),
        "{}",
        &answer[..answer.len().min(200)]
    );
    assert!(
        envelope_of(&answer)["error"]
            .as_str()
            .unwrap()
            .contains("64 KiB")
    );
    let answer = raw(d.port, b"NOT A REQUEST\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    envelope_of(&answer);
    // Just under the limit is fine.
    let fits = format!(
        "GET /api/daemon/status HTTP/1.1\r\n{host}Authorization: Bearer {}\r\nX-Pad: {}\r\nConnection: close\r\n\r\n",
        d.token,
        "a".repeat(60 * 1024)
    );
    assert!(raw(d.port, fits.as_bytes()).starts_with("HTTP/1.1 200 "));
}

#[test]
fn a_non_loopback_address_is_warned_about() {
    let env = TestEnv::new("sec-wildcard");
    let d = Daemon::start_with(&env, |cmd| {
        cmd.args(["--listen", "0.0.0.0:0"]);
    });
    assert!(
        d.stderr().contains("which other machines can reach"),
        "{}",
        d.stderr()
    );
}

#[test]
fn a_proxy_moved_to_a_port_it_cannot_have_shows_that_port() {
    let (_env, d) = crate::proxy::start("sec-proxy-port", "");
    create_profile(
        &d,
        crate::proxy::profile("pp", "http://127.0.0.1:9", json!({"enabled": true})),
    );
    let first = crate::proxy::wait_status(&d, "pp", "running");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    assert_ne!(first["port"], json!(port));
    d.api(
        "PUT",
        "/api/profiles/pp/proxy",
        Some(&json!({"enabled": true, "port": port})),
    )
    .expect_ok();
    let s = wait_until(WAIT, "the proxy to fail on its new port", || {
        let s = crate::proxy::status(&d, "pp");
        (s["status"] != "running" && s["status"] != "starting").then_some(s)
    });
    assert_eq!(s["port"], json!(port), "{s}");
}

#[test]
fn shutdown_with_stubborn_sessions_and_a_proxy_stays_within_five_seconds() {
    let (env, mut d) = crate::terminal::setup("sec-shutdown", &crate::proxy::config(""));
    // Sessions that ignore SIGHUP and SIGTERM, with grandchildren.
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(crate::terminal::start(
            &d,
            "trap '' HUP TERM; sh -c 'trap \"\" HUP TERM; sleep 1000' & echo UP; wait",
        ));
    }
    // A proxy in the middle of a slow answer.
    let up = Upstream::start(Script {
        event_gap: Duration::from_secs(60),
        ..Script::default()
    });
    create_profile(
        &d,
        crate::proxy::profile("px", &up.url(), json!({"enabled": true})),
    );
    crate::proxy::wait_status(&d, "px", "running");
    let (port, token) = crate::proxy::endpoint(&d, "px");
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = crate::proxy::message("claude-sonnet-4", true).to_string();
    write!(
        slow,
        "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    slow.set_read_timeout(Some(WAIT)).unwrap();
    let mut first = [0u8; 12];
    slow.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200", "the slow answer has begun");
    let mut watchers: Vec<_> = ids
        .iter()
        .map(|id| crate::ws::connect(d.port, &format!("/ws/terminal/{id}"), &d.token))
        .collect();
    for w in &mut watchers {
        w.read_frame(WAIT).expect("connected");
    }
    let started = Instant::now();
    d.signal(15);
    let status = d.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        started.elapsed()
    );
    drop(env);
}
