//! The shared setup with the real agents: an MCP server added once is listed (and
//! connected) by Claude Code in two profiles' homes and by Codex CLI in a Codex profile's
//! home; what the agent itself writes into its home survives re-projection, shows as
//! drift and can be adopted; the user's own files are imported and never written;
//! concurrent launches and projections never lose a key of `.claude.json`.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::{Value, json};

use crate::helpers::*;

fn fixture() -> String {
    format!("{}/tests/fixtures/mcp_stdio.py", env!("CARGO_MANIFEST_DIR"))
}

/// Runs a real agent's `mcp list` in `home` (its home variable `var`); its output.
fn mcp_list(env: &TestEnv, agent: &str, var: &str, home: &Path) -> String {
    let out = std::process::Command::new(deps_bin().join(agent))
        .args(["mcp", "list"])
        .env_clear()
        .env("HOME", &env.home)
        .env("PATH", path_with_deps())
        .env(var, home)
        .current_dir(&env.root)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{agent} mcp list: {text}");
    text
}

fn claude_list(env: &TestEnv, home: &Path) -> String {
    mcp_list(env, "claude", "CLAUDE_CONFIG_DIR", home)
}

/// The line of `name` in `claude mcp list`, which says whether it connected.
fn claude_line(list: &str, name: &str) -> Option<String> {
    list.lines()
        .find(|l| l.starts_with(&format!("{name}:")))
        .map(String::from)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn clown_ok(env: &TestEnv, d: &Daemon, args: &[&str]) -> String {
    let out = env.cli(d).args(args).stdin(Stdio::null()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "clown {args:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn profiles(d: &Daemon) {
    for body in [
        json!({"agent_id": "claude", "alias": "c1", "provider_id": "anthropic", "api_key": "sk-ant-api03-0123456789abcdef"}),
        json!({"agent_id": "claude", "alias": "c2", "provider_id": "anthropic", "auth": "login"}),
        json!({"agent_id": "codex", "alias": "cx", "provider_id": "openai", "api_key": "sk-openai-0123456789abcdef"}),
    ] {
        create_profile(d, body);
    }
}

#[test]
fn an_mcp_server_added_once_reaches_every_agent_and_the_agents_edits_stay() {
    let env = TestEnv::new("setup-mcp");
    let d = Daemon::start(&env);
    profiles(&d);
    let h1 = env.home.join(".claude-profiles/c1");
    let h2 = env.home.join(".claude-profiles/c2");
    let hx = env.home.join(".codex-profiles/cx");
    let fx = fixture();
    let out = clown_ok(
        &env,
        &d,
        &[
            "setup", "mcp", "add", "files", "--env", "FOO=bar", "--", "python3", &fx, "--flag",
        ],
    );
    assert!(out.contains("c1: 1 written"), "{out}");
    for home in [&h1, &h2] {
        let list = claude_list(&env, home);
        let line = claude_line(&list, "files").unwrap_or_else(|| panic!("{list}"));
        assert!(
            line.contains("Connected") && line.contains("--flag"),
            "{line}"
        );
    }
    let list = mcp_list(&env, "codex", "CODEX_HOME", &hx);
    assert!(
        list.lines()
            .any(|l| l.starts_with("files") && l.contains("python3") && l.contains("--flag")),
        "{list}"
    );
    // The secret-looking env value is a hint in the API, real in the agent's file.
    let shown = d.get("/api/setup").expect_ok();
    assert_eq!(shown["setup"]["mcp_servers"]["files"]["env"]["FOO"], "…");
    assert_eq!(
        read_json(&h1.join(".claude.json"))["mcpServers"]["files"]["env"]["FOO"],
        "bar"
    );

    // The agent's own server and its edit of the projected one.
    let added = std::process::Command::new(deps_bin().join("claude"))
        .args([
            "mcp", "add", "-s", "user", "mine", "--", "python3", &fx, "--mine",
        ])
        .env_clear()
        .env("HOME", &env.home)
        .env("PATH", path_with_deps())
        .env("CLAUDE_CONFIG_DIR", &h1)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let mut doc = read_json(&h1.join(".claude.json"));
    doc["mcpServers"]["files"]["args"] = json!([fx, "--edited"]);
    std::fs::write(
        h1.join(".claude.json"),
        serde_json::to_vec_pretty(&doc).unwrap(),
    )
    .unwrap();
    let kept_keys: Vec<String> = doc.as_object().unwrap().keys().cloned().collect();
    // A re-projection (a second server) keeps both and every key the agent wrote.
    clown_ok(
        &env,
        &d,
        &[
            "setup", "mcp", "add", "other", "--", "python3", &fx, "--other",
        ],
    );
    let doc = read_json(&h1.join(".claude.json"));
    for k in &kept_keys {
        assert!(doc.get(k).is_some(), "{k} lost from .claude.json");
    }
    assert_eq!(doc["mcpServers"]["files"]["args"], json!([fx, "--edited"]));
    let list = claude_list(&env, &h1);
    for name in ["mine", "files", "other"] {
        assert!(
            claude_line(&list, name).is_some_and(|l| l.contains("Connected")),
            "{name}: {list}"
        );
    }
    // Drift: the edit and the addition, in c1 only.
    let drift = d.get("/api/setup/drift").expect_ok();
    let of = |alias: &str| -> Vec<(String, String)> {
        drift
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["profile"] == alias)
            .unwrap()["drift"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["kind"].as_str().unwrap().to_string(),
                    x["item"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let mut c1 = of("c1");
    c1.sort();
    assert_eq!(
        c1,
        [
            ("added".to_string(), "mcp:mine".to_string()),
            ("changed".into(), "mcp:files".into())
        ]
    );
    assert!(of("c2").is_empty() && of("cx").is_empty(), "{drift}");
    let text = clown_ok(&env, &d, &["setup", "drift", "c1"]);
    assert!(
        text.contains("mcp:mine") && text.contains(".claude.json#mcpServers.mine"),
        "{text}"
    );
    // Adopting both: the other homes get them, c1 is clean.
    clown_ok(&env, &d, &["setup", "adopt", "c1"]);
    let list = claude_list(&env, &h2);
    assert!(
        claude_line(&list, "mine").is_some_and(|l| l.contains("--mine")),
        "{list}"
    );
    assert!(
        claude_line(&list, "files").is_some_and(|l| l.contains("--edited")),
        "{list}"
    );
    let codex = mcp_list(&env, "codex", "CODEX_HOME", &hx);
    assert!(codex.lines().any(|l| l.starts_with("mine")), "{codex}");
    let drift = d.get("/api/setup/drift?profile=c1").expect_ok();
    assert_eq!(drift[0]["drift"], json!([]), "{drift}");

    // Scope: c2 without `other`; removal everywhere it is as projected.
    clown_ok(
        &env,
        &d,
        &["setup", "scope", "c2", "--exclude", "mcp:other"],
    );
    assert!(
        read_json(&h2.join(".claude.json"))["mcpServers"]
            .get("other")
            .is_none()
    );
    assert!(
        read_json(&h1.join(".claude.json"))["mcpServers"]
            .get("other")
            .is_some()
    );
    clown_ok(&env, &d, &["setup", "mcp", "remove", "files"]);
    assert!(claude_line(&claude_list(&env, &h1), "files").is_none());
    let codex = mcp_list(&env, "codex", "CODEX_HOME", &hx);
    assert!(!codex.lines().any(|l| l.starts_with("files")), "{codex}");
    // Bad input changes nothing.
    d.api(
        "PUT",
        "/api/setup/mcp/bad%20name",
        Some(&json!({"command": "x"})),
    )
    .expect_error(400);
    d.api("PUT", "/api/setup/mcp/x", Some(&json!({"type": "http"})))
        .expect_error(400);
    d.api("DELETE", "/api/setup/mcp/nothing", None)
        .expect_error(404);
    d.api("PUT", "/api/setup/profiles/nobody", Some(&json!({})))
        .expect_error(404);
    d.api(
        "POST",
        "/api/setup/adopt",
        Some(&json!({"profile": "c1", "ids": ["no#such"]})),
    )
    .expect_error(404);
}

struct Snapshot(Vec<(PathBuf, Vec<u8>, std::time::SystemTime)>);

impl Snapshot {
    fn of(paths: &[PathBuf]) -> Self {
        Self(
            paths
                .iter()
                .map(|p| {
                    (
                        p.clone(),
                        std::fs::read(p).unwrap(),
                        std::fs::metadata(p).unwrap().modified().unwrap(),
                    )
                })
                .collect(),
        )
    }

    fn unchanged(&self) {
        for (p, bytes, mtime) in &self.0 {
            assert_eq!(
                &std::fs::read(p).unwrap(),
                bytes,
                "{} was written",
                p.display()
            );
            assert_eq!(
                &std::fs::metadata(p).unwrap().modified().unwrap(),
                mtime,
                "{}",
                p.display()
            );
        }
    }
}

#[test]
fn the_users_own_setup_is_imported_never_written_and_reaches_the_agent() {
    let env = TestEnv::new("setup-import");
    let home = &env.home;
    let write = |rel: &str, text: &str| {
        let p = home.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    };
    let files = vec![
        write(".claude.json", &json!({"mcpServers": {"gh": {"type": "stdio", "command": "python3", "args": [fixture()], "env": {"GH_TOKEN": "ghp_SECRET0123456789"}}},
                                    "projects": {"/somewhere": {}}, "oauthAccount": {"emailAddress": "me@example.com"}}).to_string()),
        write(".claude/settings.json", &json!({"permissions": {"allow": ["Bash(git status)"], "defaultMode": "default"},
                                              "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "true"}]}]},
                                              "statusLine": {"type": "command", "command": "echo status"},
                                              "env": {"MY_FLAG": "1"}, "includeCoAuthoredBy": false}).to_string()),
        write(".claude/CLAUDE.md", "IMPORTED-INSTRUCTIONS-MARKER: answer in one word.\n"),
        write(".claude/skills/review/SKILL.md", "---\nname: review\ndescription: IMPORTED-SKILL-MARKER\n---\nReview.\n"),
        write(".codex/config.toml", "# the user's own\nmodel = \"o3\"\n\n[mcp_servers.cx]\ncommand = \"python3\"\nargs = [\"x.py\"]\n"),
        write(".codex/AGENTS.md", "CODEX-INSTRUCTIONS\n"),
    ];
    let before = Snapshot::of(&files);
    let up = crate::upstream::Upstream::start(crate::upstream::Script {
        reply: "PONG-WITH-THE-SHARED-SETUP".into(),
        ..Default::default()
    });
    let d = Daemon::start(&env);
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "p", "provider_id": "anthropic", "api_key": "sk-ant-api03-0123456789abcdef", "base_url": up.url()}),
    );
    create_profile(
        &d,
        json!({"agent_id": "codex", "alias": "q", "provider_id": "openai", "api_key": "sk-openai-0123456789abcdef"}),
    );
    let out = clown_ok(&env, &d, &["setup", "import"]);
    assert!(out.contains("mcp:gh") && out.contains("mcp:cx"), "{out}");
    before.unchanged();
    let shown = d.get("/api/setup").expect_ok();
    let s = &shown["setup"];
    assert_eq!(s["mcp_servers"]["gh"]["env"]["GH_TOKEN"], "…6789");
    assert!(!shown.to_string().contains("ghp_SECRET"));
    assert_eq!(s["permissions"]["allow"], json!(["Bash(git status)"]));
    assert_eq!(s["settings"]["claude"]["includeCoAuthoredBy"], false);
    assert_eq!(shown["folders"]["skills"], json!(["review/SKILL.md"]));
    // In the Claude profile's home, in its formats; the agent's other keys untouched.
    let p = home.join(".claude-profiles/p");
    let settings = read_json(&p.join("settings.json"));
    assert_eq!(settings["permissions"]["defaultMode"], "default");
    assert_eq!(settings["statusLine"]["command"], "echo status");
    assert_eq!(settings["env"]["MY_FLAG"], "1");
    assert!(
        std::fs::read_to_string(p.join("skills/review/SKILL.md"))
            .unwrap()
            .contains("IMPORTED-SKILL-MARKER")
    );
    let state = read_json(&p.join(".claude.json"));
    assert_eq!(
        state["mcpServers"]["gh"]["env"]["GH_TOKEN"],
        "ghp_SECRET0123456789"
    );
    assert!(
        state.get("oauthAccount").is_none(),
        "only the setup is imported"
    );
    // The Codex home: its format, and the instructions for Codex.
    let q = home.join(".codex-profiles/q");
    let config = std::fs::read_to_string(q.join("config.toml")).unwrap();
    assert!(
        config.contains("[mcp_servers.gh]") && config.contains("[mcp_servers.cx]"),
        "{config}"
    );
    assert!(config.contains("model_provider = \"clown\""), "{config}");
    assert_eq!(
        std::fs::read_to_string(q.join("AGENTS.md")).unwrap(),
        "CODEX-INSTRUCTIONS\n"
    );
    // The real Claude Code reads the imported instructions and skill.
    let project = env.root.join("project");
    std::fs::create_dir_all(&project).unwrap();
    let out = env
        .cli(&d)
        .args(["profiles", "run", "p", "--", "-p", "say pong"])
        .env("PATH", path_with_deps())
        .current_dir(&project)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("PONG-WITH-THE-SHARED-SETUP"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bodies: String = up
        .messages()
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).to_string())
        .collect();
    assert!(
        bodies.contains("IMPORTED-INSTRUCTIONS-MARKER"),
        "CLAUDE.md reached the model"
    );
    assert!(
        bodies.contains("IMPORTED-SKILL-MARKER"),
        "the skill reached the model"
    );
    // A second import keeps what the setup has; the user's files are still untouched.
    let out = clown_ok(&env, &d, &["setup", "import", "--from", "claude"]);
    assert!(out.contains("kept"), "{out}");
    before.unchanged();
    d.api("POST", "/api/setup/import", Some(&json!({"from": ["vim"]})))
        .expect_error(400);
}

