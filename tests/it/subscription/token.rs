//! A subscription token: direct (on a descriptor, in `clown profiles run` and in a
//! terminal session) and through the proxy (which holds it; the upstream sees it, the
//! agent never does), and the rate-limit headers the upstream sent, recorded and shown.

use std::process::Stdio;

use serde_json::json;

use super::*;
use crate::upstream::{Script, Upstream};

fn project(env: &TestEnv) -> std::path::PathBuf {
    let p = env.root.join("project");
    std::fs::create_dir_all(&p).unwrap();
    p
}

fn assert_oauth(m: &crate::upstream::Recorded) {
    assert_eq!(
        m.headers.get("authorization").map(String::as_str),
        Some(format!("Bearer {TOKEN}").as_str()),
        "{:?}",
        m.headers
    );
    let beta = m.headers.get("anthropic-beta").cloned().unwrap_or_default();
    assert!(
        beta.split(',').any(|b| b.trim() == "oauth-2025-04-20"),
        "anthropic-beta: {beta}"
    );
    assert!(!m.headers.contains_key("x-api-key"), "{:?}", m.headers);
}

#[test]
fn a_token_profile_answers_with_the_token_on_a_descriptor() {
    let env = TestEnv::new("sub-direct");
    let up = Upstream::start(Script {
        reply: "PONG-WITH-A-SUBSCRIPTION".into(),
        // Long enough to read Claude Code's environment while it waits.
        delay: Duration::from_millis(1500),
        ..Default::default()
    });
    env.write_config(&format!(
        "[agents]\nextra_paths = [\"{}\"]\n",
        deps_bin().display()
    ));
    let d = Daemon::start(&env);
    create_profile(&d, token_profile("sub", &up.url(), false));
    let shown = d.get("/api/profiles/sub").expect_ok();
    assert_eq!(shown["auth"], "token");
    assert_eq!(
        (&shown["token_set"], &shown["api_key_set"]),
        (&json!(true), &json!(false))
    );
    assert_eq!(shown["token_hint"], "…mnop");
    assert_eq!(shown["login"]["method"], "token");
    assert!(!shown.to_string().contains(TOKEN));
    let listed = d.get("/api/profiles").expect_ok();
    assert_eq!(listed[0]["auth"], "token");
    assert!(!listed.to_string().contains(TOKEN));

    // In the user's terminal: the token reaches Claude Code on descriptor 3, never in its
    // environment, and a token or key left in the shell is not used.
    let home = env.home.join(".claude-profiles/sub");
    let child = env
        .cli(&d)
        .args(["profiles", "run", "sub", "--", "-p", "say pong"])
        .env("PATH", path_with_deps())
        .env(
            "CLAUDE_CODE_OAUTH_TOKEN",
            "shell-token-that-must-not-be-used",
        )
        .env("ANTHROPIC_API_KEY", "shell-key-that-must-not-be-used")
        .current_dir(project(&env))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let environ = environ_with(&format!("CLAUDE_CONFIG_DIR={}", home.display()));
    assert!(
        environ.contains(&"CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR=3".to_string()),
        "{environ:?}"
    );
    assert!(
        !environ
            .iter()
            .any(|v| v.contains(TOKEN) || v.contains("must-not-be-used")),
        "{environ:?}"
    );
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("PONG-WITH-A-SUBSCRIPTION"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = up.messages();
    assert!(!seen.is_empty());
    seen.iter().for_each(assert_oauth);

    // In a terminal session the daemon hands the descriptor to the PTY's child.
    let before = up.messages().len();
    let s = d
        .api(
            "POST",
            "/api/terminal/sessions",
            Some(&json!({"profile_alias": "sub", "args": ["-p", "say pong"], "working_dir": project(&env)})),
        )
        .expect_ok();
    let ended = wait_terminated(&d, s["session_id"].as_str().unwrap());
    assert_eq!(ended["exit_code"], 0, "{ended}");
    let seen = up.messages();
    assert!(
        seen.len() > before,
        "the session's agent reached the upstream"
    );
    seen[before..].iter().for_each(assert_oauth);

    // `profiles env` cannot hand a descriptor to a shell: it exports the plain variable
    // and says so.
    let (ok, stdout, stderr) = output(env.cli(&d).args(["profiles", "env", "sub"]));
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(&format!("export CLAUDE_CODE_OAUTH_TOKEN='{TOKEN}'")),
        "{stdout}"
    );
    assert!(stdout.contains("unset ANTHROPIC_API_KEY"), "{stdout}");
    assert!(stderr.contains("descriptor"), "{stderr}");
    // Nothing of the token in the daemon's log or the agent's files.
    assert!(!d.stderr().contains(TOKEN));
    let claude_json = std::fs::read_to_string(home.join(".claude.json")).unwrap();
    assert!(!claude_json.contains(TOKEN) && !claude_json.contains("mnop\""));
}

