//! The per-profile sandbox: its setting (API and CLI), what an agent in it can and
//! cannot reach (a shell agent probing the files, in a terminal session), the refusal
//! when bubblewrap is missing, and the real Claude Code answering from inside it through
//! its proxy while a command it runs cannot read clown's files.
//!
//! The homes here live under cargo's target directory, not under /tmp: the sandbox gives
//! the agent an empty /tmp, which would hide a home there without clown's own hiding.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::{Value, json};

use crate::helpers::*;
use crate::upstream::{Script, Upstream};

const SH: &str = "clown-sandbox-sh";

/// A test home outside /tmp.
fn test_env(name: &str) -> TestEnv {
    let base = TestEnv::new(name);
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(base.root.file_name().expect("a test directory name"));
    let _ = std::fs::remove_dir_all(&root);
    let home = root.join("home");
    std::fs::create_dir_all(&home).unwrap();
    TestEnv { root, home }
}

/// `/bin/sh` as agent `sbsh` (user registry, found through `agents.extra_paths`).
fn shell_agent(env: &TestEnv, extra_config: &str) {
    let bin = env.root.join("agents");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink("/bin/sh", bin.join(SH)).unwrap();
    let registry = env.home.join(".config/clown/registry");
    std::fs::create_dir_all(&registry).unwrap();
    let manifest = json!({
        "id": "sbsh", "name": "Sandbox test shell", "binary": SH,
        "npm_package": "none", "version_args": ["--version"], "version_regex": "(\\d+)",
        "profile_strategy": "env", "launcher": "env", "protocol": "anthropic",
        "home_env": "SBSH_HOME", "base_url_env": "SBSH_BASE_URL",
        "api_key_env": "SBSH_KEY", "model_env": null, "extra_env": {},
        "supports_hooks": false, "default_model": "claude-sonnet-4",
        "supported_models": ["claude-sonnet-4"]
    });
    std::fs::write(
        registry.join("agents.json"),
        json!({"version": 1, "agents": [manifest]}).to_string(),
    )
    .unwrap();
    env.write_config(&format!(
        "{extra_config}\n[agents]\nextra_paths = [\"{}\"]\n",
        bin.display()
    ));
}

fn shell_profile(alias: &str, sandbox: bool) -> Value {
    json!({"agent_id": "sbsh", "alias": alias, "provider_id": "anthropic",
           "api_key": "sk-ant-sandbox-0123456789", "sandbox": {"enabled": sandbox}})
}

/// Runs `script` in a session of `alias` in `dir`; waits for its end; returns its
/// exit code.
fn run_session(d: &Daemon, alias: &str, dir: &Path, script: &str) -> i64 {
    let data = d
        .api(
            "POST",
            "/api/terminal/sessions",
            Some(&json!({"profile_alias": alias, "args": ["-c", script],
                         "working_dir": dir.display().to_string()})),
        )
        .expect_ok();
    let id = data["session_id"].as_str().unwrap().to_string();
    let s = wait_until(WAIT, "the session to end", || {
        let s = d.get(&format!("/api/terminal/sessions/{id}")).expect_ok();
        (s["state"] == "terminated").then_some(s)
    });
    s["exit_code"].as_i64().unwrap()
}

/// A shell script that tries each probe and writes `NAME=yes|no` lines to `out`.
fn probes(out: &str, list: &[(&str, String)]) -> String {
    let mut s = String::from(
        "p() { if sh -c \"$2\" >/dev/null 2>&1; then echo \"$1=yes\"; else echo \"$1=no\"; fi; }\n",
    );
    for (name, cmd) in list {
        s.push_str(&format!("p {name} '{cmd}' >> {out}\n"));
    }
    s
}

