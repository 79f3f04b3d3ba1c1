//! Agents found where the user's shell finds them, with a daemon whose own PATH lacks
//! them (as under systemd): through the login shell's PATH, and through the PATH the CLI
//! hands over with a new terminal session — only from a directory no other user can
//! write to.

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use super::*;

#[test]
fn the_login_shells_path_finds_an_agent_the_daemons_path_lacks() {
    let env = TestEnv::new("path-login");
    let bin = echo_agent(&env);
    // A login shell whose profile puts the agent's directory on PATH, as ~/.profile does
    // for ~/.local/bin or nvm; it is called as `SHELL -l -c COMMAND`.
    let shell = env.root.join("login-shell");
    script(
        &shell,
        &format!(
            "#!/bin/sh\necho 'a profile script talks'\nPATH={}:$PATH\nexport PATH\nexec /bin/sh -c \"$3\"\n",
            bin.display()
        ),
    );
    let d = Daemon::start_with(&env, |cmd| {
        cmd.env("PATH", BARE_PATH).env("SHELL", &shell);
    });
    let agent = d.get("/api/agents/echoer").expect_ok();
    assert_eq!(agent["installed"], true, "{agent}");
    assert_eq!(
        agent["binary_path"],
        json!(bin.join("clown-test-echo").display().to_string())
    );
    echo_profile(&d, "echo");
    let s = d
        .api(
            "POST",
            "/api/terminal/sessions",
            Some(&json!({"profile_alias": "echo"})),
        )
        .expect_ok();
    session_shows(&d, s["session_id"].as_str().unwrap(), "echo agent ready");
    let report = d.get("/api/daemon/doctor").expect_ok();
    assert_eq!(report["login_shell"]["state"], "read", "{report}");
    assert!(
        report["search_dirs"]
            .as_array()
            .unwrap()
            .contains(&json!({"dir": bin.display().to_string(), "source": "login_shell"})),
        "{report}"
    );
    drop(d);

    // Turned off, the login shell is not asked.
    env.write_config(&format!(
        "[agents]\nlogin_shell = false\nextra_paths = [\"{}\"]\n",
        env.root.join("elsewhere").display()
    ));
    let d = Daemon::start_with(&env, |cmd| {
        cmd.env("PATH", BARE_PATH).env("SHELL", &shell);
    });
    assert_eq!(d.get("/api/agents/echoer").expect_ok()["installed"], false);
}

#[test]
fn the_cli_hands_its_path_to_the_daemon() {
    let env = TestEnv::new("path-cli");
    let bin = echo_agent(&env);
    let d = Daemon::start_with(&env, |cmd| {
        cmd.env("PATH", BARE_PATH);
    });
    echo_profile(&d, "echo");
    // Asked without a PATH, the daemon says where it looked and how to add a directory.
    let msg = d
        .api(
            "POST",
            "/api/terminal/sessions",
            Some(&json!({"profile_alias": "echo"})),
        )
        .expect_error(400);
    for part in [
        "Agent 'echoer' is not installed where the daemon looks",
        "no executable 'clown-test-echo' in ~/.local/share/clown/agents/bin, /usr/bin, /bin",
        "agents.extra_paths in ~/.config/clown/config.toml",
        "systemctl --user reload clown",
    ] {
        assert!(msg.contains(part), "{part}: {msg}");
    }
    // A directory every user may write to is not taken on a client's word.
    let open = env.root.join("open-bin");
    std::fs::create_dir_all(&open).unwrap();
    std::fs::copy(bin.join("clown-test-echo"), open.join("clown-test-echo")).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let body = json!({"profile_alias": "echo", "search_path": format!("{}:{}", open.display(), bin.display())});
    let msg = d
        .api("POST", "/api/terminal/sessions", Some(&body))
        .expect_error(400);
    assert!(
        msg.contains(&format!("{} is writable by every user", open.display())),
        "{msg}"
    );
    assert_eq!(d.get("/api/terminal/sessions").expect_ok(), json!([]));
    assert_eq!(d.get("/api/agents/echoer").expect_ok()["installed"], false);

    // `clown terminal new` sends its PATH: the session runs, and it says how to attach.
    let out = env
        .cli(&d)
        .env("PATH", format!("{}:{BARE_PATH}", bin.display()))
        .args(["terminal", "new", "echo"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(id.len(), 36, "the id alone on stdout: {id}");
    assert!(
        stderr.contains(&format!("attach with 'clown terminal attach {}'", &id[..8])),
        "{stderr}"
    );
    session_shows(&d, &id, "echo agent ready");
    // The daemon searches that directory from now on: the web UI's way works too.
    let agent = d.get("/api/agents/echoer").expect_ok();
    assert_eq!(agent["installed"], true, "{agent}");
    d.api(
        "POST",
        "/api/terminal/sessions",
        Some(&json!({"profile_alias": "echo"})),
    )
    .expect_ok();
    let report = d.get("/api/daemon/doctor").expect_ok();
    assert!(
        report["search_dirs"]
            .as_array()
            .unwrap()
            .contains(&json!({"dir": bin.display().to_string(), "source": "client"})),
        "{report}"
    );
}

#[test]
fn the_real_claude_code_from_the_clis_path() {
    let env = TestEnv::new("path-claude");
    let deps = deps_bin();
    let d = Daemon::start_with(&env, |cmd| {
        cmd.env("PATH", BARE_PATH);
    });
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "work", "provider_id": "anthropic", "api_key": "sk-ant-test-0123456789abcdef"}),
    );
    assert_eq!(d.get("/api/agents/claude").expect_ok()["installed"], false);
    let out = env
        .cli(&d)
        .env("PATH", format!("{}:{BARE_PATH}", deps.display()))
        .args(["terminal", "new", "work"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let claude = d.get("/api/agents/claude").expect_ok();
    assert_eq!(claude["installed"], true, "{claude}");
    assert_eq!(claude["version"], "2.1.332", "{claude}");
    let session = d.get(&format!("/api/terminal/sessions/{id}")).expect_ok();
    assert_eq!(session["profile_alias"], "work");
    d.api("DELETE", &format!("/api/terminal/sessions/{id}"), None)
        .expect_ok();
}