#[test]
fn through_the_proxy_the_token_stays_in_the_proxy_and_limits_are_recorded() {
    let now = jiff::Timestamp::now().as_second();
    let limit_headers = vec![
        (
            "anthropic-ratelimit-unified-status".to_string(),
            "allowed".to_string(),
        ),
        (
            "anthropic-ratelimit-unified-5h-utilization".into(),
            "0.25".into(),
        ),
        (
            "anthropic-ratelimit-unified-5h-reset".into(),
            (now + 3600).to_string(),
        ),
        (
            "anthropic-ratelimit-unified-7d-utilization".into(),
            "0.5".into(),
        ),
        (
            "anthropic-ratelimit-unified-7d-reset".into(),
            (now + 3 * 86400).to_string(),
        ),
        (
            "anthropic-ratelimit-unified-representative-claim".into(),
            "five_hour".into(),
        ),
    ];
    let up = Upstream::start(Script {
        reply: "PONG-THROUGH-THE-PROXY-WITH-A-SUBSCRIPTION".into(),
        headers: limit_headers.clone(),
        ..Default::default()
    });
    let (env, d) = crate::proxy::start("sub-proxy", "");
    create_profile(&d, token_profile("subp", &up.url(), true));
    crate::proxy::wait_status(&d, "subp", "running");
    let mut events = crate::ws::connect(d.port, "/ws/events", &d.token);
    // The agent gets the proxy's URL and the local token; no trace of the real one.
    let spec = crate::proxy::launch_env(&d, "subp");
    assert!(!spec.to_string().contains(TOKEN), "{spec}");
    assert_eq!(spec["secret_fds"], json!([]));
    let local = spec["env"]["ANTHROPIC_API_KEY"]
        .as_str()
        .unwrap()
        .to_string();

    let (ok, stdout, stderr) = output(
        env.cli(&d)
            .args(["profiles", "run", "subp", "--", "-p", "say pong"])
            .env("PATH", path_with_deps())
            .current_dir(project(&env)),
    );
    assert!(
        ok && stdout.contains("PONG-THROUGH-THE-PROXY-WITH-A-SUBSCRIPTION"),
        "{stdout}\n{stderr}"
    );
    let seen = up.messages();
    assert!(!seen.is_empty());
    for m in &seen {
        assert_oauth(m);
        assert!(
            !format!("{:?}", m.headers).contains(&local),
            "the local token went upstream"
        );
    }

    // The limits the upstream sent: in the profile, on its own route, and as an event.
    let limits = wait_until(WAIT, "the limits snapshot", || {
        let l = d.get("/api/profiles/subp/limits").expect_ok();
        (!l["latest"].is_null()).then_some(l)
    });
    let latest = &limits["latest"];
    assert_eq!(latest["provider"], "anthropic");
    assert_eq!(latest["http_status"], 200);
    let unified = &latest["unified"];
    assert_eq!(unified["status"], "allowed");
    assert_eq!(unified["representative_claim"], "five_hour");
    assert_eq!(unified["windows"]["five_hour"]["used_percentage"], 25.0);
    assert_eq!(unified["windows"]["seven_day"]["utilization"], 0.5);
    let reset = jiff::Timestamp::from_second(now + 3600).unwrap();
    assert_eq!(
        unified["windows"]["five_hour"]["resets_at"],
        reset.to_string()
    );
    for (k, v) in &limit_headers {
        assert_eq!(latest["headers"][k], v.as_str(), "{k}");
    }
    assert_eq!(d.get("/api/profiles/subp").expect_ok()["limits"], *latest);
    let frames = events.read_text_frames_until("limits_updated", |f| {
        f.iter().any(|t| t.contains("\"limits_updated\""))
    });
    let ev: Value = frames
        .iter()
        .map(|t| serde_json::from_str::<Value>(t).unwrap())
        .find(|v| v["type"] == "limits_updated")
        .unwrap();
    assert_eq!(ev["data"]["profile"], "subp");
    assert_eq!(
        ev["data"]["limits"]["unified"]["windows"]["five_hour"]["used_percentage"],
        25.0
    );
    let (ok, stdout, _) = output(env.cli(&d).args(["profiles", "show", "subp"]));
    assert!(ok && stdout.contains("five_hour 25% used"), "{stdout}");

    // A 429 with retry-after becomes the latest state; the earlier one stays in history.
    let mut rejected = limit_headers.clone();
    rejected[0].1 = "rejected".into();
    rejected.push(("retry-after".into(), "30".into()));
    up.set_script(Script {
        status: Some(429),
        headers: rejected,
        ..Default::default()
    });
    let (port, token) = crate::proxy::endpoint(&d, "subp");
    let r = crate::proxy::post(
        port,
        &[("x-api-key", &token)],
        &crate::proxy::message("claude-sonnet-4", false),
    );
    assert_eq!(r.status, 429, "{}", r.text());
    let limits = wait_until(WAIT, "the 429 snapshot", || {
        let l = d.get("/api/profiles/subp/limits?history=5").expect_ok();
        (l["latest"]["http_status"] == 429).then_some(l)
    });
    assert_eq!(limits["latest"]["retry_after_secs"], 30);
    assert_eq!(limits["latest"]["unified"]["status"], "rejected");
    assert_eq!(limits["history"][0]["http_status"], 200);
    assert!(!d.stderr().contains(TOKEN));
}

