//! Interactive `clown profiles create` (stdin a terminal) checks every other argument
//! with the daemon before it asks for the key: a typo costs no typed secret.

use std::io::{Read, Write};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::json;

use super::*;

/// `clown profiles create ARGS` with its stdin on a new terminal; returns the child, the
/// terminal's master side and its stderr as it arrives.
fn create_at_a_terminal(
    env: &TestEnv,
    d: &Daemon,
    args: &[&str],
) -> (Child, std::fs::File, Arc<Mutex<String>>) {
    let pty = nix::pty::openpty(None, None).expect("a pseudo-terminal");
    let mut child = env
        .cli(d)
        .args(["profiles", "create"])
        .args(args)
        .stdin(Stdio::from(pty.slave))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut pipe = child.stderr.take().unwrap();
    let sink = stderr.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    (child, std::fs::File::from(pty.master), stderr)
}

/// Waits for the child to exit on its own (a prompt would keep it waiting for a key).
fn exits_without_asking(mut child: Child, stderr: &Arc<Mutex<String>>) -> String {
    let status = wait_until(WAIT, "create to give up without asking for a key", || {
        let asked = stderr.lock().unwrap().contains("API key for");
        if asked {
            let _ = child.kill();
            panic!(
                "asked for the key before checking: {}",
                stderr.lock().unwrap()
            );
        }
        child.try_wait().unwrap()
    });
    assert!(!status.success());
    // The reader thread has the last bytes once the pipe closes.
    wait_until(WAIT, "stderr", || {
        let s = stderr.lock().unwrap().clone();
        s.ends_with('\n').then_some(s)
    })
}

#[test]
fn every_other_argument_is_checked_before_the_key_is_asked_for() {
    let env = TestEnv::new("create-order");
    let d = Daemon::start(&env);
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "taken", "provider_id": "anthropic", "api_key": "sk-ant-0123456789abcdef"}),
    );
    for (args, expected) in [
        (
            vec!["w", "--agent", "claud", "--provider", "anthropic"],
            "Unknown agent 'claud'; known agents: claude, codex, gemini, qwen, grok, droid, opencode",
        ),
        (
            vec!["w", "--agent", "claude", "--provider", "antropic"],
            "Unknown provider 'antropic'; known providers: anthropic, minimax",
        ),
        (
            vec![
                "w",
                "--agent",
                "claude",
                "--provider",
                "minimax",
                "--endpoint",
                "mars",
            ],
            "Unknown endpoint 'mars' for provider 'minimax' (known: ",
        ),
        (
            vec![
                "w",
                "--agent",
                "claude",
                "--provider",
                "anthropic",
                "--model",
                "claude-sonet-4",
            ],
            "does not offer model 'claude-sonet-4' (its models: ",
        ),
        (
            vec!["bad/alias", "--agent", "claude", "--provider", "anthropic"],
            "Invalid alias 'bad/alias'",
        ),
        (
            vec!["taken", "--agent", "claude", "--provider", "anthropic"],
            "Profile 'taken' already exists; choose another alias",
        ),
    ] {
        let (child, _master, stderr) = create_at_a_terminal(&env, &d, &args);
        let err = exits_without_asking(child, &stderr);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("HTTP"), "{err}");
    }
    assert_eq!(
        d.get("/api/profiles").expect_ok().as_array().unwrap().len(),
        1
    );
    assert!(!env.home.join(".claude-profiles/w").exists());

    // With every argument right, it asks, without echo, and creates the profile.
    let (mut child, mut master, stderr) = create_at_a_terminal(
        &env,
        &d,
        &["w", "--agent", "claude", "--provider", "anthropic"],
    );
    wait_until(WAIT, "the key prompt", || {
        stderr
            .lock()
            .unwrap()
            .contains("API key for anthropic (input hidden): ")
            .then_some(())
    });
    master.write_all(b"sk-ant-typed-0123456789wxyz\n").unwrap();
    let status = wait_until(WAIT, "create to finish", || child.try_wait().unwrap());
    assert!(status.success(), "{}", stderr.lock().unwrap());
    let p = d.get("/api/profiles/w").expect_ok();
    assert_eq!(
        (p["api_key_set"].clone(), p["api_key_hint"].clone()),
        (json!(true), json!("…wxyz"))
    );
}

#[test]
fn a_dry_run_checks_and_creates_nothing() {
    let env = TestEnv::new("dry-run");
    let d = Daemon::start(&env);
    let body = json!({"agent_id": "claude", "alias": "w", "provider_id": "minimax", "endpoint_id": "china"});
    let checked = d
        .api("POST", "/api/profiles?dry_run=true", Some(&body))
        .expect_ok();
    assert_eq!(
        checked,
        json!({"alias": "w", "message": "Profile can be created", "profile_home": "~/.claude-profiles/w",
               "requires_key": true, "dry_run": true})
    );
    assert_eq!(d.get("/api/profiles").expect_ok(), json!([]));
    assert!(!env.home.join(".claude-profiles/w").exists());
    // Without dry_run the key is still required.
    let msg = d
        .api("POST", "/api/profiles", Some(&body))
        .expect_error(400);
    assert!(msg.contains("needs an API key"), "{msg}");
    let bad = json!({"agent_id": "nope", "alias": "w", "provider_id": "minimax"});
    d.api("POST", "/api/profiles?dry_run=true", Some(&bad))
        .expect_error(400);
    d.api("POST", "/api/profiles?dry_run=maybe", Some(&body))
        .expect_error(400);
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "w", "provider_id": "minimax", "api_key": "sk-mm-0123456789"}),
    );
    d.api("POST", "/api/profiles?dry_run=true", Some(&body))
        .expect_error(409);
}
