//! The web UI in a real browser: Debian's chromium driven by playwright-core
//! (tests/browser/ui.mjs) against the real daemon, with a test agent that echoes what it
//! reads and a local upstream for the proxy.

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::helpers::*;

const ECHO_AGENT: &str = r#"#!/bin/sh
echo "echo agent ready"
while IFS= read -r line; do
  case "$line" in
    exit\ *) exit "${line#exit }" ;;
    *) echo "ECHO:$line" ;;
  esac
done
"#;

/// Registers an agent `echoer` (binary `clown-test-echo`) through the user registry file.
pub fn install_echo_agent(env: &TestEnv) -> std::path::PathBuf {
    let bin = env.root.join("agent-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("clown-test-echo");
    std::fs::write(&script, ECHO_AGENT).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let registry = env.home.join(".config/clown/registry");
    std::fs::create_dir_all(&registry).unwrap();
    let agent = json!({"version": 1, "agents": [{
        "id": "echoer", "name": "Echo test agent", "binary": "clown-test-echo", "npm_package": "none",
        "version_args": ["--version"], "version_regex": "(\\d+\\.\\d+\\.\\d+)", "profile_strategy": "env-only",
        "launcher": "env", "protocol": "anthropic", "home_env": null, "base_url_env": "ANTHROPIC_BASE_URL",
        "api_key_env": "ANTHROPIC_API_KEY", "model_env": "ANTHROPIC_MODEL", "extra_env": {},
        "supports_hooks": false, "default_model": "claude-sonnet-4", "supported_models": ["claude-sonnet-4"]
    }]});
    std::fs::write(registry.join("agents.json"), agent.to_string()).unwrap();
    bin
}

#[test]
fn the_web_ui_in_chromium() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "chromium is needed for the UI tests (apt-get install chromium; .ci/run does)"
    );
    let env = TestEnv::new("browser");
    let bin = install_echo_agent(&env);
    // A shared database, so the usage page offers every machine's usage.
    let pg = crate::pg::Postgres::start(false);
    env.write_config(&format!(
        "[agents]\nextra_paths = [\"{}\", \"{}\"]\n[sync]\nurl = \"{}\"\nmachine_name = \"browser-box\"\ninterval_ms = 200\n",
        bin.display(),
        deps_bin().display(),
        pg.url("disable")
    ));
    let upstream = crate::upstream::Upstream::start(Default::default());
    let d = Daemon::start(&env);
    create_profile(
        &d,
        json!({"agent_id": "echoer", "alias": "echo-term", "provider_id": "anthropic", "api_key": "sk-echo-0123456789abcdef"}),
    );
    // An agent that is not installed, for the Doctor page's failing check.
    create_profile(
        &d,
        json!({"agent_id": "droid", "alias": "no-droid", "provider_id": "anthropic", "api_key": "sk-droid-0123456789abcdef"}),
    );
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "proxied", "provider_id": "anthropic", "api_key": "sk-proxied-0123456789abcdef",
               "base_url": upstream.url()}),
    );
    // A subscription profile whose login the UI starts (the real `claude auth login`),
    // limits a provider sent for the other, and a bound directory.
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "sub-login", "provider_id": "anthropic", "auth": "login"}),
    );
    let now_s = jiff::Timestamp::now().as_second();
    d.api(
        "POST",
        "/api/usage/record",
        Some(&json!({"limits": [{"profile": "proxied", "provider": "anthropic", "ts": now_s, "http_status": 200,
            "headers": {"anthropic-ratelimit-unified-status": "allowed", "anthropic-ratelimit-unified-5h-utilization": "0.25",
                        "anthropic-ratelimit-unified-5h-reset": (now_s + 3600).to_string()}}]})),
    )
    .expect_ok();
    let bound = env.root.join("bound-project");
    std::fs::create_dir_all(&bound).unwrap();
    d.api(
        "POST",
        "/api/bindings",
        Some(&json!({"dir": bound, "profile": "echo-term"})),
    )
    .expect_ok();
    // Usage for the charts: some today, more ten days ago, so periods differ.
    let now = jiff::Timestamp::now().as_second();
    let events: Vec<_> = (0..12)
        .map(|i| {
            json!({"profile": if i % 2 == 0 { "echo-term" } else { "proxied" },
                   "model": if i % 3 == 0 { "claude-opus-4" } else { "claude-sonnet-4" },
                   "ts": now - (i % 4) * 86400 * 3, "source": "test",
                   "input_tokens": 1000 * (i + 1), "output_tokens": 300 * (i + 1),
                   "cache_creation_input_tokens": 50, "cache_read_input_tokens": 2000})
        })
        .collect();
    d.api(
        "POST",
        "/api/usage/record",
        Some(&json!({"events": events})),
    )
    .expect_ok();
    // A Codex rollout in the default Codex home, for the page's import (pseudo-profile @codex).
    let iso = jiff::Timestamp::from_second(now - 3600)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S.000Z")
        .to_string();
    let rollout = env.home.join(".codex/sessions/2026/01/01/rollout-2026-01-01T00-00-00-0199cccc-0000-7000-8000-000000000001.jsonl");
    std::fs::create_dir_all(rollout.parent().unwrap()).unwrap();
    std::fs::write(
        &rollout,
        format!(
            "{}\n{}\n",
            json!({"timestamp": iso, "type": "turn_context", "payload": {"model": "gpt-5-codex"}}),
            json!({"timestamp": iso, "type": "event_msg", "payload": {"type": "token_count", "info": {
                "total_token_usage": {"input_tokens": 500000, "cached_input_tokens": 100000, "output_tokens": 9000, "reasoning_output_tokens": 2000, "total_tokens": 509000},
                "last_token_usage": {"input_tokens": 500000, "cached_input_tokens": 100000, "output_tokens": 9000, "reasoning_output_tokens": 2000, "total_tokens": 509000}}}}),
        ),
    )
    .unwrap();
    let artifacts = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-artifacts/ui");
    let deps = deps_bin().parent().unwrap().to_path_buf();
    let out = std::process::Command::new("node")
        .arg(format!(
            "{}/tests/browser/ui.mjs",
            env!("CARGO_MANIFEST_DIR")
        ))
        .env("BASE", format!("http://127.0.0.1:{}", d.port))
        .env("TOKEN", &d.token)
        .env("ARTIFACTS", &artifacts)
        .env("DEPS_DIR", deps.parent().unwrap())
        .env("TERM_PROFILE", "echo-term")
        .env("PROXY_PROFILE", "proxied")
        .env("PROXY_HOME", env.home.join(".claude-profiles/proxied"))
        .env("LOGIN_PROFILE", "sub-login")
        .env("BOUND_DIR", &bound)
        .env("MACHINE_NAME", "browser-box")
        .env("CHROMIUM", &chromium)
        .env("TZ", "UTC")
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "browser steps failed:\n{stdout}\n{stderr}\ndaemon log:\n{}",
        d.stderr()
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    assert!(artifacts.join("usage.png").exists());
}

