//! The per-profile sandbox: its setting (API and CLI), what an agent in it can and
//! cannot reach (`confinement`: a shell agent probing the files in a terminal session,
//! the refusal when bubblewrap is missing, no typing into the user's terminal), and the
//! real Claude Code answering from inside it through its proxy while a command it runs
//! cannot read clown's files (`claude`). Shared helpers here.
//!
//! The homes here live under cargo's target directory, not under /tmp: the sandbox gives
//! the agent an empty /tmp, which would hide a home there without clown's own hiding.

mod claude;
mod confinement;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::{Value, json};

use crate::helpers::*;

const SH: &str = "clown-sandbox-sh";

/// A test home outside /tmp.
pub fn test_env(name: &str) -> TestEnv {
    let base = TestEnv::new(name);
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(base.root.file_name().expect("a test directory name"));
    let _ = std::fs::remove_dir_all(&root);
    let home = root.join("home");
    std::fs::create_dir_all(&home).unwrap();
    TestEnv { root, home }
}

/// `/bin/sh` as agent `sbsh` (user registry, found through `agents.extra_paths`).
pub fn shell_agent(env: &TestEnv, extra_config: &str) {
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

pub fn shell_profile(alias: &str, sandbox: bool) -> Value {
    json!({"agent_id": "sbsh", "alias": alias, "provider_id": "anthropic",
           "api_key": "sk-ant-sandbox-0123456789", "sandbox": {"enabled": sandbox}})
}

/// Runs `script` in a session of `alias` in `dir`; waits for its end; returns its
/// exit code.
pub fn run_session(d: &Daemon, alias: &str, dir: &Path, script: &str) -> i64 {
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
pub fn probes(out: &str, list: &[(&str, String)]) -> String {
    let mut s = String::from(
        "p() { if sh -c \"$2\" >/dev/null 2>&1; then echo \"$1=yes\"; else echo \"$1=no\"; fi; }\n",
    );
    for (name, cmd) in list {
        s.push_str(&format!("p {name} '{cmd}' >> {out}\n"));
    }
    s
}

pub fn results(path: &Path) -> Vec<String> {
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
