//! Terminal sessions: the API, the WebSocket protocol (asserting the bytes a client
//! sees), process handling (signals, exit codes, whole process groups), limits and bad
//! input, slow clients, the daemon's shutdown, the CLI, and the real Claude Code.
//!
//! The test agent is `/bin/sh` under another name, declared in the test home's user
//! registry and found through `agents.extra_paths`, so each session runs a script given
//! as its `args`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::*;
use crate::ws::{Frame, Ws};

const AGENT_BIN: &str = "clown-test-sh";
const MISSING_BIN: &str = "clown-no-such-agent";

fn manifest(id: &str, binary: &str) -> Value {
    json!({
        "id": id, "name": format!("Test agent {id}"), "binary": binary,
        "npm_package": "none", "version_args": ["--version"], "version_regex": "(\\d+)",
        "profile_strategy": "env", "launcher": "env", "protocol": "anthropic",
        "home_env": null, "base_url_env": "TEST_AGENT_BASE_URL",
        "api_key_env": "TEST_AGENT_KEY", "model_env": null,
        "extra_env": {"TEST_AGENT_EXTRA": "yes"}, "supports_hooks": false,
        "default_model": "claude-sonnet-4", "supported_models": ["claude-sonnet-4"]
    })
}

/// A daemon whose profile `t` runs the shell agent; `extra_config` opens the config file.
pub fn setup(name: &str, extra_config: &str) -> (TestEnv, Daemon) {
    let env = TestEnv::new(name);
    prepare(&env, extra_config);
    let d = Daemon::start(&env);
    for (alias, agent) in [("t", "testsh"), ("ghosty", "ghost")] {
        create_profile(
            &d,
            json!({"agent_id": agent, "alias": alias, "provider_id": "anthropic", "api_key": "sk-test-key-0123456789"}),
        );
    }
    (env, d)
}

/// The test agents (user registry) and the config naming their directory.
pub fn prepare(env: &TestEnv, extra_config: &str) {
    let bin = env.root.join("agents");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink("/bin/sh", bin.join(AGENT_BIN)).unwrap();
    let registry = env.home.join(".config/clown/registry");
    std::fs::create_dir_all(&registry).unwrap();
    let agents = json!({"version": 1, "agents": [manifest("testsh", AGENT_BIN), manifest("ghost", MISSING_BIN)]});
    std::fs::write(registry.join("agents.json"), agents.to_string()).unwrap();
    env.write_config(&format!(
        "{extra_config}\n[agents]\nextra_paths = [\"{}\"]\n",
        bin.display()
    ));
}

/// Starts `script` in a session of profile `t`; returns the session id.
pub fn start(d: &Daemon, script: &str) -> String {
    start_with(d, json!({"profile_alias": "t", "args": ["-c", script]}))
}

/// Starts `script` in a session of profile `alias` (a shell-agent profile).
pub fn start_profile(d: &Daemon, alias: &str, script: &str) -> String {
    start_with(d, json!({"profile_alias": alias, "args": ["-c", script]}))
}

fn start_with(d: &Daemon, body: Value) -> String {
    let data = d
        .api("POST", "/api/terminal/sessions", Some(&body))
        .expect_ok();
    let id = data["session_id"].as_str().unwrap().to_string();
    assert_eq!(data["ws_url"], format!("/ws/terminal/{id}"));
    id
}

/// A WebSocket client of one session that keeps everything it received.
struct Client {
    ws: Ws,
    out: Vec<u8>,
    /// Every frame in arrival order (binary payloads included).
    frames: Vec<Frame>,
}

impl Client {
    fn open(d: &Daemon, id: &str) -> Self {
        let mut ws = crate::ws::connect(d.port, &format!("/ws/terminal/{id}"), &d.token);
        let first = ws.read_frame(WAIT).expect("a first frame");
        let Frame::Text(t) = &first else {
            panic!("first frame is not text: {first:?}")
        };
        let v: Value = serde_json::from_str(t).unwrap();
        assert_eq!(v, json!({"type": "connected", "session_id": id}));
        Self {
            ws,
            out: Vec::new(),
            frames: vec![first],
        }
    }