/// A new user's first visit: no profile, no agent installed. The dashboard shows how to
/// install one, notices the agent once it is there, creates a profile from it and ends in
/// a running terminal session.
#[test]
fn the_first_run_in_chromium() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let env = TestEnv::new("first-run");
    // The echo agent is registered, but its program is not installed yet: it waits beside
    // the directory the daemon searches, for the browser script to "install" it.
    let staged = install_echo_agent(&env).join("clown-test-echo");
    let bin = env.root.join("installed-bin");
    std::fs::create_dir_all(&bin).unwrap();
    env.write_config(&format!(
        "[agents]\nextra_paths = [\"{}\"]\n",
        bin.display()
    ));
    let d = Daemon::start(&env);
    assert_eq!(d.get("/api/agents/echoer").expect_ok()["installed"], false);
    let artifacts = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-artifacts/ui");
    let deps = deps_bin().parent().unwrap().to_path_buf();
    let out = std::process::Command::new("node")
        .arg(format!(
            "{}/tests/browser/first-run.mjs",
            env!("CARGO_MANIFEST_DIR")
        ))
        .env("BASE", format!("http://127.0.0.1:{}", d.port))
        .env("TOKEN", &d.token)
        .env("ARTIFACTS", &artifacts)
        .env("DEPS_DIR", deps.parent().unwrap())
        .env("CHROMIUM", &chromium)
        .env("STAGED_AGENT", &staged)
        .env("INSTALL_AGENT_TO", bin.join("clown-test-echo"))
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "browser steps failed:\n{stdout}\n{}\ndaemon log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        d.stderr()
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    let profile = d.get("/api/profiles/first").expect_ok();
    assert_eq!(profile["agent_id"], "echoer");
    let sessions = d.get("/api/terminal/sessions").expect_ok();
    assert_eq!(sessions[0]["profile_alias"], "first", "{sessions}");
}