fn results(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn the_setting_through_api_and_cli() {
    let env = test_env("sb-setting");
    shell_agent(&env, "");
    let d = Daemon::start(&env);
    create_profile(&d, shell_profile("s", true));
    create_profile(
        &d,
        json!({"agent_id": "sbsh", "alias": "plain", "provider_id": "anthropic", "api_key": "sk-ant-sandbox-0123456789"}),
    );
    assert_eq!(
        d.get("/api/profiles/s").expect_ok()["sandbox"],
        json!({"enabled": true})
    );
    assert_eq!(
        d.get("/api/profiles/plain").expect_ok()["sandbox"],
        json!({"enabled": false})
    );
    let list = d.get("/api/profiles").expect_ok();
    assert_eq!(list[0]["alias"], "plain");
    assert_eq!(
        (&list[0]["sandbox_enabled"], &list[1]["sandbox_enabled"]),
        (&json!(false), &json!(true))
    );
    let r = d.api(
        "PUT",
        "/api/profiles/s/sandbox",
        Some(&json!({"enabled": false})),
    );
    let data = r.expect_ok();
    assert_eq!(data["enabled"], false);
    assert!(data["tool"].as_str().unwrap().ends_with("/bwrap"), "{data}");
    assert_eq!(
        d.get("/api/profiles/s").expect_ok()["sandbox"]["enabled"],
        false
    );
    d.api("PUT", "/api/profiles/s/sandbox", Some(&json!({"on": true})))
        .expect_error(400);
    d.api(
        "PUT",
        "/api/profiles/ghost/sandbox",
        Some(&json!({"enabled": true})),
    )
    .expect_error(404);
    // The CLI: create with --sandbox, turn it on and off, see it in `show`.
    let cli = |args: &[&str]| {
        let mut child = env
            .cli(&d)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        let _ = child
            .stdin
            .take()
            .unwrap()
            .write_all(b"sk-ant-sandbox-0123456789\n");
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    };
    let (ok, out) = cli(&[
        "profiles",
        "create",
        "c",
        "--agent",
        "sbsh",
        "--provider",
        "anthropic",
        "--api-key-stdin",
        "--sandbox",
    ]);
    assert!(ok, "{out}");
    assert_eq!(
        d.get("/api/profiles/c").expect_ok()["sandbox"]["enabled"],
        true
    );
    let (ok, out) = cli(&["profiles", "show", "c"]);
    assert!(ok && out.contains("enabled=yes"), "{out}");
    let (ok, out) = cli(&["profiles", "sandbox", "c", "off"]);
    assert!(ok && out.contains("off"), "{out}");
    let (ok, out) = cli(&["profiles", "show", "c"]);
    assert!(ok && out.contains("enabled=no"), "{out}");
    let (ok, _) = cli(&["profiles", "sandbox", "c", "on"]);
    assert!(ok);
    // An exported environment would run the agent outside: `env` refuses.
    let (ok, out) = cli(&["profiles", "env", "c"]);
    assert!(!ok && out.contains("clown profiles run c"), "{out}");
    let (ok, out) = cli(&["profiles", "env", "plain"]);
    assert!(ok && out.contains("export SBSH_KEY="), "{out}");
}

#[test]
fn a_sandboxed_agent_sees_only_its_home_and_directory() {
    let env = test_env("sb-probe");
    shell_agent(&env, "");
    let run = env.root.join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("marker"), "runtime").unwrap();
    let d = Daemon::start_with(&env, |cmd| {
        cmd.env("XDG_RUNTIME_DIR", &run);
    });
    create_profile(&d, shell_profile("boxed", true));
    create_profile(&d, shell_profile("other", false));
    let other = env.home.join(".sbsh-profiles/other");
    std::fs::write(other.join("secret"), "other's").unwrap();
    std::fs::write(env.home.join(".claude.json"), "{\"user\": \"secret\"}").unwrap();
    std::fs::create_dir_all(env.home.join(".codex")).unwrap();
    std::fs::write(env.home.join(".codex/auth.json"), "{}").unwrap();
    let own = env.home.join(".sbsh-profiles/boxed");
    let project = env.root.join("project");
    std::fs::create_dir_all(&project).unwrap();
    let data = env.data_dir();
    let state = env.state_dir();
    let h = env.home.display().to_string();
    let list = [
        ("db", format!("cat {}/clown.db", data.display())),
        ("token", format!("cat {}/token", state.display())),
        ("statedir", format!("test -n \"$(ls {})\"", state.display())),
        ("config", format!("ls {h}/.config/clown/registry")),
        ("other", format!("cat {}/secret", other.display())),
        ("runtime", format!("cat {}/marker", run.display())),
        ("realclaude", format!("grep -q secret {h}/.claude.json")),
        ("realcodex", format!("ls {h}/.codex/auth.json")),
        ("daemonproc", format!("cat /proc/{}/environ", d.pid())),
        ("ownhome", format!("echo hi > {}/probe", own.display())),
        ("cwd", "echo hi > ./probe".to_string()),
        ("homewrite", format!("touch {h}/probe")),
        ("system", "cat /etc/passwd".to_string()),
        ("elsewhere", format!("touch {}/probe", env.root.display())),
    ];
    let out = project.join("results");
    let script = probes(&out.display().to_string(), &list) + "exit 7\n";
    assert_eq!(run_session(&d, "boxed", &project, &script), 7);
    let expected: Vec<String> = list
        .iter()
        .map(|(name, _)| {
            let allowed = matches!(*name, "ownhome" | "cwd" | "system");
            format!("{name}={}", if allowed { "yes" } else { "no" })
        })
        .collect();
    assert_eq!(results(&out), expected);
    assert!(own.join("probe").exists() && project.join("probe").exists());
    // The same probes outside the sandbox reach everything: the test can fail.
    std::fs::remove_file(&out).unwrap();
    d.api(
        "PUT",
        "/api/profiles/boxed/sandbox",
        Some(&json!({"enabled": false})),
    )
    .expect_ok();
    assert_eq!(run_session(&d, "boxed", &project, &script), 7);
    assert!(
        results(&out).iter().all(|l| l.ends_with("=yes")),
        "{:?}",
        results(&out)
    );
    std::fs::remove_file(env.home.join("probe")).unwrap();
    std::fs::remove_file(env.root.join("probe")).unwrap();
    // Started in the user's home, which holds clown's directories: they stay hidden,
    // and the home itself (the working directory) is writable.
    d.api(
        "PUT",
        "/api/profiles/boxed/sandbox",
        Some(&json!({"enabled": true})),
    )
    .expect_ok();
    let out = env.home.join("results");
    let script = probes(
        &out.display().to_string(),
        &[
            ("db", "cat .local/share/clown/clown.db".into()),
            ("other", "cat .sbsh-profiles/other/secret".into()),
            ("here", "echo hi > probe".into()),
        ],
    );
    assert_eq!(run_session(&d, "boxed", &env.home, &script), 0);
    assert_eq!(results(&out), ["db=no", "other=no", "here=yes"]);
    // A working directory the sandbox hides is refused.
    let msg = d
        .api(
            "POST",
            "/api/terminal/sessions",
            Some(&json!({"profile_alias": "boxed", "working_dir": other.display().to_string()})),
        )
        .expect_error(400);
    assert!(msg.contains("hidden in the sandbox"), "{msg}");
}

