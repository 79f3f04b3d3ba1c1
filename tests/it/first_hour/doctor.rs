//! `clown doctor`: what is wrong, each with the command that fixes it — here an agent a
//! profile uses that the daemon cannot find but the user's shell can — and a clean bill
//! once the fix is applied.

use std::process::Stdio;

use serde_json::{Value, json};

use super::*;

fn doctor(env: &TestEnv, d: &Daemon, path: &str) -> (i32, Vec<Value>, String) {
    let run = |args: &[&str]| {
        env.cli(d)
            .env("PATH", path)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = run(&["doctor", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let text = run(&["doctor"]);
    assert_eq!(text.status.code(), out.status.code());
    (
        out.status.code().unwrap(),
        v["checks"].as_array().unwrap().clone(),
        String::from_utf8_lossy(&text.stdout).to_string(),
    )
}

fn find<'a>(checks: &'a [Value], name: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check '{name}' in {checks:?}"))
}

#[test]
fn doctor_names_each_problem_with_its_fix() {
    let env = TestEnv::new("doctor");
    let d = Daemon::start_with(&env, |cmd| {
        cmd.env("PATH", BARE_PATH);
    });
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "work", "provider_id": "anthropic", "api_key": "sk-ant-0123456789abcdef"}),
    );
    let deps = deps_bin();
    let shell_path = format!("{}:{BARE_PATH}", deps.display());
    let (code, checks, text) = doctor(&env, &d, &shell_path);
    assert_eq!(code, 1, "{text}");
    let claude = find(&checks, "agent claude");
    assert_eq!(claude["status"], "fail", "{claude}");
    assert!(claude["detail"].as_str().unwrap().contains("used by work"));
    assert!(
        claude["fix"].as_str().unwrap().starts_with(
            "clown agents install claude (or npm install -g @anthropic-ai/claude-code"
        ),
        "{claude}"
    );
    let path = find(&checks, "PATH claude");
    assert_eq!(path["status"], "warn");
    assert!(
        path["fix"].as_str().unwrap().contains(&format!(
            "add \"{}\" to agents.extra_paths in ~/.config/clown/config.toml",
            deps.display()
        )),
        "{path}"
    );
    assert_eq!(find(&checks, "agent codex")["status"], "info");
    assert_eq!(find(&checks, "profile work")["status"], "ok");
    assert_eq!(find(&checks, "daemon")["status"], "ok");
    assert_eq!(find(&checks, "token")["status"], "ok");
    assert_eq!(find(&checks, "socket")["status"], "ok");
    assert!(
        find(&checks, "disk")["detail"]
            .as_str()
            .unwrap()
            .contains("GiB free")
    );
    assert!(text.contains("FAIL  agent claude"), "{text}");
    assert!(
        text.contains(
            "fix: clown agents install claude (or npm install -g @anthropic-ai/claude-code"
        ),
        "{text}"
    );

    // The fix the doctor gave, applied: the daemon sees the agent and its version.
    env.write_config(&format!(
        "[agents]\nextra_paths = [\"{}\"]\n",
        deps.display()
    ));
    d.signal(SIGHUP);
    wait_until(WAIT, "the reload", || {
        let c = d.get("/api/agents/claude").expect_ok();
        (c["installed"] == true).then_some(())
    });
    let (code, checks, text) = doctor(&env, &d, &shell_path);
    let claude = find(&checks, "agent claude");
    assert_eq!(claude["status"], "ok", "{claude}");
    assert!(
        claude["detail"].as_str().unwrap().contains("2.1.332"),
        "{claude}"
    );
    assert!(!checks.iter().any(|c| c["name"] == "PATH claude"), "{text}");
    assert_eq!(code, 0, "{text}");
}