#[test]
fn limits_through_the_api_are_checked_and_kept_per_state() {
    let env = TestEnv::new("sub-limits");
    let d = Daemon::start(&env);
    create_profile(&d, token_profile("l", "http://127.0.0.1:9", false));
    let snap = |status: &str, ts: i64| {
        json!({"limits": [{"profile": "l", "provider": "anthropic", "ts": ts, "http_status": 200,
               "headers": {"anthropic-ratelimit-unified-status": status}}]})
    };
    let now = jiff::Timestamp::now().as_second();
    d.api(
        "POST",
        "/api/usage/record",
        Some(&snap("allowed", now - 10)),
    )
    .expect_ok();
    // The same state again only moves its last sighting.
    let r = d
        .api("POST", "/api/usage/record", Some(&snap("allowed", now)))
        .expect_ok();
    assert_eq!(r["limits_changed"], 0);
    let l = d.get("/api/profiles/l/limits?history=10").expect_ok();
    assert_eq!(l["history"], json!([]));
    assert_eq!(
        l["latest"]["observed_at"],
        jiff::Timestamp::from_second(now).unwrap().to_string()
    );
    for bad in [
        json!({"limits": [{"profile": "l", "provider": "p", "ts": now, "http_status": 200, "headers": {"set-cookie": "x"}}]}),
        json!({"limits": [{"profile": "l", "provider": "p", "ts": now, "http_status": 200, "headers": {}}]}),
        json!({"limits": [{"profile": "l", "provider": "p", "ts": 5, "http_status": 200, "headers": {"retry-after": "1"}}]}),
    ] {
        d.api("POST", "/api/usage/record", Some(&bad))
            .expect_error(400);
    }
    d.get("/api/profiles/l/limits?history=5000")
        .expect_error(400);
    d.get("/api/profiles/nobody/limits").expect_error(404);
    // Deleting the profile drops its limits.
    d.api("DELETE", "/api/profiles/l", None).expect_ok();
    create_profile(&d, token_profile("l", "http://127.0.0.1:9", false));
    assert_eq!(
        d.get("/api/profiles/l/limits").expect_ok()["latest"],
        Value::Null
    );
}
