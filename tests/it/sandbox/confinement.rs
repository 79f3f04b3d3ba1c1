//! What a sandboxed agent can reach, in a terminal session of the daemon and in the
//! user's own terminal, and the refusal to launch without bubblewrap.

use std::process::Stdio;

use serde_json::{Value, json};

use super::*;

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
