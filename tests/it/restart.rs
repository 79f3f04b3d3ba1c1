//! Sessions outliving the daemon: a restart (asked for, or the daemon killed) leaves the
//! agents running and the next daemon takes them back with the same screen, output
//! written meanwhile included, exit codes still known; a stop ends them; under a service
//! manager's descriptor store (the test plays systemd: it owns the notify socket, keeps
//! what is stored, and hands it back on restart) a restart keeps them and a stop of the
//! service ends them.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::attention::Screen;
use crate::helpers::*;
use crate::terminal::{prepare, start};

/// Kills what sessions leave behind if a test fails before ending them.
struct Reaper(Vec<i64>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for pid in &self.0 {
            // Each agent leads its own session and process group.
            send_signal(-(*pid as i32), SIGKILL);
        }
    }
}

fn sessions(d: &Daemon) -> Vec<Value> {
    d.get("/api/terminal/sessions")
        .expect_ok()
        .as_array()
        .unwrap()
        .clone()
}

fn info(d: &Daemon, id: &str) -> Value {
    d.get(&format!("/api/terminal/sessions/{id}")).expect_ok()
}

fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !matches!(
                s[s.rfind(')').unwrap() + 1..].split_whitespace().next(),
                Some("Z" | "X")
            )
        })
        .unwrap_or(false)
}

/// A script that prints `name`, then waits for the file `flag`, says so, touches
/// `flag.done`, echoes its input and exits with the code it is sent as `exit N`.
fn waiting_script(name: &str, flag: &Path) -> String {
    format!(
        "echo {name}-BEFORE; while [ ! -e {f} ]; do sleep 0.02; done; echo {name}-WRITTEN-WHILE-DOWN; touch {f}.done; \
         while read l; do case \"$l\" in exit*) exit ${{l#exit }};; *) echo \"{name}-got:$l\";; esac; done",
        f = flag.display()
    )
}

fn setup(name: &str, port: u16) -> (TestEnv, Daemon) {
    let env = TestEnv::new(name);
    prepare(&env, "");
    let d = Daemon::start_on(&env, port);
    create_profile(
        &d,
        json!({"agent_id": "testsh", "alias": "t", "provider_id": "anthropic", "api_key": "sk-test-key-0123456789"}),
    );
    (env, d)
}

/// Restarts kept the session: same pid, screen before and after, input works, the hook
/// token still opens its route, and its end is reported with the real exit code.
fn check_taken_back(d: &Daemon, id: &str, pid: &Value, name: &str, code: i32) {
    let s = info(d, id);
    assert_eq!(
        (s["state"].as_str(), &s["pid"]),
        (Some("running"), pid),
        "{s}"
    );
    assert_eq!(
        s["attention"], "needs_input",
        "the attention state is kept: {s}"
    );
    assert_eq!(s["conversation_id"], "conv-kept");
    let screen = Screen::attach(d, id);
    screen.wait_after(0, &format!("{name}-BEFORE"), WAIT);
    screen.wait_after(0, &format!("{name}-WRITTEN-WHILE-DOWN"), WAIT);
    let mut keys = screen.keys.clone_sender();
    keys.send_binary(b"after\r");
    screen.wait_after(0, &format!("{name}-got:after"), WAIT);
    let mut events = crate::attention::Events::open(d);
    keys.send_binary(format!("exit {code}\r").as_bytes());
    events.wait(id, "exited", WAIT);
    let s = wait_until(WAIT, "the end", || {
        let s = info(d, id);
        (s["state"] == "terminated").then_some(s)
    });
    assert_eq!(s["exit_code"], code, "{s}");
}

