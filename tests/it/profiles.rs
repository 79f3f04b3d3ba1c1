//! Profiles, agents, providers: every route, every error code, secret hygiene, and the
//! launch of the real agents.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

const KEY: &str = "sk-ant-api03-SECRET-0123456789-abcdefghijklmnop-WXYZ";

fn claude_profile(alias: &str) -> Value {
    json!({
        "agent_id": "claude",
        "alias": alias,
        "provider_id": "anthropic",
        "endpoint_id": "default",
        "model": "claude-sonnet-4",
        "api_key": KEY,
    })
}

#[test]
fn catalogue_routes() {
    let env = TestEnv::new("catalogue");
    let d = Daemon::start(&env);
    let agents = d.get("/api/agents").expect_ok();
    let ids: Vec<&str> = agents
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    for id in [
        "claude", "codex", "gemini", "qwen", "grok", "droid", "opencode",
    ] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    for a in agents.as_array().unwrap() {
        for k in [
            "id",
            "name",
            "installed",
            "version",
            "binary_path",
            "profile_count",
        ] {
            assert!(a.get(k).is_some(), "{k} in {a}");
        }
    }
    let claude = d.get("/api/agents/claude").expect_ok();
    assert_eq!(claude["name"], "Claude Code");
    assert_eq!(claude["binary"], "claude");
    assert_eq!(claude["profile_strategy"], "home-wrapper");
    assert_eq!(claude["supports_hooks"], true);
    assert_eq!(claude["default_model"], "claude-sonnet-4");
    // Claude Code reaches OpenAI-type providers through the proxy's translation; Codex
    // only its own API's.
    assert_eq!(claude["provider_protocols"], json!(["anthropic", "openai"]));
    let codex = agents
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "codex");
    assert_eq!(codex.unwrap()["provider_protocols"], json!(["openai"]));
    assert!(
        claude["supported_models"]
            .as_array()
            .unwrap()
            .contains(&json!("claude-opus-4"))
    );
    assert_eq!(
        d.get("/api/agents/nope").expect_error(404),
        "Agent 'nope' not found; known agents: claude, codex, gemini, qwen, grok, droid, opencode"
    );

    let providers = d.get("/api/providers").expect_ok();
    let anthropic = providers
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "anthropic")
        .unwrap();
    assert_eq!(anthropic["type"], "anthropic");
    assert_eq!(anthropic["default_model"], "claude-sonnet-4");
    let minimax = d.get("/api/providers/minimax").expect_ok();
    assert_eq!(minimax["name"], "MiniMax");
    assert_eq!(minimax["type"], "anthropic-compatible");
    assert_eq!(
        minimax["endpoints"],
        json!({"international": "https://api.minimax.io/anthropic", "china": "https://api.minimaxi.com/anthropic"})
    );
    assert_eq!(minimax["default_endpoint"], "international");
    assert_eq!(minimax["default_model"], "MiniMax-M2.1");
    assert!(
        minimax["models"]
            .as_array()
            .unwrap()
            .contains(&json!("MiniMax-M2.1"))
    );
    for id in [
        "zai",
        "zhipu",
        "moonshot",
        "deepseek",
        "openrouter",
        "openai",
    ] {
        d.get(&format!("/api/providers/{id}")).expect_ok();
    }
    let msg = d.get("/api/providers/nope").expect_error(404);
    assert!(
        msg.starts_with("Provider 'nope' not found; known providers: anthropic, ")
            && msg.contains("minimax"),
        "{msg}"
    );
}

