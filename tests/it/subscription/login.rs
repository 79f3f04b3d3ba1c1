//! The agents' own logins: what the files in a profile home say, compared with what the
//! real agents say of the same files (`claude auth status --json`, `codex login
//! status`), the login command started with the profile's home (in the user's terminal
//! and in a terminal session), and the rules around it.

use std::io::Read;
use std::process::Stdio;

use serde_json::json;

use super::*;

fn login_profile(agent: &str, provider: &str, alias: &str) -> Value {
    json!({"agent_id": agent, "alias": alias, "provider_id": provider, "auth": "login"})
}

#[test]
fn claude_login_state_is_what_claude_itself_reads() {
    let env = TestEnv::new("sub-login");
    let d = Daemon::start(&env);
    create_profile(&d, login_profile("claude", "anthropic", "mine"));
    let home = env.home.join(".claude-profiles/mine");
    let auth_status = || {
        let out = std::process::Command::new(deps_bin().join("claude"))
            .args(["auth", "status", "--json"])
            .env_clear()
            .env("HOME", &env.home)
            .env("PATH", path_with_deps())
            .env("CLAUDE_CONFIG_DIR", &home)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
    };
    let shown = d.get("/api/profiles/mine").expect_ok();
    assert_eq!(shown["auth"], "login");
    assert_eq!(shown["login"]["logged_in"], false);
    assert_eq!(auth_status()["loggedIn"], false);

    // What a sign-in leaves behind (a hand-written login, as the agent writes it).
    let ends = jiff::Timestamp::now().as_millisecond() + 20 * 86_400_000;
    std::fs::write(
        home.join(".credentials.json"),
        json!({"claudeAiOauth": {"accessToken": "sk-ant-oat01-LOGIN-ACCESS", "refreshToken": "sk-ant-ort01-LOGIN-REFRESH",
               "expiresAt": jiff::Timestamp::now().as_millisecond() + 3_600_000, "refreshTokenExpiresAt": ends,
               "scopes": ["user:inference", "user:profile"], "subscriptionType": "max", "rateLimitTier": "default_claude_max_5x"}})
        .to_string(),
    )
    .unwrap();
    let login = d.get("/api/profiles/mine").expect_ok()["login"].clone();
    let theirs = auth_status();
    assert_eq!(theirs["loggedIn"], true, "{theirs}");
    assert_eq!(login["logged_in"], true, "{login}");
    assert_eq!(login["method"], "claude.ai");
    assert_eq!(login["plan"], "max (default_claude_max_5x)");
    assert_eq!(theirs["subscriptionType"], "max");
    // The same end of the login, to the second.
    let ours: jiff::Timestamp = login["until"].as_str().unwrap().parse().unwrap();
    let claude: jiff::Timestamp = theirs["loginExpiresAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(ours.as_second(), claude.as_second(), "{login} vs {theirs}");
    assert!(
        !login.to_string().contains("LOGIN-"),
        "no token in the view"
    );
    let (ok, stdout, _) = output(env.cli(&d).args(["profiles", "show", "mine"]));
    assert!(ok && stdout.contains("logged in: yes"), "{stdout}");
    assert!(
        stdout.contains(&format!("until {}", login["until"].as_str().unwrap())),
        "{stdout}"
    );
    // The launch hands no credential: the agent's own login is used.
    let spec = d.api("POST", "/api/profiles/mine/launch", None).expect_ok();
    assert!(spec["env"].get("ANTHROPIC_API_KEY").is_none(), "{spec}");
    assert!(
        spec["unset"]
            .as_array()
            .unwrap()
            .contains(&json!("ANTHROPIC_AUTH_TOKEN"))
    );
    assert_eq!(spec["secret_fds"], json!([]));

    // The rules: no proxy (the agent holds the login), no key with it, and a key
    // profile has no login to run.
    let mut bad = login_profile("claude", "anthropic", "x");
    bad["proxy"] = json!({"enabled": true});
    assert!(
        d.api("POST", "/api/profiles", Some(&bad))
            .expect_error(400)
            .contains("proxy")
    );
    let mut bad = login_profile("claude", "anthropic", "x");
    bad["api_key"] = json!("sk-0123456789abcdef");
    d.api("POST", "/api/profiles", Some(&bad)).expect_error(400);
    d.api(
        "POST",
        "/api/profiles",
        Some(&login_profile("grok", "xai", "x")),
    )
    .expect_error(400);
    let mut tok = json!({"agent_id": "codex", "alias": "x", "provider_id": "openai", "auth": "token", "oauth_token": "t0123456789"});
    assert!(
        d.api("POST", "/api/profiles", Some(&tok))
            .expect_error(400)
            .contains("token")
    );
    tok["agent_id"] = json!("claude");
    tok["provider_id"] = json!("minimax");
    d.api("POST", "/api/profiles", Some(&tok)).expect_error(400);
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "keyed", "provider_id": "anthropic", "api_key": "sk-ant-0123456789abcdef"}),
    );
    d.api("POST", "/api/profiles/keyed/login", None)
        .expect_error(409);
    d.api(
        "PUT",
        "/api/profiles/mine/proxy",
        Some(&json!({"enabled": true})),
    )
    .expect_error(400);
}

