//! The proxy API and CLI, and the real Claude Code going through a proxy.

use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::helpers::*;
use crate::upstream::{Script, Upstream};

#[test]
fn proxy_api_errors_settings_and_delete() {
    let up = Upstream::start(Script::default());
    let (env, d) = start("px-api", "");
    create_profile(&d, profile("api", &up.url(), json!({})));
    create_profile(
        &d,
        json!({"agent_id": "codex", "alias": "cx", "provider_id": "openai", "api_key": "sk-openai-0123456789abcdef"}),
    );
    // Unknown profiles.
    for (m, path) in [
        ("GET", "/api/proxy/status/ghost"),
        ("POST", "/api/proxy/ghost/start"),
        ("POST", "/api/proxy/ghost/stop"),
        ("GET", "/api/proxy/ghost/logs"),
    ] {
        assert_eq!(
            d.api(m, path, None).expect_error(404),
            "Profile 'ghost' not found"
        );
    }
    d.api(
        "PUT",
        "/api/profiles/ghost/proxy",
        Some(&json!({"enabled": true})),
    )
    .expect_error(404);
    // Disabled and never run: listed nowhere, status stopped.
    assert_eq!(d.get("/api/proxy/status").expect_ok(), json!([]));
    let s = status(&d, "api");
    assert_eq!(
        (&s["status"], &s["enabled"], &s["pid"]),
        (&json!("stopped"), &json!(false), &Value::Null)
    );
    // Without the proxy, a launch hands the agent the real endpoint, and approves the real
    // key's last 20 characters in the profile's .claude.json.
    assert_eq!(launch_env(&d, "api")["env"]["ANTHROPIC_BASE_URL"], up.url());
    let claude_json = env.home.join(".claude-profiles/api/.claude.json");
    let approved = || {
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(&claude_json).unwrap()).unwrap();
        doc["customApiKeyResponses"]["approved"].clone()
    };
    assert_eq!(approved(), json!([&KEY[KEY.len() - 20..]]));
    // Invalid settings.
    let bad = |body: Value| {
        d.api("PUT", "/api/profiles/api/proxy", Some(&body))
            .expect_error(400)
    };
    assert!(bad(json!({"enabled": true, "colour": 1})).contains("colour"));
    assert!(bad(json!({"port": 0})).contains("port"));
    assert!(bad(json!({"fallbacks": [{"provider_id": "nope"}]})).contains("unknown provider"));
    // Claude Code reaches an OpenAI-compatible fallback through the translation; Codex
    // nothing Anthropic-only.
    let s = d
        .api(
            "PUT",
            "/api/profiles/api/proxy",
            Some(&json!({"fallbacks": [{"provider_id": "openai", "model": "gpt-5.2"}]})),
        )
        .expect_ok();
    assert_eq!(s["settings"]["fallbacks"][0]["provider_id"], "openai");
    d.api(
        "PUT",
        "/api/profiles/api/proxy",
        Some(&json!({"enabled": false})),
    )
    .expect_ok();
    let msg = d
        .api(
            "PUT",
            "/api/profiles/cx/proxy",
            Some(&json!({"fallbacks": [{"provider_id": "minimax"}]})),
        )
        .expect_error(400);
    assert!(msg.contains("does not speak the openai API"), "{msg}");
    assert!(
        bad(json!({"fallbacks": [{"provider_id": "minimax", "key_profile": "ghost"}]}))
            .contains("'ghost' not found")
    );
    // A started proxy runs without `enabled`; a second start is a conflict.
    let s = d.api("POST", "/api/proxy/api/start", None).expect_ok();
    assert_eq!(
        (&s["status"], &s["enabled"]),
        (&json!("running"), &json!(false))
    );
    let msg = d
        .api("POST", "/api/proxy/api/start", None)
        .expect_error(409);
    assert!(msg.contains("already running on port"), "{msg}");
    // A running proxy is used by launches even when not enabled; the real key's approval
    // gives way to the local token's.
    let spec = launch_env(&d, "api");
    assert_eq!(spec["env"]["ANTHROPIC_BASE_URL"], s["url"]);
    let token = spec["env"]["ANTHROPIC_API_KEY"].as_str().unwrap();
    assert_eq!(approved(), json!([&token[token.len() - 20..]]));
    assert!(
        !std::fs::read_to_string(&claude_json)
            .unwrap()
            .contains(&KEY[KEY.len() - 20..])
    );
    // Enabling with a fixed port moves it there.
    let fixed = free_port();
    let s = d
        .api(
            "PUT",
            "/api/profiles/api/proxy",
            Some(&json!({"enabled": true, "port": fixed})),
        )
        .expect_ok();
    assert_eq!(
        (&s["status"], &s["port"], &s["enabled"]),
        (&json!("running"), &json!(fixed), &json!(true))
    );
    assert_eq!(
        d.get("/api/profiles/api").expect_ok()["proxy"]["port"],
        fixed
    );
    // Disabling stops it.
    let s = d
        .api(
            "PUT",
            "/api/profiles/api/proxy",
            Some(&json!({"enabled": false})),
        )
        .expect_ok();
    assert_eq!(s["status"], "stopped");
    assert!(proxy_pids("api").is_empty());
    // The log through the API: the last N lines.
    let lines = d.get("/api/proxy/api/logs?lines=3").expect_ok();
    assert_eq!(lines.as_array().unwrap().len(), 3, "{lines}");
    assert!(lines.to_string().contains("supervisor: stopped"), "{lines}");
    d.get("/api/proxy/api/logs?lines=x").expect_error(400);
    // A Codex profile's launch goes to the proxy's /v1 with the local token.
    d.api(
        "PUT",
        "/api/profiles/cx/proxy",
        Some(&json!({"enabled": true})),
    )
    .expect_ok();
    let spec = launch_env(&d, "cx");
    let token = spec["env"]["OPENAI_API_KEY"].as_str().unwrap();
    assert_ne!(token, "sk-openai-0123456789abcdef");
    let config = std::fs::read_to_string(
        std::path::Path::new(spec["home"].as_str().unwrap()).join("config.toml"),
    )
    .unwrap();
    let url = status(&d, "cx")["url"].as_str().unwrap().to_string();
    assert!(
        config.contains(&format!("base_url = \"{url}/v1\"")),
        "{config}"
    );
    // Deleting a profile whose proxy runs needs force, which stops it.
    let msg = d.api("DELETE", "/api/profiles/cx", None).expect_error(409);
    assert!(msg.contains("proxy"), "{msg}");
    d.api("DELETE", "/api/profiles/cx?force=true", None)
        .expect_ok();
    assert!(proxy_pids("cx").is_empty());
    assert_eq!(d.get("/api/daemon/status").expect_ok()["active_proxies"], 0);
}

