//! What the CLI says when something is wrong or done: the daemon's message with a next
//! step (never a bare HTTP status), the prices a provider charges, where a deleted
//! profile's home stays, a failed bind said once with what to do, the man pages it
//! points to, and a daemon log without colour codes.

use std::process::Stdio;

use serde_json::{Value, json};

use super::*;

fn run(env: &TestEnv, d: &Daemon, args: &[&str]) -> (bool, String, String) {
    let out = env.cli(d).args(args).stdin(Stdio::null()).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn errors_end_with_a_next_step() {
    let env = TestEnv::new("texts");
    let d = Daemon::start(&env);
    for (args, expected) in [
        (
            vec!["profiles", "show", "nope"],
            "error: Profile 'nope' not found; see 'clown profiles list'\n",
        ),
        (
            vec!["proxy", "start", "nope"],
            "error: Profile 'nope' not found; see 'clown profiles list'\n",
        ),
        (
            vec!["terminal", "new", "nope"],
            "error: Profile 'nope' not found; see 'clown profiles list'\n",
        ),
        (
            vec!["agents", "show", "nope"],
            "error: Agent 'nope' not found; known agents: claude, codex, gemini, qwen, grok, droid, opencode; see 'clown agents list'\n",
        ),
        (
            vec![
                "profiles",
                "create",
                "x",
                "--agent",
                "nope",
                "--provider",
                "anthropic",
            ],
            "error: Unknown agent 'nope'; known agents: claude, codex, gemini, qwen, grok, droid, opencode\n",
        ),
        (
            vec!["usage", "--period", "fortnight"],
            "; see 'clown usage --help'\n",
        ),
    ] {
        let (ok, _, err) = run(&env, &d, &args);
        assert!(!ok, "{args:?}");
        assert!(err.ends_with(expected), "{args:?}: {err}");
        assert!(!err.contains("HTTP"), "{err}");
    }
}

#[test]
fn providers_show_their_prices_and_delete_says_where_the_home_stays() {
    let env = TestEnv::new("texts-done");
    let d = Daemon::start(&env);
    let (ok, out, _) = run(&env, &d, &["providers", "show", "anthropic"]);
    assert!(ok);
    assert!(out.contains("prices in USD per million tokens:"), "{out}");
    let sonnet = out
        .lines()
        .find(|l| l.starts_with("claude-sonnet-4 "))
        .unwrap_or_else(|| panic!("a price line for claude-sonnet-4: {out}"));
    let cells: Vec<&str> = sonnet.split_whitespace().collect();
    assert_eq!(cells, ["claude-sonnet-4", "$3", "$15", "$3.75", "$0.3"]);

    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "w", "provider_id": "anthropic", "api_key": "sk-ant-0123456789abcdef"}),
    );
    let (ok, out, _) = run(&env, &d, &["profiles", "delete", "w"]);
    assert!(ok);
    assert!(
        out.contains("its home ~/.claude-profiles/w is kept")
            && out.contains("rm -r ~/.claude-profiles/w")
            && out.contains("--purge"),
        "{out}"
    );
    assert!(env.home.join(".claude-profiles/w").is_dir());
}

#[test]
fn a_taken_port_is_said_once_with_what_to_do() {
    let env = TestEnv::new("texts-port");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = env
        .clown()
        .args(["daemon", "--listen", &addr])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("already in use").count(), 1, "{err}");
    assert!(
        err.contains(&format!("cannot listen on {addr}"))
            && err.contains("--listen 127.0.0.1:PORT"),
        "{err}"
    );
}

#[test]
fn the_daemon_log_has_no_colour_codes() {
    let env = TestEnv::new("log-colour");
    let port = free_port();
    env.write_config(&format!("listen = [\"127.0.0.1:{port}\"]\n"));
    // Nothing listens: the CLI starts the daemon with its output in daemon.log.
    let out = env.clown().args(["status", "--json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pid = status["pid"].as_i64().unwrap() as i32;
    let log = env.state_dir().join("daemon.log");
    let text = wait_until(WAIT, "the daemon's log", || {
        let t = std::fs::read_to_string(&log).unwrap_or_default();
        t.contains("listening on").then_some(t)
    });
    send_signal(pid, SIGTERM);
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in {}:\n{text:?}",
        log.display()
    );
    wait_until(WAIT, "the daemon to stop", || {
        let gone = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_or(true, |s| s.split_whitespace().nth(2) == Some("Z"));
        gone.then_some(())
    });
}

#[test]
fn the_man_pages_exist_for_every_command_they_name() {
    let env = TestEnv::new("man");
    let dir = env.root.join("man");
    let out = env
        .clown()
        .args(["generate", "man", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pages: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    for must in [
        "clown.1",
        "clown-profiles-create.1",
        "clown-doctor.1",
        "clown-service-install.1",
    ] {
        assert!(pages.iter().any(|p| p == must), "{must} in {pages:?}");
    }
    let mut named = 0;
    for page in &pages {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        for (i, _) in text.match_indices("(1)") {
            let start = text[..i]
                .rfind(|c: char| c.is_whitespace())
                .map_or(0, |s| s + 1);
            let name = text[start..i].replace("\\-", "-");
            if name.starts_with("clown") {
                named += 1;
                assert!(
                    pages.contains(&format!("{name}.1")),
                    "{page} points to {name}(1), which was not written"
                );
            }
        }
    }
    assert!(named > 20, "the pages name their commands ({named})");
    // The single page on stdout names no help page either.
    let out = env.clown().args(["generate", "man"]).output().unwrap();
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains("clown\\-doctor(1)") && !page.contains("clown\\-help(1)"));
}