#[test]
fn without_bubblewrap_a_sandboxed_profile_does_not_launch() {
    let env = test_env("sb-missing");
    shell_agent(&env, "");
    // A PATH without bwrap (the shell agent is found through agents.extra_paths).
    let empty = env.root.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let d = Daemon::start_with(&env, |cmd| {
        cmd.env("PATH", &empty);
    });
    create_profile(&d, shell_profile("boxed", true));
    let project = env.root.join("project");
    std::fs::create_dir_all(&project).unwrap();
    let marker = project.join("ran");
    let body = json!({"profile_alias": "boxed", "working_dir": project.display().to_string(),
                      "args": ["-c", format!("echo > {}", marker.display())]});
    let msg = d
        .api("POST", "/api/terminal/sessions", Some(&body))
        .expect_error(409);
    assert!(msg.contains("bwrap") && msg.contains("bubblewrap"), "{msg}");
    assert_eq!(d.get("/api/terminal/sessions").expect_ok(), json!([]));
    let msg = d
        .api(
            "POST",
            "/api/profiles/boxed/launch",
            Some(&json!({"cwd": project.display().to_string()})),
        )
        .expect_error(409);
    assert!(msg.contains("bubblewrap"), "{msg}");
    let out = env
        .cli(&d)
        .args(["profiles", "run", "boxed", "--", "-c", "echo > ran"])
        .current_dir(&project)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bubblewrap"));
    assert!(!marker.exists(), "the agent ran without its sandbox");
    let tool = d
        .api(
            "PUT",
            "/api/profiles/boxed/sandbox",
            Some(&json!({"enabled": true})),
        )
        .expect_ok()["tool"]
        .clone();
    assert_eq!(tool, Value::Null);
    // Without the sandbox it runs (the refusal was the sandbox's).
    d.api(
        "PUT",
        "/api/profiles/boxed/sandbox",
        Some(&json!({"enabled": false})),
    )
    .expect_ok();
    d.api("POST", "/api/terminal/sessions", Some(&body))
        .expect_ok();
    wait_until(WAIT, "the unsandboxed run", || {
        marker.exists().then_some(())
    });
}

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

#[test]
fn a_sandboxed_agent_cannot_type_into_the_users_terminal() {
    let env = test_env("sb-tiocsti");
    shell_agent(&env, "");
    let d = Daemon::start(&env);
    create_profile(&d, shell_profile("boxed", true));
    let project = env.root.join("project");
    std::fs::create_dir_all(&project).unwrap();
    // Pushes a character into its terminal's input, as if typed (TIOCSTI).
    std::fs::write(
        project.join("inject.sh"),
        "python3 -c '\nimport fcntl, termios\ntry:\n    fcntl.ioctl(0, termios.TIOCSTI, b\"#\")\n    print(\"allowed\")\nexcept OSError:\n    print(\"refused\")' > \"$1\"\n",
    )
    .unwrap();
    let kernel_allows = std::fs::read_to_string("/proc/sys/dev/tty/legacy_tiocsti")
        .map(|v| v.trim() != "0")
        .unwrap_or(true);
    // In a terminal session of the daemon the terminal is the agent's own: allowed
    // where the kernel allows it (the probe works).
    let code = run_session(&d, "boxed", &project, "sh inject.sh session");
    assert_eq!(code, 0);
    let session = std::fs::read_to_string(project.join("session")).unwrap();
    let expected = if kernel_allows { "allowed" } else { "refused" };
    assert_eq!(session.trim(), expected);
    // Run in the user's terminal (a pseudo-terminal here), where a shell reads after
    // it: refused.
    let run = format!(
        "{} --url {} profiles run boxed -- inject.sh run",
        BIN,
        d.url()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &run, "/dev/null"])
        .env_clear()
        .envs(env.vars())
        .current_dir(&project)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let run = std::fs::read_to_string(project.join("run")).unwrap();
    assert_eq!(run.trim(), "refused");
}
