//! Agents installed by clown, for real from the npm registry (Grok CLI, a small package;
//! npm's cache is kept in the ignored `.deps/npm-cache`, so only the first run downloads):
//! installed into clown's prefix with progress on the CLI and events, found by detection,
//! and a failed update leaves the installed version working.

use std::process::Stdio;

use serde_json::{Value, json};

use crate::helpers::*;

const PACKAGE: &str = "@vibe-kit/grok-cli";
const VERSION: &str = "0.0.34";

#[test]
fn an_agent_installed_from_npm_is_detected_and_survives_a_failed_update() {
    let env = TestEnv::new("agents-install");
    let cache = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".deps/npm-cache");
    std::fs::create_dir_all(&cache).unwrap();
    // The cache answers what it holds without asking the registry again: only a first
    // run (or a missing version) goes to the registry.
    let d = Daemon::start_with(&env, |cmd| {
        cmd.env("npm_config_cache", &cache)
            .env("npm_config_prefer_offline", "true");
    });
    assert_eq!(
        d.get("/api/agents/grok").expect_ok()["installed_by_clown"],
        Value::Null
    );
    let out = env
        .cli(&d)
        .args(["agents", "install", "grok", "--version", VERSION])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("installed {PACKAGE} {VERSION}")),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!("npm install {PACKAGE}@{VERSION}")),
        "progress: {stderr}"
    );

    let data = env.data_dir();
    let link = data.join("agents/bin/grok");
    // Detection runs `grok --version` with a timeout; on a loaded machine a first run of
    // node can miss it, and the next detection (cached 2 s) tries again.
    let agent = wait_until(WAIT, "the installed agent's version", || {
        let a = d.get("/api/agents/grok").expect_ok();
        a["version"].is_string().then_some(a)
    });
    assert_eq!(agent["installed"], true, "{agent}");
    assert_eq!(agent["installed_by_clown"], VERSION);
    assert_eq!(agent["binary_path"], link.display().to_string());
    let runs = |what: &str| {
        let out = std::process::Command::new(&link)
            .arg("--version")
            .env("PATH", std::env::var("PATH").unwrap())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let version = runs("after the install");
    assert_eq!(
        agent["version"],
        version.as_str(),
        "detection ran the installed program"
    );

    // An update to a version that does not exist fails, and changes nothing.
    let mut events = crate::ws::connect(d.port, "/ws/events", &d.token);
    let out = env
        .cli(&d)
        .args([
            "agents",
            "update",
            "grok",
            "--version",
            "0.0.0-does-not-exist",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("npm could not install"), "{stderr}");
    let frames = events.read_text_frames_until("the end of the install", |f| {
        f.iter().any(|t| t.contains("agent_install_finished"))
    });
    let finished: Value = frames
        .iter()
        .map(|t| serde_json::from_str::<Value>(t).unwrap())
        .find(|v| v["type"] == "agent_install_finished")
        .unwrap();
    assert_eq!(finished["data"]["ok"], false);
    assert!(frames.iter().any(|t| t.contains("agent_install_started")));
    let agent = d.get("/api/agents/grok").expect_ok();
    assert_eq!(agent["installed_by_clown"], VERSION);
    assert_eq!(runs("after the failed update"), version);
    let left: Vec<String> = std::fs::read_dir(data.join("agents/grok"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "leftovers: {left:?}");
    // Bad requests.
    d.api(
        "POST",
        "/api/agents/grok/install",
        Some(&json!({"version": "1; rm -rf /"})),
    )
    .expect_error(400);
    d.api("POST", "/api/agents/nothing/install", None)
        .expect_error(404);
}