#[test]
fn concurrent_launches_and_projections_never_lose_a_key_of_claude_json() {
    let env = TestEnv::new("setup-race");
    let d = Daemon::start(&env);
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "k", "provider_id": "anthropic", "api_key": "sk-ant-api03-0123456789abcdef"}),
    );
    let dirs: Vec<PathBuf> = (0..16)
        .map(|i| {
            let p = env.root.join(format!("project-{i}"));
            std::fs::create_dir_all(&p).unwrap();
            p
        })
        .collect();
    std::thread::scope(|s| {
        for dir in &dirs {
            let d = &d;
            s.spawn(move || {
                d.api("POST", "/api/profiles/k/launch", Some(&json!({"cwd": dir})))
                    .expect_ok();
            });
        }
        for j in 0..8 {
            let d = &d;
            s.spawn(move || {
                d.api(
                    "PUT",
                    &format!("/api/setup/mcp/s{j}"),
                    Some(&json!({"command": "python3", "args": [fixture()]})),
                )
                .expect_ok();
            });
        }
    });
    let doc = read_json(&env.home.join(".claude-profiles/k/.claude.json"));
    for dir in &dirs {
        assert_eq!(
            doc["projects"][dir.display().to_string()]["hasTrustDialogAccepted"],
            true,
            "{} lost",
            dir.display()
        );
    }
    for j in 0..8 {
        assert!(
            doc["mcpServers"].get(format!("s{j}")).is_some(),
            "s{j} lost: {doc}"
        );
    }
}