    /// Reads one frame (None on timeout or close); keeps it.
    fn pump(&mut self, timeout: Duration) -> Option<Frame> {
        let f = self.ws.read_frame(timeout)?;
        if let Frame::Binary(b) = &f {
            self.out.extend_from_slice(b);
        }
        self.frames.push(f.clone());
        Some(f)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.out).to_string()
    }

    /// Reads until the output holds `needle`.
    fn wait_output(&mut self, needle: &str) {
        self.wait_output_for(needle, WAIT)
    }

    fn wait_output_for(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        // Only new bytes are searched (with an overlap), so long outputs stay cheap.
        let mut from: usize = 0;
        loop {
            let start = from.saturating_sub(needle.len());
            if contains(&self.out[start..], needle.as_bytes()) {
                return;
            }
            from = self.out.len();
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero() && self.pump(left).is_some(),
                "no {needle:?} in the output within {timeout:?}; got {:?}",
                tail(&self.text())
            );
        }
    }

    /// Reads until a JSON text frame of `kind` arrives; returns it.
    fn wait_json(&mut self, kind: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.pump(left) {
                Some(Frame::Text(t)) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == kind {
                        return v;
                    }
                }
                Some(_) => {}
                None => panic!(
                    "no {kind} message; frames {:?}, output {:?}",
                    self.frames
                        .iter()
                        .filter(|f| !matches!(f, Frame::Binary(_)))
                        .collect::<Vec<_>>(),
                    tail(&self.text())
                ),
            }
        }
    }

    fn send(&mut self, input: &str) {
        self.ws.send_binary(input.as_bytes());
    }

    fn control(&mut self, v: Value) {
        self.ws.send_text(&v.to_string());
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn tail(s: &str) -> &str {
    let start = s.len().saturating_sub(2000);
    let start = (start..s.len())
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(0);
    &s[start..]
}

fn session(d: &Daemon, id: &str) -> Value {
    d.get(&format!("/api/terminal/sessions/{id}")).expect_ok()
}

/// Whether `pid` is gone (or a zombie waiting to be reaped: it has ended).
fn dead(pid: i64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            let state = stat[stat.rfind(')').unwrap() + 1..]
                .split_whitespace()
                .next();
            state == Some("Z") || state == Some("X")
        }
    }
}

