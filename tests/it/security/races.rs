//! Concurrent writers of one file never collide or lose each other's changes, and a
//! create that loses a race changes nothing on disk.

use serde_json::{Value, json};

use crate::helpers::*;

const KEY: &str = "sk-ant-races-0123456789abcdefghijklmnopqrst";

#[test]
fn concurrent_launches_keep_the_agents_own_settings() {
    let env = TestEnv::new("sec-launch-race");
    let d = Daemon::start(&env);
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "r", "provider_id": "anthropic", "api_key": KEY}),
    );
    // What Claude Code itself keeps in its file: MCP servers, projects.
    let file = env.home.join(".claude-profiles/r/.claude.json");
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    doc["mcpServers"] = json!({"docs": {"command": "docs-server", "args": []}});
    std::fs::write(&file, doc.to_string()).unwrap();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..40)
            .map(|i| {
                let d = &d;
                let cwd = env.root.join(format!("w{i}"));
                std::fs::create_dir_all(&cwd).unwrap();
                s.spawn(move || {
                    d.api(
                        "POST",
                        "/api/profiles/r/launch",
                        Some(&json!({"cwd": cwd.display().to_string()})),
                    )
                    .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc["mcpServers"]["docs"]["command"], "docs-server");
    // Every launch's working directory was trusted: none lost another's edit.
    for i in 0..40 {
        let dir = env.root.join(format!("w{i}")).display().to_string();
        assert_eq!(
            doc["projects"][&dir]["hasTrustDialogAccepted"], true,
            "{dir}"
        );
    }
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn concurrent_terminal_sessions_all_start() {
    // A shell standing in for Claude Code: each session's launch writes its .claude.json.
    let env = TestEnv::new("sec-session-race");
    crate::terminal::prepare(&env, "[terminal]\nmax_sessions = 64\n");
    let registry = env.home.join(".config/clown/registry/agents.json");
    let mut agents: Value =
        serde_json::from_str(&std::fs::read_to_string(&registry).unwrap()).unwrap();
    let mut claude_like = agents["agents"][0].clone();
    claude_like["id"] = json!("shclaude");
    claude_like["launcher"] = json!("claude");
    agents["agents"].as_array_mut().unwrap().push(claude_like);
    std::fs::write(&registry, agents.to_string()).unwrap();
    let d = Daemon::start(&env);
    create_profile(
        &d,
        json!({"agent_id": "shclaude", "alias": "t", "provider_id": "anthropic", "api_key": KEY}),
    );
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|_| {
                let d = &d;
                s.spawn(move || {
                    d.api(
                        "POST",
                        "/api/terminal/sessions",
                        Some(&json!({"profile_alias": "t", "args": ["-c", "exec sleep 1000"]})),
                    )
                    .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
}

#[test]
fn a_create_that_loses_a_race_leaves_nothing() {
    let env = TestEnv::new("sec-create-race");
    let d = Daemon::start(&env);
    let keys: Vec<String> = (0..12)
        .map(|i| format!("sk-ant-race{i:02}-abcdefghijklmnopqrstuvwxyz{i:02}"))
        .collect();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = keys
            .iter()
            .map(|key| {
                let d = &d;
                s.spawn(move || {
                    d.api(
                        "POST",
                        "/api/profiles",
                        Some(&json!({"agent_id": "claude", "alias": "same", "provider_id": "anthropic", "api_key": key})),
                    )
                    .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|&s| s == 200 || s == 409),
        "{statuses:?}"
    );
    let hint = d.get("/api/profiles/same").expect_ok()["api_key_hint"]
        .as_str()
        .unwrap()
        .to_string();
    let winner = keys
        .iter()
        .find(|k| hint.ends_with(&k[k.len() - 4..]))
        .unwrap();
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(env.home.join(".claude-profiles/same/.claude.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        doc["customApiKeyResponses"]["approved"],
        json!([&winner[winner.len() - 20..]]),
        "only the stored key is approved in the home"
    );
}