#[test]
fn profile_lifecycle_and_errors() {
    let env = TestEnv::new("profiles");
    let d = Daemon::start(&env);
    let created = create_profile(&d, claude_profile("my-project"));
    assert_eq!(created["alias"], "my-project");
    assert_eq!(created["message"], "Profile created successfully");
    assert_eq!(created["profile_home"], "~/.claude-profiles/my-project");
    let home = env.home.join(".claude-profiles/my-project");
    assert_eq!(
        std::fs::metadata(&home).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let claude_json = home.join(".claude.json");
    assert_eq!(
        std::fs::metadata(&claude_json)
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );

    let p = d.get("/api/profiles/my-project").expect_ok();
    assert_eq!(p["agent_id"], "claude");
    assert_eq!(p["provider_id"], "anthropic");
    assert_eq!(p["endpoint_id"], "default");
    assert_eq!(p["model"], "claude-sonnet-4");
    assert_eq!(p["profile_home"], "~/.claude-profiles/my-project");
    assert_eq!(p["last_used"], Value::Null);
    assert!(p["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(p["api_key_set"], true);
    assert_eq!(p["api_key_hint"], "…WXYZ");

    // Defaults come from the provider; a codex profile for the filter.
    create_profile(
        &d,
        json!({"agent_id": "codex", "alias": "cx", "provider_id": "openai", "api_key": "sk-openai-0123456789abcdef"}),
    );
    let cx = d.get("/api/profiles/cx").expect_ok();
    assert_eq!(cx["endpoint_id"], "default");
    assert!(cx["model"].is_string());

    let all = d.get("/api/profiles").expect_ok();
    assert_eq!(all.as_array().unwrap().len(), 2);
    let first = &all[1];
    for k in [
        "alias",
        "agent_id",
        "provider_id",
        "endpoint_id",
        "model",
        "last_used",
    ] {
        assert!(first.get(k).is_some(), "{k} in {first}");
    }
    let only = d.get("/api/profiles?agent=codex").expect_ok();
    assert_eq!(only.as_array().unwrap().len(), 1);
    assert_eq!(only[0]["alias"], "cx");
    assert_eq!(d.get("/api/profiles?agent=gemini").expect_ok(), json!([]));
    assert_eq!(d.get("/api/daemon/status").expect_ok()["profiles_count"], 2);
    let agents = d.get("/api/agents").expect_ok();
    let claude = agents
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "claude")
        .unwrap();
    assert_eq!(claude["profile_count"], 1);

    // Errors.
    let dup = d.api("POST", "/api/profiles", Some(&claude_profile("my-project")));
    assert_eq!(dup.expect_error(409), "Profile 'my-project' already exists");
    assert_eq!(
        d.get("/api/profiles/ghost").expect_error(404),
        "Profile 'ghost' not found"
    );
    assert_eq!(
        d.api("DELETE", "/api/profiles/ghost", None)
            .expect_error(404),
        "Profile 'ghost' not found"
    );
    let bad = |patch: Value| {
        let mut body = claude_profile("fresh");
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        d.api("POST", "/api/profiles", Some(&body))
            .expect_error(400)
    };
    for alias in ["../etc", "-x", "a/b", ".hidden", "", &"a".repeat(65), "a b"] {
        let msg = bad(json!({"alias": alias}));
        assert!(msg.starts_with("Invalid alias"), "{alias}: {msg}");
    }
    assert!(bad(json!({"alias": "status"})).starts_with("Alias 'status' is reserved"));
    assert_eq!(
        bad(json!({"agent_id": "nope"})),
        "Unknown agent 'nope'; known agents: claude, codex, gemini, qwen, grok, droid, opencode"
    );
    let msg = bad(json!({"provider_id": "nope"}));
    assert!(
        msg.starts_with("Unknown provider 'nope'; known providers: anthropic, ")
            && msg.contains("deepseek"),
        "{msg}"
    );
    assert!(bad(json!({"endpoint_id": "mars"})).contains("Unknown endpoint 'mars'"));
    assert!(bad(json!({"model": "gpt-9"})).contains("does not offer model 'gpt-9'"));
    assert!(bad(json!({"api_key": ""})).contains("needs an API key"));
    // Codex has nothing that would reach an Anthropic-only provider.
    assert!(bad(json!({"agent_id": "codex"})).contains("speaks the openai API"));
    // Claude Code reaches an OpenAI-compatible provider only through the proxy's
    // translation: never with the proxy off.
    let msg = bad(
        json!({"provider_id": "deepseek-openai", "model": "deepseek-chat",
                         "proxy": {"enabled": false}}),
    );
    assert!(msg.contains("the proxy stays enabled"), "{msg}");
    assert!(bad(json!({"base_url": "ftp://x"})).contains("base_url"));
    assert!(bad(json!({"alias": 5})).contains("alias"));
    assert!(bad(json!({"colour": "red"})).contains("colour"));
    // A provider that accepts any model.
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "router", "provider_id": "openrouter", "model": "some/new-model", "api_key": "sk-or-0123456789abcdef"}),
    );
    // Malformed JSON, wrong content type, a missing field, too large.
    let auth = format!("Bearer {}", d.token);
    let raw = |body: &[u8], ctype: &str| {
        request(
            d.port,
            "POST",
            "/api/profiles",
            &[("Authorization", &auth), ("Content-Type", ctype)],
            body,
        )
    };
    assert!(
        raw(b"{\"alias\": ", "application/json")
            .expect_error(400)
            .contains("Malformed JSON")
    );
    assert!(
        raw(b"{}", "text/plain")
            .expect_error(400)
            .contains("Content-Type")
    );
    assert!(
        raw(b"{\"alias\":\"x\"}", "application/json")
            .expect_error(400)
            .contains("agent_id")
    );
    let huge = format!("{{\"alias\":\"{}\"}}", "a".repeat(1024 * 1024 + 10));
    raw(huge.as_bytes(), "application/json").expect_error(413);
    // None of that changed anything.
    assert_eq!(
        d.get("/api/profiles").expect_ok().as_array().unwrap().len(),
        3
    );
    assert!(!env.home.join(".claude-profiles/fresh").exists());

    // Delete keeps the home unless purged.
    let del = d
        .api("DELETE", "/api/profiles/my-project", None)
        .expect_ok();
    assert_eq!(del["message"], "Profile deleted");
    assert_eq!(del["purged"], false);
    assert_eq!(del["profile_home"], "~/.claude-profiles/my-project");
    assert!(home.exists());
    d.get("/api/profiles/my-project").expect_error(404);
    d.api("DELETE", "/api/profiles/cx?purge=true", None)
        .expect_ok();
    assert!(!env.home.join(".codex-profiles/cx").exists());
    d.api("DELETE", "/api/profiles/router?purge=maybe", None)
        .expect_error(400);
    assert_eq!(d.get("/api/daemon/status").expect_ok()["profiles_count"], 1);
}