#[test]
fn cli_proxy_commands() {
    let up = Upstream::start(Script::default());
    let (_env, d) = start("px-cli", "");
    create_profile(&d, profile("cli", &up.url(), json!({})));
    let clown = |args: &[&str]| {
        let out = _env.cli(&d).args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, out, _) = clown(&["proxy", "status"]);
    assert!(ok && out.contains("no proxies"), "{out}");
    let (ok, out, err) = clown(&["proxy", "start", "cli"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("running") && out.contains("http://127.0.0.1:"),
        "{out}"
    );
    let (ok, _, err) = clown(&["proxy", "start", "cli"]);
    assert!(
        !ok && err.contains("already running") && err.contains("see 'clown proxy status'"),
        "{err}"
    );
    let (ok, out, _) = clown(&["proxy", "status"]);
    assert!(ok, "{out}");
    assert!(out.lines().next().unwrap().starts_with("PROFILE"), "{out}");
    assert!(out.contains("cli") && out.contains("running"), "{out}");
    let (ok, out, _) = clown(&["proxy", "status", "cli", "--json"]);
    assert!(ok);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["status"],
        "running"
    );
    let (ok, out, _) = clown(&["proxy", "logs", "cli", "-n", "2"]);
    assert!(ok && out.lines().count() == 2, "{out}");
    let (ok, out, _) = clown(&["proxy", "stop", "cli"]);
    assert!(ok && out.contains("stopped"), "{out}");
    let (ok, out, err) = clown(&["proxy", "enable", "cli"]);
    assert!(ok && out.contains("running"), "{out}{err}");
    assert_eq!(
        d.get("/api/profiles/cli").expect_ok()["proxy"]["enabled"],
        true
    );
    let (ok, out, _) = clown(&["proxy", "disable", "cli"]);
    assert!(ok && out.contains("stopped"), "{out}");
    let (ok, _, err) = clown(&["proxy", "start", "ghost"]);
    assert!(!ok && err.contains("Profile 'ghost' not found"), "{err}");
    // The child form refuses to run without the daemon's plan.
    let (ok, _, err) = clown(&["proxy", "--profile", "cli", "--port", "1"]);
    assert!(!ok && err.contains("clown proxy start cli"), "{err}");
}

