//! The CLI hands the token (and keys) only to its own user's daemon: it prefers the
//! daemon's Unix socket, and over TCP it checks who owns the listening socket first.

use std::io::Write;
use std::process::{Command, Stdio};

use super::{as_user, other_user};
use crate::helpers::*;

/// A fake daemon of another user: answers every request with a success envelope and
/// appends every byte it receives to `log`.
const FAKE_DAEMON: &str = r#"
import socket, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(16)
print("LISTENING", flush=True)
body = b'{"success":true,"data":{"status":"running","pid":1,"version":"0","uptime_secs":1,"profiles_count":0,"active_proxies":0,"activation":"bound","listen":[]}}'
while True:
    c, _ = srv.accept()
    c.settimeout(2)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = c.recv(65536)
            if not chunk: break
            data += chunk
        # the body, if any
        head, _, rest = data.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                n = int(line.split(b":")[1])
                while len(rest) < n:
                    chunk = c.recv(65536)
                    if not chunk: break
                    rest += chunk
                data = head + b"\r\n\r\n" + rest
    except Exception:
        pass
    with open(sys.argv[2], "ab") as f:
        f.write(data + b"\n----\n")
    c.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: %d\r\n\r\n" % len(body) + body)
    c.close()
"#;

#[test]
fn a_listener_of_another_user_never_gets_the_token_or_a_key() {
    let Some(other) = other_user() else { return };
    let env = TestEnv::new("sec-foreign-listener");
    // This user's token exists (an earlier daemon wrote it), but the daemon is down, and
    // another user holds its port.
    let token = "0123456789abcdef".repeat(4);
    std::fs::create_dir_all(env.state_dir()).unwrap();
    std::fs::write(env.state_dir().join("token"), format!("{token}\n")).unwrap();
    let port = free_port();
    env.write_config(&format!("listen = [\"127.0.0.1:{port}\"]\n"));
    let log_dir = env.root.join("foreign");
    std::fs::create_dir_all(&log_dir).unwrap();
    std::os::unix::fs::chown(&log_dir, Some(other.0), Some(other.1)).unwrap();
    let log = log_dir.join("received");
    let script = env.root.join("fake_daemon.py");
    std::fs::write(&script, FAKE_DAEMON).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let mut fake = as_user(
        Command::new("python3")
            .arg(&script)
            .arg(port.to_string())
            .arg(&log)
            .stdout(Stdio::piped()),
        other,
    )
    .spawn()
    .unwrap();
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(fake.stdout.as_mut().unwrap()),
        &mut ready,
    )
    .unwrap();
    assert_eq!(ready.trim(), "LISTENING");

    let status = env.clown().arg("status").output().unwrap();
    const KEY: &str = "sk-ant-foreign-0123456789abcdefghijklmnop";
    let mut create = env
        .clown()
        .args([
            "profiles",
            "create",
            "w",
            "--agent",
            "claude",
            "--provider",
            "anthropic",
            "--api-key-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    create
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{KEY}\n").as_bytes())
        .unwrap();
    let created = create.wait_with_output().unwrap();
    let _ = fake.kill();
    let _ = fake.wait();

    let received = String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).into_owned();
    assert!(
        !received.contains(&token),
        "the token reached the foreign listener"
    );
    assert!(
        !received.contains(KEY),
        "the key reached the foreign listener"
    );
    for out in [&status, &created] {
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("belongs to uid") && err.contains("refusing"),
            "{err}"
        );
    }
}

#[test]
fn the_cli_prefers_the_daemons_own_unix_socket() {
    let env = TestEnv::new("sec-unix-socket");
    let d = Daemon::start(&env);
    let socket = env.state_dir().join("clown.sock");
    assert!(
        std::fs::metadata(&socket).is_ok(),
        "the daemon listens on {}",
        socket.display()
    );
    // The configured TCP address leads nowhere; the socket in the state directory does.
    env.write_config(&format!("listen = [\"127.0.0.1:{}\"]\n", free_port()));
    let out = env
        .clown()
        .env("CLOWN_NO_AUTOSTART", "1")
        .args(["status"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&d.pid().to_string()));
    // A request over it that presents no token is still refused.
    let mut s = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    s.write_all(b"GET /api/profiles HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let resp = read_response(&mut std::io::BufReader::new(s));
    assert_eq!(resp.status, 401);
}
