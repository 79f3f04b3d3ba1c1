//! The real Claude Code in a sandboxed profile, through its proxy, against the test
//! upstream: it answers (in `clown profiles run` and in a terminal session), and the
//! command the upstream makes it run cannot read clown's files or other homes.

use std::process::Stdio;

use serde_json::{Value, json};

use super::*;
use crate::upstream::{Script, Upstream};

const KEY: &str = "sk-ant-api03-SANDBOXED-0123456789-abcdefghijklmnop-QRST";

/// The text of every `tool_result` in the Messages requests `up` received.
fn tool_results(up: &Upstream) -> Vec<String> {
    up.messages()
        .iter()
        .flat_map(|m| m.json()["messages"].as_array().cloned().unwrap_or_default())
        .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
        .filter(|b| b["type"] == "tool_result")
        .map(|b| match &b["content"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

#[test]
fn real_claude_code_in_the_sandbox() {
    let env = test_env("sb-claude");
    env.write_config(&format!(
        "[agents]\nextra_paths = [\"{}\"]\n",
        deps_bin().display()
    ));
    let d = Daemon::start(&env);
    let data = env.data_dir();
    let state = env.state_dir();
    let other = env.home.join(".claude-profiles/other");
    // Claude Code runs this through its Bash tool when the upstream asks it to.
    let command = format!(
        "cat {db} {state}/token {other}/secret; ls {other}; cat {h}/.claude.json; echo SANDBOX-PROBE-$((40 + 2))",
        db = data.join("clown.db").display(),
        state = state.display(),
        other = other.display(),
        h = env.home.display(),
    );
    let up = Upstream::start(Script {
        reply: "PONG-FROM-INSIDE-THE-SANDBOX".into(),
        tool_call: Some((
            "Bash".into(),
            json!({"command": command, "description": "Look around"}).to_string(),
        )),
        ..Default::default()
    });
    for (alias, sandbox) in [("work", true), ("other", false)] {
        create_profile(
            &d,
            json!({"agent_id": "claude", "alias": alias, "provider_id": "anthropic",
                   "model": "claude-sonnet-4", "api_key": KEY, "base_url": up.url(),
                   "proxy": {"enabled": true}, "sandbox": {"enabled": sandbox}}),
        );
    }
    std::fs::write(other.join("secret"), "OTHER-PROFILE-SECRET").unwrap();
    std::fs::write(env.home.join(".claude.json"), "{\"USER-OWN-CLAUDE\": 1}").unwrap();
    let project = env.root.join("project");
    std::fs::create_dir_all(&project).unwrap();
    let out = env
        .cli(&d)
        .args(["profiles", "run", "work", "--", "-p", "look around"])
        .args(["--allowedTools", "Bash"])
        .env("PATH", path_with_deps())
        .current_dir(&project)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let results = tool_results(&up);
    assert!(
        out.status.success() && stdout.contains("PONG-FROM-INSIDE-THE-SANDBOX"),
        "{stdout}\n{}\ntool results: {results:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It answered through its proxy: upstream saw the real key, Claude Code never had it.
    let messages = up.messages();
    assert!(messages.len() >= 2, "{} requests", messages.len());
    for m in &messages {
        assert_eq!(m.headers.get("x-api-key").map(String::as_str), Some(KEY));
    }
    // The command ran, in the sandbox: each read failed, nothing secret came back.
    let result = results
        .iter()
        .find(|r| r.contains("SANDBOX-PROBE-42"))
        .unwrap_or_else(|| panic!("the command's output did not come back: {results:?}"));
    for leaked in [
        "SQLite format 3",
        d.token.as_str(),
        "OTHER-PROFILE-SECRET",
        "USER-OWN-CLAUDE",
    ] {
        assert!(!result.contains(leaked), "{leaked:?} leaked: {result}");
    }
    assert!(
        result.matches("No such file or directory").count() >= 3,
        "{result}"
    );
    // Interactive, in a terminal session of the daemon, it comes up in the sandbox too and
    // answers a prompt.
    let id = d
        .api(
            "POST",
            "/api/terminal/sessions",
            Some(&json!({"profile_alias": "work", "cols": 120, "rows": 40,
                         "working_dir": project.display().to_string()})),
        )
        .expect_ok()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut ws = crate::ws::connect(d.port, &format!("/ws/terminal/{id}"), &d.token);
    let mut screen = Vec::new();
    let mut wait_for = |ws: &mut crate::ws::Ws, needle: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !String::from_utf8_lossy(&screen).contains(needle) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match ws.read_frame(left) {
                Some(crate::ws::Frame::Binary(b)) => screen.extend_from_slice(&b),
                Some(_) => {}
                None => panic!(
                    "no {needle:?} on the screen: {}",
                    String::from_utf8_lossy(&screen)
                ),
            }
        }
    };
    wait_for(&mut ws, "for shortcuts");
    let pid = d.get(&format!("/api/terminal/sessions/{id}")).expect_ok()["pid"].clone();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let argv: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).to_string())
        .collect();
    assert!(
        argv[0].ends_with("bwrap") && argv.iter().any(|a| a.ends_with("/claude")),
        "{argv:?}"
    );
    up.set_script(Script {
        reply: "PONG-IN-THE-SANDBOXED-TERMINAL".into(),
        ..Default::default()
    });
    ws.send_binary(b"say pong");
    wait_for(&mut ws, "pong");
    ws.send_binary(b"\r");
    wait_for(&mut ws, "PONG-IN-THE-SANDBOXED-TERMINAL");
    d.api("DELETE", &format!("/api/terminal/sessions/{id}"), None)
        .expect_ok();
    up.set_script(Script {
        reply: "PONG-FROM-INSIDE-THE-SANDBOX".into(),
        tool_call: Some((
            "Bash".into(),
            json!({"command": command, "description": "Look around"}).to_string(),
        )),
        ..Default::default()
    });
    // The same run without the sandbox reads them all: the probe can see a leak.
    d.api(
        "PUT",
        "/api/profiles/work/sandbox",
        Some(&json!({"enabled": false})),
    )
    .expect_ok();
    let out = env
        .cli(&d)
        .args(["profiles", "run", "work", "--", "-p", "look around"])
        .args(["--allowedTools", "Bash"])
        .env("PATH", path_with_deps())
        .current_dir(&project)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    let results = tool_results(&up);
    let outside = results.last().unwrap();
    for leaked in [
        "SQLite format 3",
        d.token.as_str(),
        "OTHER-PROFILE-SECRET",
        "USER-OWN-CLAUDE",
    ] {
        assert!(outside.contains(leaked), "{leaked:?} not read: {outside}");
    }
}
