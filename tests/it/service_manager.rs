//! Service-manager behaviour with the real tools: `systemd-socket-activate` hands over
//! the socket, a test-owned `NOTIFY_SOCKET` receives the notifications, signals drive
//! reload and shutdown, and `systemd-analyze verify` checks the shipped units.

use std::io::BufReader;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::*;

/// Starts the daemon under `systemd-socket-activate` on a fresh port; returns the
/// activator child and the port (already accepting: the activator holds the socket).
pub(crate) fn socket_activated(
    env: &TestEnv,
    notify: Option<&NotifySocket>,
) -> (std::process::Child, u16) {
    let port = free_port();
    let mut cmd = Command::new("systemd-socket-activate");
    cmd.env_clear().arg("-l").arg(format!("127.0.0.1:{port}"));
    for (k, v) in env.vars() {
        cmd.arg("-E").arg(format!("{k}={v}"));
    }
    if let Some(n) = notify {
        cmd.arg("-E")
            .arg(format!("NOTIFY_SOCKET={}", n.path.display()));
    }
    cmd.arg(BIN)
        .arg("daemon")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = cmd.spawn().expect("systemd-socket-activate is installed");
    wait_until(Duration::from_secs(10), "the activator to listen", || {
        TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
    });
    (child, port)
}

#[test]
fn started_by_the_first_connection_on_an_inherited_socket() {
    let env = TestEnv::new("socket-activate");
    let (mut activator, port) = socket_activated(&env, None);
    // No daemon has run yet: no token exists until the first connection starts it.
    assert!(!env.state_dir().join("token").exists());
    // The first connection starts the daemon; it serves that very connection. The
    // token does not exist before it starts, so this one is answered 401 — served, not lost.
    let first = request(port, "GET", "/api/daemon/status", &[], b"");
    first.expect_error(401);
    let token = env.token();
    let r = request(
        port,
        "GET",
        "/api/daemon/status",
        &[("Authorization", &format!("Bearer {token}"))],
        b"",
    );
    let data = r.expect_ok();
    assert_eq!(data["activation"], "systemd");
    assert_eq!(
        data["listen"],
        serde_json::json!([format!("127.0.0.1:{port}")])
    );
    send_signal(data["pid"].as_i64().unwrap() as i32, SIGTERM);
    let status = wait_until(Duration::from_secs(10), "the daemon to exit", || {
        activator.try_wait().unwrap()
    });
    assert!(status.success(), "{status}");
}

#[test]
fn idle_exit_when_socket_activated() {
    let env = TestEnv::new("idle-exit");
    env.write_config("idle_exit_secs = 1\n");
    let (mut activator, port) = socket_activated(&env, None);
    request(port, "GET", "/api/daemon/status", &[], b"").expect_error(401);
    // With nothing running and no connection open, it exits on its own (exit 0); the
    // activator exits with it.
    let status = wait_until(Duration::from_secs(15), "idle exit", || {
        activator.try_wait().unwrap()
    });
    assert!(status.success(), "{status}");
}

#[test]
fn no_idle_exit_when_bound() {
    let env = TestEnv::new("no-idle-exit");
    env.write_config("idle_exit_secs = 1\n");
    let mut d = Daemon::start(&env);
    // Bound (not socket-activated): nobody would start it again, so it stays. Watch it
    // through two watchdog-free seconds of notify silence.
    let deadline = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < deadline {
        assert!(
            d.child.try_wait().unwrap().is_none(),
            "bound daemon exited while idle"
        );
        d.notify.recv(Duration::from_millis(200));
    }
    d.get("/api/daemon/status").expect_ok();
}

#[test]
fn ready_watchdog_and_stopping() {
    let env = TestEnv::new("notify");
    let mut d = Daemon::start_with(&env, |cmd| {
        cmd.env("WATCHDOG_USEC", "200000");
    });
    // READY=1 already arrived (start waits for it). Watchdog pings keep coming.
    for _ in 0..3 {
        d.notify.wait_for("WATCHDOG=1", Duration::from_secs(2));
    }
    d.signal(SIGTERM);
    d.notify.wait_for("STOPPING=1", Duration::from_secs(5));
    let status = d.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));
}

#[test]
fn watchdog_for_another_pid_is_ignored() {
    let env = TestEnv::new("notify-other-pid");
    let mut d = Daemon::start_with(&env, |cmd| {
        cmd.env("WATCHDOG_USEC", "100000").env("WATCHDOG_PID", "1");
    });
    let deadline = Instant::now() + Duration::from_millis(600);
    while Instant::now() < deadline {
        if let Some(msg) = d.notify.recv(Duration::from_millis(100)) {
            assert!(
                !msg.contains("WATCHDOG=1"),
                "pinged a watchdog meant for pid 1"
            );
        }
    }
}

#[test]
fn sigint_also_stops_cleanly() {
    let env = TestEnv::new("sigint");
    let mut d = Daemon::start(&env);
    d.signal(SIGINT);
    assert_eq!(d.wait_exit(Duration::from_secs(5)).code(), Some(0));
}