/// The numbers printed as `NAME=<pid>` in `text`.
fn pids(text: &str, names: &[&str]) -> Vec<i64> {
    names
        .iter()
        .map(|n| {
            let at = text
                .find(&format!("{n}="))
                .unwrap_or_else(|| panic!("{n} in {text}"));
            text[at + n.len() + 1..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .unwrap()
        })
        .collect()
}

/// A script that starts descendants that ignore SIGHUP and SIGTERM (one in a process
/// group of its own), prints their pids, then waits.
const STUBBORN: &str = r#"trap '' HUP TERM
sh -c 'sleep 1000' &
echo "CHILD=$!"
bash -c 'set -m; sleep 1000 & echo "GROUPED=$!"; wait' &
sh -c 'sleep 1000 & echo "GRANDCHILD=$!"; wait' &
sleep 0.3
echo "READY-$((40+2))"
wait"#;

#[test]
fn echo_environment_and_exit_codes() {
    let (env, d) = setup("term-basic", "");
    let mut events = crate::ws::connect(d.port, "/ws/events", &d.token);
    // Echo round trip: input goes to the program, its answer comes back.
    let id = start(&d, "while read l; do echo \"got:$l\"; done");
    let info = session(&d, &id);
    assert_eq!(info["profile_alias"], "t");
    assert_eq!(info["state"], "running");
    assert_eq!(
        (info["cols"].clone(), info["rows"].clone()),
        (json!(80), json!(24))
    );
    assert!(info["pid"].as_i64().unwrap() > 1);
    assert!(info["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(info.get("exit_code").is_none(), "{info}");
    let mut c = Client::open(&d, &id);
    assert_eq!(session(&d, &id)["client_count"], 1);
    c.send("hello\r");
    c.wait_output("got:hello");
    let list = d.get("/api/terminal/sessions").expect_ok();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id.as_str());
    for k in [
        "id",
        "profile_alias",
        "state",
        "created_at",
        "pid",
        "cols",
        "rows",
        "client_count",
    ] {
        assert!(list[0].get(k).is_some(), "{k} in {}", list[0]);
    }

    // The environment is explicit: the base, the launch variables, nothing else.
    let id2 = start(&d, "env | sort; echo cwd=$(pwd); echo ENV-DONE");
    let mut c2 = Client::open(&d, &id2);
    c2.wait_output("ENV-DONE");
    let text = c2.text();
    let home = env.home.join(".testsh-profiles/t");
    for line in [
        "TERM=xterm-256color",
        "TEST_AGENT_KEY=sk-test-key-0123456789",
        "TEST_AGENT_EXTRA=yes",
        "TEST_AGENT_BASE_URL=https://api.anthropic.com",
        &format!("HOME={}", env.home.display()),
        "TZ=UTC",
        &format!("cwd={}", home.display()),
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    for absent in ["NOTIFY_SOCKET", "CLOWN_LOG", "LISTEN_"] {
        assert!(!text.contains(absent), "{absent} leaked: {text}");
    }
    assert_eq!(
        c2.wait_json("state_changed"),
        json!({"type": "state_changed", "state": "terminated", "exit_code": 0})
    );

    // Exit codes: the code, or 128 + the signal.
    for (script, code) in [("exit 5", 5), ("kill -9 $$", 137)] {
        let id = start(&d, script);
        let mut c = Client::open(&d, &id);
        let v = c.wait_json("state_changed");
        assert_eq!(
            v,
            json!({"type": "state_changed", "state": "terminated", "exit_code": code}),
            "{script}"
        );
        let info = session(&d, &id);
        assert_eq!(info["state"], "terminated");
        assert_eq!(info["exit_code"], code);
    }
    // Signal 2 goes to the foreground process group and interrupts a sleep.
    let id3 = start(&d, "echo SLEEPING; exec sleep 100");
    let mut c3 = Client::open(&d, &id3);
    c3.wait_output("SLEEPING");
    c3.control(json!({"type": "signal", "signal": 2}));
    assert_eq!(c3.wait_json("state_changed")["exit_code"], 130);

    // Each ended session is a usage session of its profile and touches last_used.
    c.send("\x04");
    assert_eq!(c.wait_json("state_changed")["exit_code"], 0);
    let ids = [&id, &id2, &id3];
    let rows = wait_until(WAIT, "usage rows", || {
        let rows = usage_sessions(&env);
        (rows.len() >= 5).then_some(rows)
    });
    for sid in ids {
        let row = rows
            .iter()
            .find(|r| r["session_id"] == sid.as_str())
            .unwrap_or_else(|| panic!("{sid} in {rows:?}"));
        assert_eq!(row["profile"], "t");
        assert_eq!(row["source"], "terminal");
        assert!(row["ended_at"].as_i64().unwrap() >= row["started_at"].as_i64().unwrap());
    }
    let row = rows
        .iter()
        .find(|r| r["session_id"] == id3.as_str())
        .unwrap();
    assert_eq!(row["exit_code"], 130);
    assert!(session(&d, &id3)["exit_code"] == 130);
    assert!(d.get("/api/profiles/t").expect_ok()["last_used"].is_string());
    // The bus announced starts and ends.
    let frames = events
        .read_text_frames_until("a session's start and end", |f| {
            f.iter().any(|f| f.contains("terminal_session_created"))
                && f.iter().any(|f| f.contains("terminal_state_changed"))
        })
        .join("\n");
    assert!(!frames.contains("sk-test-key"), "no secret in events");
}

/// The usage_sessions table, read directly.
fn usage_sessions(env: &TestEnv) -> Vec<Value> {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg("import sqlite3,sys,json\nc=sqlite3.connect(sys.argv[1])\nc.row_factory=sqlite3.Row\nprint(json.dumps([dict(r) for r in c.execute('select * from usage_sessions')]))")
        .arg(env.data_dir().join("clown.db"))
        .output()
        .unwrap();
    serde_json::from_slice::<Value>(&out.stdout)
        .map(|v| v.as_array().cloned().unwrap_or_default())
        .unwrap_or_default()
}

#[test]
fn shared_output_scrollback_and_resize() {
    let (_env, d) = setup("term-shared", "");
    let id = start_with(
        &d,
        json!({"profile_alias": "t", "cols": 100, "rows": 30, "args": ["-c",
            "echo EARLY-OUTPUT; stty size; read go; i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done; echo ALL-DONE; read x; stty size; read y"]}),
    );
    let mut a = Client::open(&d, &id);
    a.wait_output("30 100");
    // A late client gets the scrollback first, as one binary frame after `connected`.
    let mut b = Client::open(&d, &id);
    match b.pump(WAIT) {
        Some(Frame::Binary(bytes)) => {
            let text = String::from_utf8_lossy(&bytes);
            assert!(text.starts_with("EARLY-OUTPUT\r\n"), "{text}");
            assert!(text.contains("30 100"), "{text}");
        }
        other => panic!("expected the scrollback, got {other:?}"),
    }
    assert_eq!(session(&d, &id)["client_count"], 2);
    // Both see the same output, byte for byte.
    a.send("go\r");
    a.wait_output("ALL-DONE");
    b.wait_output("ALL-DONE");
    let run = |c: &Client| {
        let t = c.text();
        let from = t.find("line-0").unwrap();
        let to = t.find("ALL-DONE").unwrap();
        t[from..to].to_string()
    };
    assert_eq!(run(&a), run(&b));
    assert!(run(&a).contains("line-299\r\n"));
    // Malformed control messages are answered with an error; the connection stays.
    for bad in [
        "not json".to_string(),
        json!({"type": "resize", "cols": 0, "rows": 5}).to_string(),
        json!({"type": "resize", "cols": 80}).to_string(),
        json!({"type": "signal", "signal": 11}).to_string(),
        json!({"type": "dance"}).to_string(),
    ] {
        b.ws.send_text(&bad);
        let e = b.wait_json("error");
        assert!(e["message"].as_str().unwrap().len() > 5, "{bad}: {e}");
    }
    // Resize reaches the program.
    b.control(json!({"type": "resize", "cols": 123, "rows": 45}));
    let info = wait_until(WAIT, "the new size", || {
        let i = session(&d, &id);
        (i["cols"] == 123).then_some(i)
    });
    assert_eq!(info["rows"], 45);
    b.send("\r");
    b.wait_output("45 123");
    a.wait_output("45 123");
    drop(a);
    wait_until(WAIT, "one client left", || {
        (session(&d, &id)["client_count"] == 1).then_some(())
    });
}

#[test]
fn delete_ends_the_whole_session_and_cleanup() {
    let (_env, d) = setup("term-delete", "[terminal]\nmax_sessions = 2\n");
    let id = start(&d, STUBBORN);
    let mut c = Client::open(&d, &id);
    c.wait_output("READY-42");
    let pids = pids(&c.text(), &["CHILD", "GROUPED", "GRANDCHILD"]);
    assert!(pids.iter().all(|p| !dead(*p)), "{pids:?} run");
    // The limit counts running sessions.
    let other = start(&d, "exec sleep 1000");
    let r = d.api(
        "POST",
        "/api/terminal/sessions",
        Some(&json!({"profile_alias": "t", "args": ["-c", "exit 0"]})),
    );
    assert!(r.expect_error(409).contains("max_sessions"), "{}", r.text());
    assert_eq!(
        d.get("/api/terminal/sessions")
            .expect_ok()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // DELETE ends everything, even what ignores SIGHUP and SIGTERM, then answers.
    let started = Instant::now();
    let r = d.api("DELETE", &format!("/api/terminal/sessions/{id}"), None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"success": true}));
    for pid in &pids {
        assert!(dead(*pid), "{pid} survived DELETE");
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    let info = session(&d, &id);
    assert_eq!(info["state"], "terminated");
    assert_eq!(
        info["exit_code"], 137,
        "the shell ignored HUP and TERM: {info}"
    );
    assert_eq!(c.wait_json("state_changed")["exit_code"], 137);
    // Deleting again is harmless; unknown ids are 404.
    d.api("DELETE", &format!("/api/terminal/sessions/{id}"), None)
        .expect_ok();
    for bad in ["46e15057-abbb-42cd-ad0e-52471a76ef9f", "nope"] {
        let msg = d
            .get(&format!("/api/terminal/sessions/{bad}"))
            .expect_error(404);
        assert_eq!(msg, format!("Terminal session '{bad}' not found"));
        d.api("DELETE", &format!("/api/terminal/sessions/{bad}"), None)
            .expect_error(404);
    }
    // A slot is free again; cleanup drops only the terminated session.
    let third = start(&d, "exec sleep 1000");
    let r = d.api("POST", "/api/terminal/cleanup", None);
    assert_eq!(r.json(), json!({"success": true}));
    let ids: Vec<String> = d
        .get("/api/terminal/sessions")
        .expect_ok()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, vec![other.clone(), third.clone()]);
    d.get(&format!("/api/terminal/sessions/{id}"))
        .expect_error(404);
    // A client of a removed session is disconnected.
    let closed = wait_until(WAIT, "the close frame", || {
        match c.pump(Duration::from_millis(200)) {
            Some(Frame::Close(code)) => Some(code),
            _ => None,
        }
    });
    assert_eq!(closed, Some(1000));
    // Unknown sessions on the WebSocket: an error, then a close.
    let mut ws = crate::ws::connect(
        d.port,
        "/ws/terminal/46e15057-abbb-42cd-ad0e-52471a76ef9f",
        &d.token,
    );
    assert_eq!(
        ws.read_frame(WAIT),
        Some(Frame::Text(
            json!({"type": "error", "message": "Session not found"}).to_string()
        ))
    );
    assert_eq!(ws.read_frame(WAIT), Some(Frame::Close(Some(4404))));
    // A profile with a running session is deleted only with force, which ends it.
    let msg = d.api("DELETE", "/api/profiles/t", None).expect_error(409);
    assert!(msg.contains("force=true"), "{msg}");
    d.api("DELETE", "/api/profiles/t?force=true", None)
        .expect_ok();
    for sid in [&other, &third] {
        assert_eq!(session(&d, sid)["state"], "terminated");
    }
}

#[test]
fn bad_input_starts_nothing() {
    let (env, d) = setup("term-bad", "");
    let file = env.root.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let bad = |body: Value, status: u16| {
        d.api("POST", "/api/terminal/sessions", Some(&body))
            .expect_error(status)
    };
    assert_eq!(
        bad(json!({"profile_alias": "ghost"}), 404),
        "Profile 'ghost' not found"
    );
    for (field, value) in [
        ("cols", json!(0)),
        ("cols", json!(1001)),
        ("rows", json!(0)),
        ("rows", json!(5000)),
        ("cols", json!("80")),
        ("rows", json!(2.5)),
    ] {
        let msg = bad(json!({"profile_alias": "t", field: value}), 400);
        assert!(msg.starts_with(field), "{field}={value}: {msg}");
    }
    for args in [json!([1]), json!("-x"), json!([["a"]]), json!({"a": "b"})] {
        let msg = bad(json!({"profile_alias": "t", "args": args}), 400);
        assert!(msg.contains("args"), "{msg}");
    }
    for dir in [
        "/nonexistent/dir".to_string(),
        file.display().to_string(),
        "relative".to_string(),
    ] {
        let msg = bad(json!({"profile_alias": "t", "working_dir": dir}), 400);
        assert!(msg.contains("working_dir") && msg.contains(&dir), "{msg}");
    }
    let msg = bad(json!({"profile_alias": "ghosty"}), 400);
    assert!(msg.contains(MISSING_BIN), "names the binary: {msg}");
    assert!(bad(json!({"args": []}), 400).contains("profile_alias"));
    assert!(bad(json!({"profile_alias": "t", "shell": "zsh"}), 400).contains("shell"));
    let auth = format!("Bearer {}", d.token);
    let r = request(
        d.port,
        "POST",
        "/api/terminal/sessions",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        b"{\"profile_alias\":",
    );
    assert!(r.expect_error(400).contains("Malformed JSON"));
    // None of that started anything.
    assert_eq!(d.get("/api/terminal/sessions").expect_ok(), json!([]));
    assert_eq!(
        d.get("/api/profiles/t").expect_ok()["last_used"],
        Value::Null
    );
    // A given working directory is used.
    let id = start_with(
        &d,
        json!({"profile_alias": "t", "working_dir": env.root.display().to_string(), "args": ["-c", "echo at=$(pwd)"]}),
    );
    let mut c = Client::open(&d, &id);
    c.wait_output(&format!("at={}", env.root.display()));
}

#[test]
fn a_stalled_client_does_not_delay_another() {
    let (_env, d) = setup("term-stall", "");
    const BYTES: usize = 20_000_000;
    let id = start(
        &d,
        &format!("read go; yes 0123456789abcdef | head -c {BYTES}; echo; echo FINISHED; read x"),
    );
    // The stalled client completes the handshake and never reads again.
    let stalled = crate::ws::connect(d.port, &format!("/ws/terminal/{id}"), &d.token);
    let mut good = Client::open(&d, &id);
    wait_until(WAIT, "two clients", || {
        (session(&d, &id)["client_count"] == 2).then_some(())
    });
    let started = Instant::now();
    good.send("go\r");
    good.wait_output_for("FINISHED", Duration::from_secs(60));
    let took = started.elapsed();
    assert!(
        good.out.len() > BYTES,
        "every byte arrived: {}",
        good.out.len()
    );
    // The stalled socket is dropped after 10 s of no progress; everything above happened
    // without waiting for it.
    assert!(took < Duration::from_secs(9), "took {took:?}");
    drop(stalled);
}

#[test]
fn daemon_shutdown_ends_every_session() {
    let (_env, mut d) = setup("term-shutdown", "");
    let id = start(&d, STUBBORN);
    let mut c = Client::open(&d, &id);
    c.wait_output("READY-42");
    let mut pids = pids(&c.text(), &["CHILD", "GROUPED", "GRANDCHILD"]);
    pids.push(session(&d, &id)["pid"].as_i64().unwrap());
    let _second = start(&d, "exec sleep 1000");
    d.signal(SIGTERM);
    let status = d.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "{status}: {}", d.stderr());
    for pid in pids {
        assert!(dead(pid), "{pid} outlived the daemon");
    }
    let mut saw = Vec::new();
    while let Some(f) = c.pump(Duration::from_secs(2)) {
        saw.push(f);
    }
    assert!(
        saw.iter().any(|f| matches!(f, Frame::Close(Some(1001)))),
        "{saw:?}"
    );
}

#[test]
fn cli_terminal_commands() {
    let (env, d) = setup("term-cli", "");
    let clown = |args: &[&str]| {
        env.cli(&d)
            .args(["terminal"])
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let out = clown(&[
        "new",
        "t",
        "--cols",
        "90",
        "--rows",
        "20",
        "--",
        "-c",
        "while read l; do echo \"cli:$l\"; done",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let info = session(&d, &id);
    assert_eq!(
        (info["cols"].clone(), info["rows"].clone()),
        (json!(90), json!(20))
    );
    let out = clown(&["list"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains(&id) && table.contains("running"), "{table}");
    // Attach (by a unique prefix) forwards input and output; Ctrl-] detaches and the
    // session goes on.
    let mut child = env
        .cli(&d)
        .args(["terminal", "attach", &id[..8]])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::{Read, Write};
    let mut stdin = child.stdin.take().unwrap();
    let mut child_out = child.stdout.take().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = child_out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    stdin.write_all(b"from-the-cli\r").unwrap();
    // The detach key only once the answer has been shown.
    wait_until(WAIT, "the answer on the CLI's stdout", || {
        contains(&seen.lock().unwrap(), b"cli:from-the-cli").then_some(())
    });
    stdin.write_all(b"\x1d").unwrap();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let stdout = String::from_utf8_lossy(&seen.lock().unwrap()).to_string();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("cli:from-the-cli"), "{stdout}");
    assert_eq!(session(&d, &id)["state"], "running");
    let out = clown(&["kill", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(session(&d, &id)["state"], "terminated");
    let out = clown(&["cleanup"]);
    assert!(out.status.success());
    assert_eq!(d.get("/api/terminal/sessions").expect_ok(), json!([]));
    // Errors name the problem and exit non-zero.
    let out = clown(&["attach", "does-not-exist"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does-not-exist"));
    let out = clown(&["new", "ghost"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("Profile 'ghost' not found"));
}

#[test]
fn real_claude_code_in_a_session() {
    let env = TestEnv::new("term-claude");
    let upstream = crate::upstream::Upstream::start(crate::upstream::Script {
        reply: "PONG-FROM-THE-TEST-UPSTREAM".into(),
        ..Default::default()
    });
    env.write_config(&format!(
        "[agents]\nextra_paths = [\"{}\"]\n",
        deps_bin().display()
    ));
    let d = Daemon::start(&env);
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "cc", "provider_id": "anthropic", "model": "claude-sonnet-4",
               "api_key": "sk-ant-api03-TEST-0123456789-abcdefghijklmnop", "base_url": upstream.url()}),
    );
    let project: PathBuf = env.root.join("project");
    std::fs::create_dir_all(&project).unwrap();
    let id = start_with(
        &d,
        json!({"profile_alias": "cc", "cols": 120, "rows": 40, "working_dir": project.display().to_string()}),
    );
    let mut c = Client::open(&d, &id);
    // Its prompt: the input box with the shortcuts hint.
    c.wait_output_for("for shortcuts", Duration::from_secs(60));
    // Typed text, then Enter (a separate write, as a person types).
    c.send("say pong please");
    // The screen draws words with cursor moves between them.
    c.wait_output("please");
    c.send("\r");
    let request = wait_until(
        Duration::from_secs(60),
        "the prompt to reach the upstream",
        || {
            upstream
                .messages()
                .into_iter()
                .find(|m| String::from_utf8_lossy(&m.body).contains("say pong please"))
        },
    );
    assert_eq!(request.json()["model"], "claude-sonnet-4");
    c.wait_output_for("PONG-FROM-THE-TEST-UPSTREAM", Duration::from_secs(60));
    d.api("DELETE", &format!("/api/terminal/sessions/{id}"), None)
        .expect_ok();
    assert_eq!(session(&d, &id)["state"], "terminated");
}

#[test]
fn no_idle_exit_while_a_session_runs() {
    let env = TestEnv::new("term-idle");
    prepare(&env, "idle_exit_secs = 1\n");
    let (mut activator, port) = crate::service_manager::socket_activated(&env, None);
    request(port, "GET", "/api/daemon/status", &[], b"").expect_error(401);
    let auth = format!("Bearer {}", env.token());
    let post = |path: &str, body: Value| {
        request(
            port,
            "POST",
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.to_string().as_bytes(),
        )
    };
    post("/api/profiles", json!({"agent_id": "testsh", "alias": "t", "provider_id": "anthropic", "api_key": "sk-test-key-0123456789"}))
        .expect_ok();
    let id = post(
        "/api/terminal/sessions",
        json!({"profile_alias": "t", "args": ["-c", "exec sleep 1000"]}),
    )
    .expect_ok()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    // No connection is open and idle_exit_secs has passed several times over: the
    // running session keeps the daemon up.
    holds_for(
        Duration::from_millis(3500),
        "the daemon running while a session runs",
        || activator.try_wait().unwrap().is_none(),
    );
    request(
        port,
        "DELETE",
        &format!("/api/terminal/sessions/{id}"),
        &[("Authorization", &auth)],
        b"",
    )
    .expect_ok();
    // With the session ended, idle exit happens (exit 0).
    let status = wait_until(Duration::from_secs(15), "idle exit", || {
        activator.try_wait().unwrap()
    });
    assert!(status.success(), "{status}");
}

#[test]
fn every_client_sees_the_end_before_the_removal_under_churn() {
    let (_env, d) = setup("term-end-churn", "");
    for round in 0..120 {
        // A session that ends as soon as it reads a line, removed by a cleanup racing its
        // end: the attached client must get the exit code first.
        let id = start(&d, "read x; exit 7");
        let mut c = Client::open(&d, &id);
        c.ws.send_binary(b"\n");
        loop {
            d.api("POST", "/api/terminal/cleanup", None).expect_ok();
            if d.get(&format!("/api/terminal/sessions/{id}")).status == 404 {
                break;
            }
        }
        let mut end = None;
        loop {
            match c.pump(WAIT) {
                Some(Frame::Text(t)) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == "state_changed" {
                        end = Some(v);
                    }
                }
                Some(Frame::Close(code)) => {
                    let end = end.unwrap_or_else(|| {
                        panic!(
                            "round {round}: closed ({code:?}) without the end; {:?}",
                            c.frames
                        )
                    });
                    assert_eq!(end["exit_code"], 7, "round {round}");
                    break;
                }
                Some(_) => {}
                None => panic!("round {round}: no close; {:?}", c.frames),
            }
        }
    }
}