#[test]
fn a_restart_keeps_the_sessions_and_their_screens() {
    let port = free_port();
    let (env, d) = setup("restart-asked", port);
    let flag = env.root.join("go");
    let id = start(&d, &waiting_script("A", &flag));
    let pid = info(&d, &id)["pid"].clone();
    let mut reaper = Reaper(vec![pid.as_i64().unwrap()]);
    let screen = Screen::attach(&d, &id);
    screen.wait_after(0, "A-BEFORE", WAIT);
    d.api(
        "POST",
        &format!("/api/terminal/sessions/{id}/hook"),
        Some(&json!({"agent": "claude", "event": "PermissionRequest", "conversation_id": "conv-kept"})),
    )
    .expect_ok();
    // A second session ends while no daemon runs.
    let flag_b = env.root.join("go-b");
    let ended = start(
        &d,
        &format!(
            "echo B-OUTPUT; while [ ! -e {} ]; do sleep 0.02; done; echo B-LAST-WORDS; exit 5",
            flag_b.display()
        ),
    );
    reaper.0.push(info(&d, &ended)["pid"].as_i64().unwrap());
    let r = d.api("POST", "/api/daemon/restart", None).expect_ok();
    assert_eq!(r["sessions_kept"], 2);
    let mut d = d;
    assert!(d.wait_exit(WAIT).success(), "{}", d.stderr());
    assert!(
        alive(pid.as_i64().unwrap()),
        "the agent outlived the daemon"
    );
    // Output written while no daemon runs waits in the terminal.
    std::fs::write(&flag, "").unwrap();
    std::fs::write(&flag_b, "").unwrap();
    wait_until(WAIT, "output written while down", || {
        flag.with_extension("done").exists().then_some(())
    });
    let exit_file = env.state_dir().join(format!("sessions/{ended}.exit"));
    wait_until(
        WAIT,
        "the second session's end recorded by its holder",
        || exit_file.exists().then_some(()),
    );
    let d2 = Daemon::start_on(&env, port);
    let listed: Vec<String> = sessions(&d2)
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, [id.clone(), ended.clone()]);
    let b = info(&d2, &ended);
    assert_eq!(
        (b["state"].as_str(), &b["exit_code"]),
        (Some("terminated"), &json!(5)),
        "{b}"
    );
    let bs = Screen::attach(&d2, &ended);
    bs.wait_after(0, "B-LAST-WORDS", WAIT);
    check_taken_back(&d2, &id, &pid, "A", 7);
    reaper.0.clear();
}

#[test]
fn a_killed_daemon_loses_no_session() {
    let port = free_port();
    let (env, mut d) = setup("restart-killed", port);
    let flag = env.root.join("go");
    let id = start(&d, &waiting_script("K", &flag));
    let pid = info(&d, &id)["pid"].clone();
    let _reaper = Reaper(vec![pid.as_i64().unwrap()]);
    Screen::attach(&d, &id).wait_after(0, "K-BEFORE", WAIT);
    d.api(
        "POST",
        &format!("/api/terminal/sessions/{id}/hook"),
        Some(&json!({"agent": "claude", "event": "PermissionRequest", "conversation_id": "conv-kept"})),
    )
    .expect_ok();
    d.signal(SIGKILL);
    d.wait_exit(WAIT);
    std::fs::write(&flag, "").unwrap();
    wait_until(WAIT, "output written while down", || {
        flag.with_extension("done").exists().then_some(())
    });
    let d2 = Daemon::start_on(&env, port);
    check_taken_back(&d2, &id, &pid, "K", 3);
}

#[test]
fn a_stop_ends_the_sessions() {
    let port = free_port();
    let (_env, mut d) = setup("restart-stop", port);
    let id = start(&d, "echo STOP-ME; sleep 1000");
    let pid = info(&d, &id)["pid"].as_i64().unwrap();
    let _reaper = Reaper(vec![pid]);
    d.signal(SIGTERM);
    assert!(d.wait_exit(WAIT).success());
    assert!(!alive(pid), "a stop ends the agent");
    let d2 = Daemon::start_on(&_env, port);
    assert!(sessions(&d2).is_empty(), "{:?}", sessions(&d2));
}

/// The test as the service manager: the notify socket receives what the daemon stores.
fn stored_fds(notify: &mut NotifySocket, want: usize) -> Vec<(String, OwnedFd)> {
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + WAIT;
    while got.len() < want {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} stored descriptors",
            got.len()
        );
        if let Some((text, fds)) = notify.recv_fds(Duration::from_millis(200))
            && text.lines().any(|l| l == "FDSTORE=1")
        {
            let name = text
                .lines()
                .find_map(|l| l.strip_prefix("FDNAME="))
                .unwrap()
                .to_string();
            got.extend(fds.into_iter().map(|fd| (name.clone(), fd)));
        }
    }
    got
}

