//! Interrupted sessions and the agents' conversations: a stop leaves its sessions listed
//! as interrupted (profile, directory, conversation id) and one request resumes each
//! with the agent's resume command; the conversations in the profile homes are listed
//! with their first prompt and the tokens and cost recorded under their id, found by
//! text, and resumed under their profile or another one of the same agent.
//!
//! The agent here is a script registered under the id `claude` (so clown resumes it as
//! Claude Code: `--resume ID`) that prints its arguments and waits.

use std::os::unix::fs::PermissionsExt;

use serde_json::{Value, json};

use crate::attention::Screen;
use crate::helpers::*;

const ARGS_AGENT: &str = "#!/bin/sh\necho \"ARGS:[$*] CWD:[$(pwd)]\"\nexec sleep 1000\n";

fn setup(name: &str) -> (TestEnv, u16) {
    let env = TestEnv::new(name);
    let bin = env.root.join("agents");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("clown-test-args");
    std::fs::write(&script, ARGS_AGENT).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let registry = env.home.join(".config/clown/registry");
    std::fs::create_dir_all(&registry).unwrap();
    let manifest = |id: &str| {
        let protocol = if id == "codex" { "openai" } else { "anthropic" };
        json!({
            "id": id, "name": format!("args agent as {id}"), "binary": "clown-test-args",
            "npm_package": "none", "version_args": ["--version"], "version_regex": "(\\d+)",
            "profile_strategy": "env", "launcher": "env", "protocol": protocol,
            "home_env": null, "base_url_env": "X_BASE", "api_key_env": "X_KEY", "model_env": null,
            "extra_env": {}, "supports_hooks": false,
            "default_model": "claude-sonnet-4", "supported_models": ["claude-sonnet-4"]
        })
    };
    std::fs::write(
        registry.join("agents.json"),
        json!({"version": 1, "agents": [manifest("claude"), manifest("codex")]}).to_string(),
    )
    .unwrap();
    env.write_config(&format!(
        "[agents]\nextra_paths = [\"{}\"]\n",
        bin.display()
    ));
    (env, free_port())
}

fn profile(d: &Daemon, alias: &str, agent: &str) {
    create_profile(
        d,
        json!({"agent_id": agent, "alias": alias, "provider_id": if agent == "codex" { "openai" } else { "anthropic" },
               "api_key": "sk-test-key-0123456789abcdef"}),
    );
}

fn start(d: &Daemon, alias: &str, dir: &std::path::Path) -> String {
    d.api(
        "POST",
        "/api/terminal/sessions",
        Some(&json!({"profile_alias": alias, "working_dir": dir.display().to_string()})),
    )
    .expect_ok()["session_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_stopped_session_is_listed_interrupted_and_resumes_its_conversation() {
    let (env, port) = setup("conv-interrupted");
    let mut d = Daemon::start_on(&env, port);
    profile(&d, "work", "claude");
    let project = env.root.join("project");
    std::fs::create_dir_all(&project).unwrap();
    let id = start(&d, "work", &project);
    let other = start(&d, "work", &project);
    Screen::attach(&d, &id).wait_after(0, "ARGS:[]", WAIT);
    // The agent's hooks named its conversation.
    d.api(
        "POST",
        &format!("/api/terminal/sessions/{id}/hook"),
        Some(&json!({"agent": "claude", "event": "Stop", "conversation_id": "conv-123"})),
    )
    .expect_ok();
    d.signal(SIGTERM);
    assert!(d.wait_exit(WAIT).success());
    let d2 = Daemon::start_on(&env, port);
    assert!(
        d2.get("/api/terminal/sessions")
            .expect_ok()
            .as_array()
            .unwrap()
            .is_empty()
    );
    let list = d2.get("/api/terminal/interrupted").expect_ok();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str(), other.as_str()]);
    let first = &list[0];
    assert_eq!(first["profile_alias"], "work");
    assert_eq!(first["agent_id"], "claude");
    assert_eq!(first["working_dir"], project.display().to_string());
    assert_eq!(first["conversation_id"], "conv-123");
    assert_eq!(first["resume_args"], json!(["--resume", "conv-123"]));
    // Without a known conversation, the latest one in the directory.
    assert_eq!(list[1]["resume_args"], json!(["--continue"]));
    let cli = env
        .cli(&d2)
        .args(["terminal", "interrupted"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&cli.stdout);
    assert!(text.contains("claude --resume conv-123"), "{text}");
    // One request resumes it: same profile, same directory, the resume command.
    let resumed = d2
        .api(
            "POST",
            &format!("/api/terminal/interrupted/{id}/resume"),
            Some(&json!({"cols": 100})),
        )
        .expect_ok()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let screen = Screen::attach(&d2, &resumed);
    screen.wait_after(
        0,
        &format!("ARGS:[--resume conv-123] CWD:[{}]", project.display()),
        WAIT,
    );
    assert_eq!(
        d2.get(&format!("/api/terminal/sessions/{resumed}"))
            .expect_ok()["cols"],
        100
    );
    let left = d2.get("/api/terminal/interrupted").expect_ok();
    assert_eq!(
        left.as_array().unwrap().len(),
        1,
        "the resumed one is forgotten"
    );
    // The CLI resumes and dismisses by prefix; errors name the thing.
    let out = env
        .cli(&d2)
        .args(["terminal", "dismiss", &other[..8]])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        d2.get("/api/terminal/interrupted")
            .expect_ok()
            .as_array()
            .unwrap()
            .is_empty()
    );
    let e = d2
        .api(
            "POST",
            &format!("/api/terminal/interrupted/{other}/resume"),
            None,
        )
        .expect_error(404);
    assert!(e.contains("Interrupted session"), "{e}");
    d2.api(
        "POST",
        &format!("/api/terminal/interrupted/{id}/resume"),
        Some(&json!({"cols": 0})),
    )
    .expect_error(400);
    d2.api("DELETE", &format!("/api/terminal/sessions/{resumed}"), None)
        .expect_ok();
}