#[test]
fn real_claude_code_goes_through_the_proxy() {
    let up = Upstream::start(Script {
        reply: "PONG-THROUGH-THE-PROXY".into(),
        // Slow enough to look at Claude Code's environment while it waits.
        delay: Duration::from_millis(1500),
        ..Default::default()
    });
    let (env, d) = start("px-claude", "");
    create_profile(&d, profile("work", &up.url(), json!({"enabled": true})));
    let s = wait_status(&d, "work", "running");
    let project = env.root.join("project");
    std::fs::create_dir_all(&project).unwrap();
    let child = env
        .cli(&d)
        .args(["profiles", "run", "work", "--", "-p", "say pong"])
        .env("PATH", path_with_deps())
        .current_dir(&project)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Claude Code's own environment, read from /proc while it runs.
    let home = env.home.join(".claude-profiles/work").display().to_string();
    let marker = format!("CLAUDE_CONFIG_DIR={home}");
    let environ = wait_until(WAIT, "Claude Code to run", || {
        std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
            let env = std::fs::read(e.path().join("environ")).ok()?;
            let vars: Vec<String> = env
                .split(|b| *b == 0)
                .map(|v| String::from_utf8_lossy(v).to_string())
                .collect();
            vars.contains(&marker).then_some(vars)
        })
    });
    assert!(
        !environ.iter().any(|v| v.contains(KEY)),
        "the key reached Claude Code"
    );
    assert!(environ.contains(&format!(
        "ANTHROPIC_BASE_URL={}",
        s["url"].as_str().unwrap()
    )));
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("PONG-THROUGH-THE-PROXY"), "{stdout}");
    let messages = up.messages();
    assert!(!messages.is_empty());
    for m in &messages {
        assert_eq!(m.headers.get("x-api-key").map(String::as_str), Some(KEY));
        assert!(m.path.starts_with("/v1/messages"), "{}", m.path);
    }
    // Every message request is one usage event of this profile, recorded by the proxy.
    let events = wait_events(&env, messages.len());
    assert_eq!(events.len(), messages.len(), "{events:?}");
    for e in &events {
        assert_eq!(
            (&e["profile"], &e["source"]),
            (&json!("work"), &json!("proxy"))
        );
        assert_eq!(e["input_tokens"], 1234);
        assert_eq!(e["output_tokens"], 56);
    }
    assert!(
        events.iter().any(|e| e["model"] == "claude-sonnet-4"),
        "{events:?}"
    );
}

#[test]
fn real_codex_runs_direct_and_through_the_proxy() {
    const OPENAI_KEY: &str = "sk-proj-CODEXSECRET-0123456789-abcdefghijklmnop";
    let up = Upstream::start(Script {
        reply: "PONG-FROM-CODEX-UPSTREAM".into(),
        ..Default::default()
    });
    let (env, d) = start("px-codex", "");
    create_profile(
        &d,
        json!({"agent_id": "codex", "alias": "cx", "provider_id": "openai", "model": "gpt-5",
               "api_key": OPENAI_KEY, "base_url": format!("{}/v1", up.url())}),
    );
    let project = env.root.join("project");
    std::fs::create_dir_all(&project).unwrap();
    let run = || {
        let out = env
            .cli(&d)
            .args(["profiles", "run", "cx", "--"])
            .args(["exec", "--skip-git-repo-check", "say pong"])
            .env("PATH", path_with_deps())
            .env("OPENAI_API_KEY", "shell-key-that-must-not-be-used")
            .current_dir(&project)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success() && stdout.contains("PONG-FROM-CODEX-UPSTREAM"),
            "codex: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // Direct: Codex loads the profile's config.toml and sends the profile's key.
    run();
    let direct = up.responses();
    assert!(!direct.is_empty());
    for r in &direct {
        assert_eq!(r.path, "/v1/responses");
        assert_eq!(r.json()["model"], "gpt-5");
        assert_eq!(
            r.headers.get("authorization").map(String::as_str),
            Some(format!("Bearer {OPENAI_KEY}").as_str())
        );
    }
    // Through the proxy: Codex gets the local token; the upstream still gets the key, and
    // every turn is a usage event with OpenAI's cached tokens split out of the input.
    d.api(
        "PUT",
        "/api/profiles/cx/proxy",
        Some(&json!({"enabled": true})),
    )
    .expect_ok();
    wait_status(&d, "cx", "running");
    run();
    let all = up.responses();
    let proxied = &all[direct.len()..];
    assert!(!proxied.is_empty());
    for r in proxied {
        assert_eq!(r.path, "/v1/responses");
        assert_eq!(
            r.headers.get("authorization").map(String::as_str),
            Some(format!("Bearer {OPENAI_KEY}").as_str())
        );
    }
    // The direct run's usage comes from Codex's own rollouts (source codex-log); the
    // proxied run's only from the proxy (its rollout is left to the proxy's records).
    let events: Vec<Value> = wait_until(WAIT, "the proxied requests' usage", || {
        let e: Vec<Value> = usage_events(&env)
            .into_iter()
            .filter(|e| e["source"] == "proxy")
            .collect();
        (e.len() >= proxied.len()).then_some(e)
    });
    assert_eq!(events.len(), proxied.len(), "{events:?}");
    for e in &events {
        assert_eq!(
            (&e["profile"], &e["source"], &e["model"]),
            (&json!("cx"), &json!("proxy"), &json!("gpt-5"))
        );
        assert_eq!(
            (
                &e["input_tokens"],
                &e["cache_read_input_tokens"],
                &e["output_tokens"]
            ),
            (&json!(1234), &json!(89), &json!(56)),
            "{e}"
        );
    }
    let config = std::fs::read_to_string(env.home.join(".codex-profiles/cx/config.toml")).unwrap();
    assert!(!config.contains(OPENAI_KEY), "{config}");
}