#[test]
fn the_service_managers_descriptor_store_keeps_sessions_across_a_restart() {
    let port = free_port();
    let env = TestEnv::new("restart-fdstore");
    prepare(&env, "");
    let fdstore = |c: &mut std::process::Command| {
        c.env("FDSTORE", "64");
    };
    let mut d = Daemon::start_listening(&env, &format!("127.0.0.1:{port}"), fdstore);
    create_profile(
        &d,
        json!({"agent_id": "testsh", "alias": "t", "provider_id": "anthropic", "api_key": "sk-test-key-0123456789"}),
    );
    let id = start(
        &d,
        "echo KEPT-BY-THE-STORE; while read l; do echo \"got:$l\"; done",
    );
    let pid = info(&d, &id)["pid"].as_i64().unwrap();
    let _reaper = Reaper(vec![pid]);
    let stored = stored_fds(&mut d.notify, 1);
    assert_eq!(stored[0].0, format!("clown-session-{id}"));
    // systemctl restart: SIGTERM, the store kept, a new daemon handed the descriptors.
    d.signal(SIGTERM);
    assert!(d.wait_exit(WAIT).success());
    assert!(
        alive(pid),
        "a stop of the daemon under a descriptor store keeps the agent"
    );
    let names: Vec<String> = stored.iter().map(|(n, _)| n.clone()).collect();
    let fds: Vec<i32> = stored.iter().map(|(_, fd)| fd.as_raw_fd()).collect();
    let d2 = Daemon::start_listening(&env, &format!("127.0.0.1:{port}"), |c| {
        c.env("FDSTORE", "64")
            .env("LISTEN_FDS", fds.len().to_string())
            .env("LISTEN_FDNAMES", names.join(":"));
        pass_fds(c, fds.clone());
    });
    let s = info(&d2, &id);
    assert_eq!(
        (s["state"].as_str(), s["pid"].as_i64()),
        (Some("running"), Some(pid))
    );
    let screen = Screen::attach(&d2, &id);
    screen.wait_after(0, "KEPT-BY-THE-STORE", WAIT);
    screen.keys.clone_sender().send_binary(b"still\r");
    screen.wait_after(0, "got:still", WAIT);
    // systemctl stop: the daemon exits (keeping nothing itself), the store is released.
    let mut d2 = d2;
    d2.signal(SIGTERM);
    assert!(d2.wait_exit(WAIT).success());
    drop(stored);
    wait_until(WAIT, "the agent ended by its holder", || {
        (!alive(pid)).then_some(())
    });
    let exit_file = env.state_dir().join(format!("sessions/{id}.exit"));
    let exit: Value = wait_until(WAIT, "the holder's exit record", || {
        serde_json::from_slice(&std::fs::read(&exit_file).ok()?).ok()
    });
    assert_eq!(exit["reason"], "stopped", "{exit}");
}

/// Puts `fds` at 3, 4, … in the child, as systemd passes descriptors (LISTEN_PID left
/// unset: the daemon then takes them as its own).
fn pass_fds(c: &mut std::process::Command, fds: Vec<i32>) {
    // SAFETY: only fcntl and dup2 between fork and exec.
    unsafe {
        c.pre_exec(move || {
            let high: Vec<i32> = fds
                .iter()
                .map(|fd| nix::libc::fcntl(*fd, nix::libc::F_DUPFD, 100))
                .collect();
            for (i, fd) in high.iter().enumerate() {
                if nix::libc::dup2(*fd, 3 + i as i32) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

#[test]
fn an_attached_terminal_comes_back_after_a_restart() {
    use std::io::{Read, Write};
    let port = free_port();
    let (env, d) = setup("restart-attach", port);
    let id = start(&d, "echo ATTACHED; while read l; do echo \"got:$l\"; done");
    let pid = info(&d, &id)["pid"].as_i64().unwrap();
    let _reaper = Reaper(vec![pid]);
    let mut attach = env
        .cli(&d)
        .args(["terminal", "attach", &id])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = attach.stdin.take().unwrap();
    let mut stdout = attach.stdout.take().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                return;
            }
            s.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let has = |needle: &str| {
        let seen = seen.clone();
        let needle = needle.to_string();
        wait_until(WAIT, &needle.clone(), move || {
            crate::attention::flatten(&seen.lock().unwrap())
                .contains(&needle)
                .then_some(())
        })
    };
    has("ATTACHED");
    stdin.write_all(b"one\n").unwrap();
    has("got:one");
    d.api("POST", "/api/daemon/restart", None).expect_ok();
    let mut d = d;
    assert!(d.wait_exit(WAIT).success());
    let d2 = Daemon::start_on(&env, port);
    // The attach reconnects by itself and the screen is drawn again from the scrollback.
    wait_until(WAIT, "the screen drawn again", || {
        let seen = seen.lock().unwrap();
        let at = seen.windows(2).position(|w| w == b"\x1bc")?;
        crate::attention::flatten(&seen[at..])
            .contains("got:one")
            .then_some(())
    });
    stdin.write_all(b"two\n").unwrap();
    has("got:two");
    d2.api("DELETE", &format!("/api/terminal/sessions/{id}"), None)
        .expect_ok();
    // Its end reaches the attached terminal, with the real exit code (SIGHUP: 129).
    let status = attach.wait().unwrap();
    assert_eq!(status.code(), Some(129), "{status}");
}