#[test]
fn the_key_never_leaves_the_secrets_table() {
    let env = TestEnv::new("secrets");
    let d = Daemon::start(&env);
    // Listen to the event stream while creating and deleting.
    let mut events = crate::ws::connect(d.port, "/ws/events", &d.token);
    create_profile(&d, claude_profile("s1"));
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "s2", "provider_id": "minimax", "api_key": KEY}),
    );
    let mut seen = String::new();
    for path in [
        "/api/profiles",
        "/api/profiles/s1",
        "/api/profiles/s2",
        "/api/agents",
        "/api/agents/claude",
        "/api/providers/minimax",
        "/api/registry",
        "/api/daemon/status",
        "/api/daemon/logs",
        "/api/openapi.json",
    ] {
        seen.push_str(&d.get(path).text());
    }
    seen.push_str(&d.api("DELETE", "/api/profiles/s2", None).text());
    // Errors that involve the profile.
    seen.push_str(
        &d.api("POST", "/api/profiles", Some(&claude_profile("s1")))
            .text(),
    );
    let frames = events.read_text_frames_until("profile_created", |f| {
        f.iter().any(|f| f.contains("profile_created"))
    });
    seen.push_str(&frames.join("\n"));
    seen.push_str(&d.stderr());
    assert!(
        !seen.contains(KEY),
        "the key leaked into a response, event or log"
    );
    assert!(
        !seen.contains(&KEY[KEY.len() - 20..]),
        "a large part of the key leaked"
    );
    // The database outside the secrets table.
    let dump = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nfor (t,) in c.execute(\"select name from sqlite_master where type='table' and name!='secrets'\"):\n  for r in c.execute(f'select * from {t}'): print(t, r)\n",
        )
        .arg(env.data_dir().join("clown.db"))
        .output()
        .unwrap();
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(dump.contains("s1"), "the dump sees the profiles: {dump}");
    assert!(!dump.contains(KEY), "key outside the secrets table");
    // The agent's own config holds at most the approval suffix, and is private.
    let home = env.home.join(".claude-profiles/s1");
    let text = std::fs::read_to_string(home.join(".claude.json")).unwrap();
    assert!(!text.contains(KEY));
}

