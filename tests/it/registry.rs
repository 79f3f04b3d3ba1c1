//! Registry status and sync from a local git repository the test creates; user files.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn builtin(name: &str) -> Value {
    let path = format!("{}/src/registry/builtin/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write_catalogue(dir: &Path, extra_provider: Value) {
    let mut providers = builtin("providers.json");
    providers["providers"]
        .as_array_mut()
        .unwrap()
        .push(extra_provider);
    std::fs::write(dir.join("providers.json"), providers.to_string()).unwrap();
    std::fs::write(dir.join("agents.json"), builtin("agents.json").to_string()).unwrap();
    let mut pricing = builtin("pricing.json");
    pricing["models"]["test-model-1"] =
        json!({"input": 1.0, "output": 2.0, "cache_write": 1.25, "cache_read": 0.1});
    std::fs::write(dir.join("pricing.json"), pricing.to_string()).unwrap();
}

fn test_provider(id: &str) -> Value {
    json!({
        "id": id, "name": "Test Provider", "type": "anthropic-compatible",
        "endpoints": {"default": "http://127.0.0.1:9/anthropic"}, "default_endpoint": "default",
        "models": ["test-model-1"], "default_model": "test-model-1", "any_model": false,
        "key_env": "TEST_API_KEY", "auth_scheme": "bearer", "requires_key": true
    })
}

#[test]
fn sync_from_git_with_force_and_rollback() {
    let env = TestEnv::new("registry");
    let repo = env.root.join("registry-repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "stable"]);
    write_catalogue(&repo, test_provider("testprov"));
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "catalogue"]);
    let head = git(&repo, &["rev-parse", "--short=7", "HEAD"]);
    env.write_config(&format!(
        "[registry]\nurl = \"{}\"\nchannel = \"stable\"\n",
        repo.display()
    ));
    let d = Daemon::start(&env);

    let status = d.get("/api/registry").expect_ok();
    assert_eq!(status["channel"], "stable");
    assert_eq!(status["commit"], Value::Null);
    assert_eq!(status["last_sync"], Value::Null);
    assert_eq!(status["cached"], false);
    d.get("/api/providers/testprov").expect_error(404);

    let synced = d.api("POST", "/api/registry/sync", None).expect_ok();
    assert_eq!(synced["commit"], head);
    assert_eq!(synced["cached"], true);
    assert_eq!(synced["updated"], true);
    assert!(synced["last_sync"].is_string());
    d.get("/api/providers/testprov").expect_ok();
    assert_eq!(d.get("/api/registry").expect_ok()["commit"], head);

    // A new commit is not fetched within 24 hours unless forced.
    write_catalogue(&repo, test_provider("testprov2"));
    git(&repo, &["commit", "-q", "-am", "second"]);
    let head2 = git(&repo, &["rev-parse", "--short=7", "HEAD"]);
    let again = d.api("POST", "/api/registry/sync", None).expect_ok();
    assert_eq!(again["updated"], false);
    assert_eq!(again["commit"], head);
    let forced = d
        .api("POST", "/api/registry/sync?force=true", None)
        .expect_ok();
    assert_eq!(forced["updated"], true);
    assert_eq!(forced["commit"], head2);
    d.get("/api/providers/testprov2").expect_ok();
    d.api("POST", "/api/registry/sync?force=perhaps", None)
        .expect_error(400);

    // An invalid manifest is rejected whole; the previous catalogue stays.
    let mut broken = test_provider("testprov3");
    broken["default_model"] = json!("not-listed");
    write_catalogue(&repo, broken);
    git(&repo, &["commit", "-q", "-am", "broken"]);
    let msg = d
        .api("POST", "/api/registry/sync?force=true", None)
        .expect_error(502);
    assert!(
        msg.contains("testprov3") && msg.contains("not-listed"),
        "{msg}"
    );
    d.get("/api/providers/testprov2").expect_ok();
    d.get("/api/providers/testprov3").expect_error(404);
    assert_eq!(d.get("/api/registry").expect_ok()["commit"], head2);

    // The synced copy is served after a restart too.
    drop(d);
    let d = Daemon::start(&env);
    assert_eq!(d.get("/api/registry").expect_ok()["commit"], head2);
    d.get("/api/providers/testprov2").expect_ok();
}

#[test]
fn sync_errors() {
    let env = TestEnv::new("registry-errors");
    let d = Daemon::start(&env);
    let msg = d.api("POST", "/api/registry/sync", None).expect_error(400);
    assert!(msg.contains("registry.url"), "{msg}");
    drop(d);
    env.write_config(&format!(
        "[registry]\nurl = \"{}\"\n",
        env.root.join("missing").display()
    ));
    let d = Daemon::start(&env);
    let msg = d.api("POST", "/api/registry/sync", None).expect_error(502);
    assert!(msg.contains("git failed"), "{msg}");
    assert_eq!(d.get("/api/registry").expect_ok()["cached"], false);
    d.get("/api/providers/anthropic").expect_ok();
}

#[test]
fn user_provider_files_load_and_reload_on_sighup() {
    let env = TestEnv::new("registry-user");
    let d = Daemon::start(&env);
    d.get("/api/providers/my-gateway").expect_error(404);
    let dir = env.home.join(".config/clown/registry");
    std::fs::create_dir_all(&dir).unwrap();
    let mut p = test_provider("my-gateway");
    p["any_model"] = json!(true);
    std::fs::write(
        dir.join("providers.json"),
        json!({"version": 1, "providers": [p]}).to_string(),
    )
    .unwrap();
    let mut d = d;
    d.signal(SIGHUP);
    d.notify.wait_for("READY=1", Duration::from_secs(5));
    let got = d.get("/api/providers/my-gateway").expect_ok();
    assert_eq!(got["name"], "Test Provider");
    // A broken user file is skipped, the rest still served.
    std::fs::write(dir.join("providers.json"), "{not json").unwrap();
    d.signal(SIGHUP);
    d.notify.wait_for("READY=1", Duration::from_secs(5));
    d.get("/api/providers/my-gateway").expect_error(404);
    d.get("/api/providers/anthropic").expect_ok();
    assert!(
        d.stderr().contains("skipping user registry file"),
        "{}",
        d.stderr()
    );
}