#[test]
fn sighup_reloads_config_and_keeps_connections() {
    let env = TestEnv::new("reload");
    env.write_config("log = \"info\"\n");
    let mut d = Daemon::start(&env);
    let auth = format!("Bearer {}", d.token);
    let host = format!("gateway.test:{}", d.port);
    // One keep-alive connection used before and after the reload.
    let mut stream = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let headers = [("Host", host.as_str()), ("Authorization", auth.as_str())];
    write_request(
        &mut stream,
        d.port,
        "GET",
        "/api/daemon/status",
        &headers,
        b"",
        true,
    );
    read_response(&mut reader).expect_error(403);

    env.write_config("log = \"info\"\nallowed_hosts = [\"gateway.test\"]\n");
    d.signal(SIGHUP);
    d.notify.wait_for("RELOADING=1", Duration::from_secs(5));
    d.notify.wait_for("READY=1", Duration::from_secs(5));

    write_request(
        &mut stream,
        d.port,
        "GET",
        "/api/daemon/status",
        &headers,
        b"",
        true,
    );
    let data = read_response(&mut reader).expect_ok();
    assert_eq!(data["pid"], d.pid(), "same process, same connection");

    // A broken file on reload keeps the previous configuration.
    env.write_config("allowed_hosts = [\n");
    d.signal(SIGHUP);
    let msg = d.notify.wait_for("READY=1", Duration::from_secs(5));
    assert!(msg.contains("Reload failed"), "{msg}");
    write_request(
        &mut stream,
        d.port,
        "GET",
        "/api/daemon/status",
        &headers,
        b"",
        true,
    );
    read_response(&mut reader).expect_ok();
}

#[test]
fn units_pass_systemd_analyze_verify() {
    let env = TestEnv::new("units");
    let units = env.root.join("units");
    let runtime = env.root.join("runtime");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::create_dir_all(&runtime).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let service = std::fs::read_to_string(format!("{root}/systemd/clown.service")).unwrap();
    assert!(service.contains("ExecStart=/usr/bin/clown daemon"));
    assert!(service.contains("Type=notify"));
    for key in ["WatchdogSec=", "Restart=on-failure", "ExecReload="] {
        assert!(service.contains(key), "{key}");
    }
    let socket = std::fs::read_to_string(format!("{root}/systemd/clown.socket")).unwrap();
    assert!(socket.contains("ListenStream=127.0.0.1:8765"));
    // The installed path does not exist here; point ExecStart at the binary under test.
    std::fs::write(
        units.join("clown.service"),
        service.replace("/usr/bin/clown", BIN),
    )
    .unwrap();
    std::fs::write(units.join("clown.socket"), socket).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["--user", "verify"])
        .arg(units.join("clown.socket"))
        .arg(units.join("clown.service"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .output()
        .expect("systemd-analyze is installed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.trim().is_empty(), "warnings: {stderr}");
}

#[test]
fn launchd_plist_parses_with_the_socket() {
    let root = env!("CARGO_MANIFEST_DIR");
    let script = r#"
import plistlib, sys
p = plistlib.load(open(sys.argv[1], 'rb'))
l = p['Sockets']['Listeners']
assert l['SockNodeName'] == '127.0.0.1', l
assert l['SockServiceName'] == '8765', l
assert p['ProgramArguments'][1:] == ['daemon'], p['ProgramArguments']
print('ok')
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(format!("{root}/launchd/com.clown.daemon.plist"))
        .output()
        .expect("python3 is installed");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ok",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sigterm_lets_an_in_flight_request_finish() {
    use std::io::Write;
    let env = TestEnv::new("inflight");
    let mut d = Daemon::start(&env);
    let body = serde_json::json!({"events": [{"profile": "p", "model": "claude-sonnet-4", "source": "t", "input_tokens": 5}]})
        .to_string();
    let (first, rest) = body.as_bytes().split_at(10);
    let mut stream = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let head = format!(
        "POST /api/usage/record HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        d.port,
        d.token,
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(first).unwrap();
    // The request is in flight once the daemon has read every byte sent so far: the
    // server side of this connection shows an empty receive queue in /proc/net/tcp.
    let client_port = stream.local_addr().unwrap().port();
    wait_until(
        Duration::from_secs(5),
        "the daemon to read the request head",
        || {
            let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
            let local = format!("0100007F:{:04X}", d.port);
            let remote = format!("0100007F:{client_port:04X}");
            table.lines().find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.get(1) == Some(&local.as_str()) && f.get(2) == Some(&remote.as_str()))
                    .then(|| f.get(4).and_then(|q| q.split(':').nth(1)) == Some("00000000"))
                    .filter(|drained| *drained)
                    .map(|_| ())
            })
        },
    );
    d.signal(SIGTERM);
    d.notify.wait_for("STOPPING=1", Duration::from_secs(5));
    // New connections are refused once stopping...
    let started = Instant::now();
    stream.write_all(rest).unwrap();
    let resp = read_response(&mut BufReader::new(stream));
    // ...but the one in flight completes.
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["data"]["events_added"], 1);
    let status = d.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));
    assert!(started.elapsed() < Duration::from_secs(5));
    // What was acknowledged is on disk.
    let d = Daemon::start(&env);
    let u = d.get("/api/usage?period=all").expect_ok();
    assert_eq!(u["total_tokens"]["input_tokens"], 5);
}