#[test]
fn detection_of_real_and_late_installed_agents() {
    let env = TestEnv::new("detect");
    let late = env.root.join("late-bin");
    std::fs::create_dir_all(&late).unwrap();
    env.write_config(&format!(
        "[agents]\nextra_paths = [\"{}\", \"{}\"]\n",
        deps_bin().display(),
        late.display()
    ));
    let d = Daemon::start(&env);
    let expect = |bin: &str| {
        let out = std::process::Command::new(deps_bin().join(bin))
            .arg("--version")
            .env("PATH", path_with_deps())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let claude = d.get("/api/agents/claude").expect_ok();
    assert_eq!(claude["installed"], true);
    let version = claude["version"].as_str().unwrap();
    assert!(
        expect("claude").starts_with(version),
        "{version} vs {}",
        expect("claude")
    );
    assert_eq!(
        claude["binary_path"],
        deps_bin().join("claude").display().to_string()
    );
    let codex = d.get("/api/agents/codex").expect_ok();
    assert_eq!(codex["installed"], true);
    let version = codex["version"].as_str().unwrap();
    assert!(
        expect("codex").contains(version),
        "{version} vs {}",
        expect("codex")
    );

    let gemini = d.get("/api/agents/gemini").expect_ok();
    assert_eq!(gemini["installed"], false);
    let script = late.join("gemini");
    std::fs::write(&script, "#!/bin/sh\necho 'gemini-cli 9.8.7'\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let found = wait_until(
        Duration::from_secs(10),
        "the new agent to be detected",
        || {
            let g = d.get("/api/agents/gemini").expect_ok();
            (g["installed"] == true).then_some(g)
        },
    );
    assert_eq!(found["version"], "9.8.7");
}

#[test]
fn real_claude_runs_through_a_profile() {
    let env = TestEnv::new("claude-run");
    let upstream = crate::upstream::Upstream::start(crate::upstream::Script {
        reply: "PONG-FROM-THE-TEST-UPSTREAM".into(),
        ..Default::default()
    });
    let d = Daemon::start(&env);
    let mut body = claude_profile("work");
    body["base_url"] = json!(upstream.url());
    create_profile(&d, body);
    assert_eq!(
        d.get("/api/profiles/work").expect_ok()["base_url"],
        upstream.url()
    );
    let project = env.root.join("project");
    std::fs::create_dir_all(&project).unwrap();
    let out = env
        .cli(&d)
        .args(["profiles", "run", "work", "--", "-p", "say pong"])
        .env("PATH", path_with_deps())
        // A key in the user's shell must not reach the profile's run.
        .env("ANTHROPIC_AUTH_TOKEN", "shell-token-that-must-not-be-used")
        .current_dir(&project)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("PONG-FROM-THE-TEST-UPSTREAM"), "{stdout}");
    let messages = upstream.messages();
    assert!(!messages.is_empty());
    for m in &messages {
        assert_eq!(m.headers.get("x-api-key").map(String::as_str), Some(KEY));
        assert!(!m.headers.contains_key("authorization"), "{:?}", m.headers);
        assert_eq!(m.json()["model"], "claude-sonnet-4");
    }
    // State in the profile home, not in the user's ~/.claude.
    let home = env.home.join(".claude-profiles/work");
    assert!(
        home.join("projects").is_dir(),
        "transcripts go to the profile home"
    );
    assert!(!env.home.join(".claude").exists());
    assert!(!env.home.join(".claude.json").exists());
    // The run was recorded: last_used is set.
    let p = d.get("/api/profiles/work").expect_ok();
    assert!(p["last_used"].is_string(), "{p}");
    // The exit code passes through.
    let out = env
        .cli(&d)
        .args(["profiles", "run", "work", "--", "--no-such-flag-xyz"])
        .env("PATH", path_with_deps())
        .current_dir(&project)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn codex_gets_its_home_and_config() {
    let env = TestEnv::new("codex");
    let d = Daemon::start(&env);
    create_profile(
        &d,
        json!({"agent_id": "codex", "alias": "cx", "provider_id": "deepseek-openai", "model": "deepseek-chat",
               "api_key": "sk-deepseek-0123456789abcdef", "proxy": {"enabled": false}}),
    );
    let out = env
        .cli(&d)
        .args(["profiles", "env", "cx"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let home = env.home.join(".codex-profiles/cx");
    assert!(
        text.contains(&format!("export CODEX_HOME='{}'", home.display())),
        "{text}"
    );
    assert!(
        text.contains("export DEEPSEEK_API_KEY='sk-deepseek-0123456789abcdef'"),
        "{text}"
    );
    assert!(text.contains("unset OPENAI_API_KEY"), "{text}");
    let config = std::fs::read_to_string(home.join("config.toml")).unwrap();
    assert!(config.contains("model = \"deepseek-chat\""), "{config}");
    assert!(config.contains("model_provider = \"clown\""), "{config}");
    assert!(
        config.contains("base_url = \"https://api.deepseek.com/v1\""),
        "{config}"
    );
    assert!(
        config.contains("env_key = \"DEEPSEEK_API_KEY\""),
        "{config}"
    );
    assert!(config.contains("wire_api = \"responses\""), "{config}");
    assert_eq!(
        std::fs::metadata(home.join("config.toml"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    // Codex speaks only the Responses API, DeepSeek only Chat Completions: without an
    // explicit proxy setting such a profile gets its proxy, which translates. The real
    // Codex CLI loads the config (it refuses some, e.g. `wire_api = "chat"`), and its turn
    // reaches the provider as a chat completion with the profile's model and key.
    let up = crate::upstream::Upstream::start(crate::upstream::Script {
        reply: "PONG-FOR-THE-DEEPSEEK-PROFILE".into(),
        ..Default::default()
    });
    create_profile(
        &d,
        json!({"agent_id": "codex", "alias": "cx2", "provider_id": "deepseek-openai", "model": "deepseek-chat",
               "api_key": "sk-deepseek-0123456789abcdef", "base_url": format!("{}/v1", up.url())}),
    );
    assert_eq!(
        d.get("/api/profiles/cx2").expect_ok()["proxy"]["enabled"],
        true
    );
    let proxy = wait_until(Duration::from_secs(20), "the proxy of cx2", || {
        let s = d.get("/api/proxy/status/cx2").expect_ok();
        (s["status"] == "running").then_some(s)
    });
    let out = env
        .cli(&d)
        .args([
            "profiles",
            "run",
            "cx2",
            "--",
            "exec",
            "--skip-git-repo-check",
            "say pong",
        ])
        .env("PATH", path_with_deps())
        .current_dir(&env.root)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("PONG-FOR-THE-DEEPSEEK-PROFILE"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = std::fs::read_to_string(env.home.join(".codex-profiles/cx2/config.toml")).unwrap();
    assert!(
        config.contains(&format!(
            "base_url = \"{}/v1\"",
            proxy["url"].as_str().unwrap()
        )),
        "{config}"
    );
    assert!(
        up.responses().is_empty(),
        "no Responses API call reached the provider"
    );
    let turns = up.chats();
    assert!(!turns.is_empty());
    for r in &turns {
        assert_eq!(r.path, "/v1/chat/completions");
        let body = r.json();
        assert_eq!(body["model"], "deepseek-chat");
        assert_eq!(
            r.headers.get("authorization").map(String::as_str),
            Some("Bearer sk-deepseek-0123456789abcdef")
        );
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(
            messages[0]["role"], "system",
            "Codex's instructions come first"
        );
        assert!(
            messages
                .iter()
                .any(|m| m["role"] == "user"
                    && m["content"].as_str().unwrap_or("").contains("say pong")),
            "{body}"
        );
        assert!(
            body["tools"].as_array().is_some_and(|t| !t.is_empty()),
            "{body}"
        );
    }
    // The proxy records each turn with the provider's counts (cached tokens split out).
    let usage = wait_until(Duration::from_secs(10), "the proxy's usage record", || {
        let u = d.get("/api/usage?period=all&profile=cx2").expect_ok()["total_tokens"].clone();
        (u["output_tokens"].as_u64().unwrap_or(0) > 0).then_some(u)
    });
    let n = turns.len() as u64;
    assert_eq!(usage["input_tokens"], 1234 * n, "{usage}");
    assert_eq!(usage["cache_read_input_tokens"], 89 * n, "{usage}");
    assert_eq!(usage["output_tokens"], 56 * n, "{usage}");
}

#[test]
fn real_codex_runs_a_tool_through_the_chat_translation() {
    let env = TestEnv::new("codex-tool");
    let d = Daemon::start(&env);
    let up = crate::upstream::Upstream::start(crate::upstream::Script {
        reply: "FINISHED-AFTER-THE-TOOL".into(),
        tool_call: Some((
            "exec_command".into(),
            json!({"cmd": "echo TOOL-RAN-$((40 + 2))"}).to_string(),
        )),
        ..Default::default()
    });
    create_profile(
        &d,
        json!({"agent_id": "codex", "alias": "kimi", "provider_id": "moonshot-openai",
               "api_key": "sk-moonshot-0123456789abcdef", "base_url": format!("{}/v1", up.url())}),
    );
    wait_until(Duration::from_secs(20), "the proxy of kimi", || {
        (d.get("/api/proxy/status/kimi").expect_ok()["status"] == "running").then_some(())
    });
    let project = env.root.join("project");
    std::fs::create_dir_all(&project).unwrap();
    let out = env
        .cli(&d)
        .args([
            "profiles",
            "run",
            "kimi",
            "--",
            "exec",
            "--skip-git-repo-check",
        ])
        .args([
            "--dangerously-bypass-approvals-and-sandbox",
            "run the check",
        ])
        .env("PATH", path_with_deps())
        .current_dir(&project)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let turns = up.chats();
    assert!(
        out.status.success() && stdout.contains("FINISHED-AFTER-THE-TOOL"),
        "{stdout}\n{}\n{} turns",
        String::from_utf8_lossy(&out.stderr),
        turns.len()
    );
    // Codex got the call (streamed in pieces, as Chat Completions sends it), ran it, and
    // sent the result back: the next turn carries the call and its output.
    assert!(turns.len() >= 2, "{} turns", turns.len());
    let last = turns.last().unwrap().json();
    let messages = last["messages"].as_array().unwrap();
    let call = messages
        .iter()
        .find_map(|m| m["tool_calls"].as_array().and_then(|c| c.first().cloned()))
        .unwrap_or_else(|| panic!("no tool call in {last}"));
    assert_eq!(call["id"], "call_test_1");
    assert_eq!(call["function"]["name"], "exec_command");
    let result = messages
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap_or_else(|| panic!("no tool result in {last}"));
    assert_eq!(result["tool_call_id"], "call_test_1");
    assert!(
        result["content"]
            .as_str()
            .unwrap_or_default()
            .contains("TOOL-RAN-42"),
        "{result}"
    );
}

#[test]
fn cli_profiles_commands() {
    let env = TestEnv::new("cli-profiles");
    let d = Daemon::start(&env);
    let mut child = env
        .cli(&d)
        .args([
            "profiles",
            "create",
            "mm",
            "--agent",
            "claude",
            "--provider",
            "minimax",
        ])
        .args(["--endpoint", "china", "--api-key-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"sk-minimax-0123456789abcdef\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created profile 'mm'"));
    let p = d.get("/api/profiles/mm").expect_ok();
    assert_eq!(p["endpoint_id"], "china");
    assert_eq!(p["endpoint_url"], "https://api.minimaxi.com/anthropic");
    let out = env.cli(&d).args(["profiles", "list"]).output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.lines().next().unwrap().starts_with("ALIAS"),
        "{table}"
    );
    assert!(
        table.contains("mm") && table.contains("minimax") && table.contains("MiniMax-M2.1"),
        "{table}"
    );
    let out = env
        .cli(&d)
        .args(["profiles", "list", "--json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["alias"], "mm");
    let out = env.cli(&d).args(["agents", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("Claude Code"));
    let out = env
        .cli(&d)
        .args(["providers", "show", "minimax"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("https://api.minimax.io/anthropic"));
    // Errors are one line with the daemon's message, exit non-zero.
    let out = env
        .cli(&d)
        .args(["profiles", "show", "ghost"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Profile 'ghost' not found"));
    let out = env
        .cli(&d)
        .args(["profiles", "delete", "mm"])
        .output()
        .unwrap();
    assert!(out.status.success());
    d.get("/api/profiles/mm").expect_error(404);
}