/// An agent that prints 150 numbered lines, then reads its terminal raw and reports each
/// byte it reads: on its screen (`KEY:1b`) and, as hex, in `log`.
const KEYS_AGENT: &str = r#"#!/bin/sh
i=1
while [ $i -le 150 ]; do printf 'line-%03d\r\n' $i; i=$((i+1)); done
stty raw -echo
while :; do
  b=$(dd bs=1 count=1 2>/dev/null | od -An -tx1 | tr -d ' \n')
  [ -n "$b" ] || exit 0
  printf '%s\n' "$b" >> "@LOG@"
  printf 'KEY:%s\r\n' "$b"
done
"#;

/// The terminal on a phone (mobile emulation): the sessions that need you first, touch
/// scrolling through the scrollback, the key bar and Paste (bytes checked where the
/// session's program reads them), and a read-only share link opened on another phone.
#[test]
fn the_phone_terminal_in_chromium() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let env = TestEnv::new("phone");
    let bin = install_echo_agent(&env);
    let log = env.root.join("keys.log");
    let script = bin.join("clown-test-keys");
    std::fs::write(
        &script,
        KEYS_AGENT.replace("@LOG@", &log.display().to_string()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let agents_file = env.home.join(".config/clown/registry/agents.json");
    let mut agents: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&agents_file).unwrap()).unwrap();
    let mut keys = agents["agents"][0].clone();
    keys["id"] = json!("keys");
    keys["name"] = json!("Key test agent");
    keys["binary"] = json!("clown-test-keys");
    agents["agents"].as_array_mut().unwrap().push(keys);
    std::fs::write(&agents_file, agents.to_string()).unwrap();
    env.write_config(&format!(
        "[agents]\nextra_paths = [\"{}\"]\n",
        bin.display()
    ));
    let d = Daemon::start(&env);
    for (agent, alias) in [("keys", "keys"), ("echoer", "waiting")] {
        create_profile(
            &d,
            json!({"agent_id": agent, "alias": alias, "provider_id": "anthropic", "api_key": "sk-phone-0123456789abcdef"}),
        );
    }
    let start = |alias: &str| {
        d.api(
            "POST",
            "/api/terminal/sessions",
            Some(&json!({"profile_alias": alias})),
        )
        .expect_ok()["session_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (keys_session, waiting) = (start("keys"), start("waiting"));
    let artifacts = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-artifacts/ui");
    let deps = deps_bin().parent().unwrap().to_path_buf();
    let out = std::process::Command::new("node")
        .arg(format!(
            "{}/tests/browser/phone.mjs",
            env!("CARGO_MANIFEST_DIR")
        ))
        .env("BASE", format!("http://127.0.0.1:{}", d.port))
        .env("TOKEN", &d.token)
        .env("ARTIFACTS", &artifacts)
        .env("DEPS_DIR", deps.parent().unwrap())
        .env("CHROMIUM", &chromium)
        .env("KEYS_SESSION", &keys_session)
        .env("WAITING_SESSION", &waiting)
        .env("KEY_LOG", &log)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "browser steps failed:\n{stdout}\n{}\ndaemon log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        d.stderr()
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    // Nothing the read-only viewer typed reached the program.
    let read = std::fs::read_to_string(&log).unwrap();
    assert!(!read.lines().any(|b| b == "7a"), "{read}");
    assert!(artifacts.join("phone-terminal.png").exists());
}