#[test]
fn the_login_runs_with_the_profile_home_in_a_terminal_and_a_session() {
    let env = TestEnv::new("sub-login-run");
    env.write_config(&format!(
        "[agents]\nextra_paths = [\"{}\"]\n",
        deps_bin().display()
    ));
    let d = Daemon::start(&env);
    create_profile(&d, login_profile("claude", "anthropic", "mine"));
    let home = env.home.join(".claude-profiles/mine");
    // `clown profiles login` runs `claude auth login` here with the profile's home: it
    // prints where to sign in. Its own process group, to end it and its agent together.
    let mut child = {
        use std::os::unix::process::CommandExt;
        env.cli(&d)
            .args(["profiles", "login", "mine"])
            .env("PATH", path_with_deps())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap()
    };
    let environ = environ_with(&format!("CLAUDE_CONFIG_DIR={}", home.display()));
    let cmdline = || {
        std::fs::read_dir("/proc").unwrap().flatten().find_map(|e| {
            let env = std::fs::read(e.path().join("environ")).ok()?;
            let marker = format!("CLAUDE_CONFIG_DIR={}", home.display());
            env.split(|b| *b == 0)
                .any(|v| v == marker.as_bytes())
                .then(|| std::fs::read(e.path().join("cmdline")).unwrap_or_default())
        })
    };
    let args = String::from_utf8_lossy(&cmdline().unwrap_or_default()).replace('\0', " ");
    assert!(args.contains("auth login"), "{args}");
    assert!(!environ.iter().any(|v| v.starts_with("ANTHROPIC_API_KEY=")));
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = String::new();
    wait_until(WAIT, "the sign-in link", || {
        let mut buf = [0u8; 4096];
        let n = stdout.read(&mut buf).ok()?;
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        (seen.contains("oauth/authorize") || n == 0).then_some(())
    });
    send_signal(-(child.id() as i32), SIGKILL);
    let _ = child.wait();
    assert!(seen.contains("oauth/authorize"), "{seen}");

    // The web UI's way: a terminal session running the login.
    let s = d
        .api(
            "POST",
            "/api/terminal/sessions",
            Some(&json!({"profile_alias": "mine", "login": true})),
        )
        .expect_ok();
    let id = s["session_id"].as_str().unwrap().to_string();
    let mut ws = crate::ws::connect(d.port, &format!("/ws/terminal/{id}"), &d.token);
    let mut screen = Vec::new();
    wait_until(WAIT, "the sign-in link on the session's screen", || {
        if let Some(crate::ws::Frame::Binary(b)) = ws.read_frame(Duration::from_millis(500)) {
            screen.extend_from_slice(&b);
        }
        let text: String = String::from_utf8_lossy(&screen)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        text.contains("oauth/authorize").then_some(())
    });
    d.api("DELETE", &format!("/api/terminal/sessions/{id}"), None)
        .expect_ok();
    d.api(
        "POST",
        "/api/terminal/sessions",
        Some(&json!({"profile_alias": "mine", "login": "yes"})),
    )
    .expect_error(400);
}

/// An unsigned JWT with `claims` (what Codex reads its account and plan from).
fn jwt(claims: &Value) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let b64 = |bytes: &[u8]| {
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n =
                chunk.iter().fold(0u32, |a, b| (a << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    };
    format!(
        "{}.{}.c2ln",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes())
    )
}

#[test]
fn codex_login_state_is_what_codex_itself_reads() {
    let env = TestEnv::new("sub-codex");
    let d = Daemon::start(&env);
    create_profile(&d, login_profile("codex", "openai", "cx"));
    let home = env.home.join(".codex-profiles/cx");
    let config = std::fs::read_to_string(home.join("config.toml")).unwrap();
    assert!(
        config.contains("cli_auth_credentials_store = \"file\""),
        "{config}"
    );
    assert!(!config.contains("model_provider ="), "{config}");
    assert!(config.starts_with("# clown sets"), "{config}");
    let codex_status = || {
        output(
            std::process::Command::new(deps_bin().join("codex"))
                .args(["login", "status"])
                .env_clear()
                .env("HOME", &env.home)
                .env("PATH", path_with_deps())
                .env("CODEX_HOME", &home),
        )
    };
    assert!(!codex_status().0);
    assert_eq!(
        d.get("/api/profiles/cx").expect_ok()["login"]["logged_in"],
        false
    );
    let exp = jiff::Timestamp::now().as_second() + 3600;
    std::fs::write(
        home.join("auth.json"),
        json!({"auth_mode": "chatgpt", "OPENAI_API_KEY": null,
               "tokens": {"id_token": jwt(&json!({"email": "someone@example.com", "exp": exp,
                            "https://api.openai.com/auth": {"chatgpt_plan_type": "plus", "chatgpt_account_id": "acc"}})),
                          "access_token": jwt(&json!({"exp": exp})), "refresh_token": "rt-SECRET", "account_id": "acc"},
               "last_refresh": "2026-11-28T10:00:00Z"})
        .to_string(),
    )
    .unwrap();
    let (ok, out, err) = codex_status();
    assert!(
        ok && format!("{out}{err}").contains("ChatGPT"),
        "{out}{err}"
    );
    let login = d.get("/api/profiles/cx").expect_ok()["login"].clone();
    assert_eq!(login["logged_in"], true, "{login}");
    assert_eq!(login["method"], "chatgpt");
    assert_eq!(login["account"], "someone@example.com");
    assert_eq!(login["plan"], "plus");
    assert_eq!(login["last_refresh"], "2026-11-28T10:00:00Z");
    assert_eq!(
        login["access_expires_at"],
        jiff::Timestamp::from_second(exp).unwrap().to_string()
    );
    assert!(!login.to_string().contains("SECRET"));
}