/// A Claude Code transcript line.
fn claude_line(kind: &str, content: Value, cwd: &str, id: &str, ts: &str) -> String {
    json!({"type": kind, "message": {"role": kind, "content": content}, "cwd": cwd, "sessionId": id,
           "timestamp": ts, "isSidechain": false})
    .to_string()
}

#[test]
fn conversations_are_listed_found_and_resumed_under_any_profile_of_their_agent() {
    let (env, port) = setup("conv-list");
    let d = Daemon::start_on(&env, port);
    profile(&d, "work", "claude");
    profile(&d, "spare", "claude");
    profile(&d, "cx", "codex");
    let project = env.root.join("project");
    std::fs::create_dir_all(&project).unwrap();
    let cwd = project.display().to_string();
    let work = env.home.join(".claude-profiles/work/projects/-project");
    std::fs::create_dir_all(&work).unwrap();
    let a = "aaaa1111-0000-4000-8000-000000000001";
    let b = "bbbb2222-0000-4000-8000-000000000002";
    std::fs::write(
        work.join(format!("{a}.jsonl")),
        [
            claude_line(
                "user",
                json!("please MKDIR now"),
                &cwd,
                a,
                "2026-11-01T10:00:00Z",
            ),
            claude_line(
                "assistant",
                json!([{"type": "text", "text": "done"}]),
                &cwd,
                a,
                "2026-11-01T10:00:01Z",
            ),
            claude_line(
                "user",
                json!([{"type": "tool_result", "content": "ok"}]),
                &cwd,
                a,
                "2026-11-01T10:00:02Z",
            ),
            claude_line(
                "user",
                json!("now write the changelog"),
                &cwd,
                a,
                "2026-11-01T10:05:00Z",
            ),
        ]
        .join("\n"),
    )
    .unwrap();
    std::fs::write(
        work.join(format!("{b}.jsonl")),
        claude_line(
            "user",
            json!("fix the flaky test"),
            "/elsewhere",
            b,
            "2026-11-02T10:00:00Z",
        ),
    )
    .unwrap();
    let sessions = env.home.join(".codex-profiles/cx/sessions/2026/11/03");
    std::fs::create_dir_all(&sessions).unwrap();
    std::fs::write(
        sessions.join("rollout-2026-11-03T10-00-00-cccc.jsonl"),
        [
            json!({"timestamp": "2026-11-03T10:00:00Z", "type": "session_meta",
                   "payload": {"id": "cccc3333", "timestamp": "2026-11-03T10:00:00Z", "cwd": cwd}}).to_string(),
            json!({"type": "event_msg", "payload": {"type": "item_completed",
                   "item": {"type": "UserMessage", "content": [{"type": "text", "text": "port it to codex"}]}}}).to_string(),
        ]
        .join("\n"),
    )
    .unwrap();
    // Usage recorded under conversation a (as an import of Claude Code's files records it).
    d.api(
        "POST",
        "/api/usage/record",
        Some(&json!({"events": [
            {"profile": "work", "model": "claude-sonnet-4", "source": "test", "session_id": a,
             "input_tokens": 1_000_000, "output_tokens": 100_000, "dedupe_key": "c1"},
        ]})),
    )
    .expect_ok();
    let all = d.get("/api/conversations").expect_ok();
    let ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{all}");
    let ca = all
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == a)
        .unwrap();
    assert_eq!(ca["profile_alias"], "work");
    assert_eq!(ca["cwd"], cwd);
    assert_eq!(ca["first_prompt"], "please MKDIR now");
    assert_eq!(ca["started_at"], "2026-11-01T10:00:00Z");
    assert_eq!(ca["tokens"]["input_tokens"], 1_000_000);
    // Sonnet 4: $3 per million input, $15 per million output.
    assert!(
        (ca["cost_usd"].as_f64().unwrap() - 4.5).abs() < 1e-9,
        "{ca}"
    );
    assert_eq!(ca["resume_args"], json!(["--resume", a]));
    let cx = all
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "cccc3333")
        .unwrap();
    assert_eq!(
        (cx["agent_id"].as_str(), cx["first_prompt"].as_str()),
        (Some("codex"), Some("port it to codex"))
    );
    assert_eq!(cx["tokens"], Value::Null);
    // Text found in a later prompt, in a directory, in an id; per profile.
    let found = |q: &str| -> Vec<String> {
        d.get(&format!("/api/conversations?q={}", q))
            .expect_ok()
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(found("CHANGELOG"), [a]);
    assert_eq!(found("elsewhere"), [b]);
    assert_eq!(found("cccc"), ["cccc3333"]);
    assert!(found("nothing-like-this").is_empty());
    assert_eq!(
        d.get("/api/conversations?profile=cx")
            .expect_ok()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    d.get("/api/conversations?profile=ghost").expect_error(404);
    d.get("/api/conversations?limit=0").expect_error(400);
    let out = env
        .cli(&d)
        .args(["conversations", "search", "changelog"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(a) && text.contains("please MKDIR now") && !text.contains(b),
        "{text}"
    );
    // Resumed under another profile of the same agent: the file is copied there.
    let r = d
        .api(
            "POST",
            "/api/conversations/resume",
            Some(
                &json!({"profile_alias": "work", "conversation_id": a, "target_profile": "spare"}),
            ),
        )
        .expect_ok();
    let sid = r["session_id"].as_str().unwrap();
    Screen::attach(&d, sid).wait_after(0, &format!("ARGS:[--resume {a}] CWD:[{cwd}]"), WAIT);
    assert_eq!(
        d.get(&format!("/api/terminal/sessions/{sid}")).expect_ok()["profile_alias"],
        "spare"
    );
    assert!(
        env.home
            .join(format!(
                ".claude-profiles/spare/projects/-project/{a}.jsonl"
            ))
            .exists()
    );
    // Not under another agent's profile; not one that is not there; not into nowhere.
    let e = d
        .api(
            "POST",
            "/api/conversations/resume",
            Some(&json!({"profile_alias": "work", "conversation_id": a, "target_profile": "cx"})),
        )
        .expect_error(400);
    assert!(e.contains("codex"), "{e}");
    d.api(
        "POST",
        "/api/conversations/resume",
        Some(&json!({"profile_alias": "work", "conversation_id": "nope"})),
    )
    .expect_error(404);
    let e = d
        .api(
            "POST",
            "/api/conversations/resume",
            Some(&json!({"profile_alias": "work", "conversation_id": b})),
        )
        .expect_error(400);
    assert!(e.contains("/elsewhere"), "{e}");
    // The CLI resumes by prefix.
    let out = env
        .cli(&d)
        .args(["conversations", "resume", "cccc"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Screen::attach(&d, &new).wait_after(0, "ARGS:[resume cccc3333]", WAIT);
}
