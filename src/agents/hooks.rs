//! Installing clown's hooks into a profile home at launch, so the agent tells the daemon
//! when it needs its user (see [`super::hook_events`] for what each event means).
//!
//! The hook is one command, the same for every session of every profile:
//! `'<clown>' hook <agent>`. It reads the session it belongs to from the environment the
//! session gave the agent (`CLOWN_SESSION_ID`, `CLOWN_HOOK_TOKEN`, `CLOWN_HOOK_URL`; a
//! hook outside a clown session finds none and does nothing), so the files never change
//! from one launch to the next.
//! - Claude Code: `settings.json` in its home (`CLAUDE_CONFIG_DIR`), `hooks.<Event>`.
//! - Gemini CLI: `.gemini/settings.json` under `GEMINI_CLI_HOME`, `hooks.<Event>`.
//! - Codex CLI: `notify` in `config.toml` (Codex appends the event as the last argument).
//!
//! Each file is read, merged and written under its per-file lock
//! ([`crate::paths::file_lock`]), the one other writers of these files take too; only
//! entries whose command is clown's hook are replaced, so whatever the agent or the user
//! put there stays. A file that does not parse is left alone (and the launch refused, as
//! for `.claude.json`).

use std::path::Path;

use serde_json::{Value, json};

use super::prepare::LaunchError;
use super::prepare::files::read_json_object;
use crate::paths::write_private_file;

/// Claude Code's events clown listens to.
const CLAUDE_EVENTS: &[&str] = &[
    "SessionStart",
    "UserPromptSubmit",
    "PermissionRequest",
    "PostToolUse",
    "Notification",
    "Stop",
    "StopFailure",
];

/// Gemini CLI's.
const GEMINI_EVENTS: &[&str] = &["BeforeAgent", "AfterAgent", "Notification"];

/// Installs the hooks of `agent_id` into `home`, calling `clown` (the daemon's binary).
/// Agents without a hook mechanism clown can set per profile get nothing (their sessions
/// are read from the terminal).
pub fn install(agent_id: &str, home: &Path, clown: &Path) -> Result<(), LaunchError> {
    let command = command(clown, agent_id);
    match agent_id {
        "claude" => merge_json_hooks(
            &home.join("settings.json"),
            CLAUDE_EVENTS,
            agent_id,
            &command,
            false,
        ),
        "gemini" => merge_json_hooks(
            &home.join(".gemini").join("settings.json"),
            GEMINI_EVENTS,
            agent_id,
            &command,
            true,
        ),
        "codex" => codex_notify(&home.join("config.toml"), clown),
        _ => Ok(()),
    }
}

/// The hook's shell command: the binary quoted for `sh`, then `hook AGENT`.
pub fn command(clown: &Path, agent_id: &str) -> String {
    let path = clown.display().to_string().replace('\'', "'\\''");
    format!("'{path}' hook {agent_id}")
}

/// Whether `cmd` is clown's hook for `agent_id` (whichever binary it names).
fn is_ours(cmd: &str, agent_id: &str) -> bool {
    let cmd = cmd.trim_end();
    cmd.ends_with(&format!(" hook {agent_id}")) && cmd.contains("clown")
}

/// Whether every hook of a matcher group is ours (such groups are replaced).
fn group_is_ours(group: &Value, agent_id: &str) -> bool {
    group["hooks"].as_array().is_some_and(|hooks| {
        !hooks.is_empty()
            && hooks
                .iter()
                .all(|h| h["command"].as_str().is_some_and(|c| is_ours(c, agent_id)))
    })
}

fn merge_json_hooks(
    path: &Path,
    events: &[&str],
    agent_id: &str,
    command: &str,
    named: bool,
) -> Result<(), LaunchError> {
    let lock = crate::paths::file_lock(path);
    let _writing = lock.lock().unwrap_or_else(|p| p.into_inner());
    let mut doc = read_json_object(path)?;
    let before = doc.clone();
    let mut hook = json!({"type": "command", "command": command, "timeout": 10});
    if named {
        hook["name"] = json!("clown");
    }
    let ours = json!({"matcher": "", "hooks": [hook]});
    if let Some(o) = doc.as_object_mut() {
        let hooks = o.entry("hooks").or_insert_with(|| json!({}));
        if let Some(hooks) = hooks.as_object_mut() {
            for event in events {
                let groups = hooks.entry(*event).or_insert_with(|| json!([]));
                // Someone else's shape: theirs to keep, even if it means no hook here.
                let Some(groups) = groups.as_array_mut() else {
                    continue;
                };
                groups.retain(|g| !group_is_ours(g, agent_id));
                groups.push(ours.clone());
            }
        }
    }
    if doc == before && path.exists() {
        return Ok(());
    }
    let text = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    write_private_file(path, &text).map_err(|source| LaunchError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Adds `notify = ["<clown>", "hook", "codex"]` to Codex's `config.toml` (a top-level
/// key, so before the first table), unless the file names a notify program of its own.
fn codex_notify(path: &Path, clown: &Path) -> Result<(), LaunchError> {
    let io = |source| LaunchError::Io {
        path: path.to_path_buf(),
        source,
    };
    let lock = crate::paths::file_lock(path);
    let _writing = lock.lock().unwrap_or_else(|p| p.into_inner());
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io(e)),
    };
    let line = format!(
        "notify = [{}, \"hook\", \"codex\"]",
        serde_json::to_string(&clown.display().to_string()).unwrap_or_default()
    );
    let mut lines: Vec<&str> = text.lines().collect();
    let existing = lines
        .iter()
        .position(|l| l.trim_start().starts_with("notify") && l.contains('='));
    match existing {
        Some(i) if lines[i].contains("\"hook\", \"codex\"") => {
            if lines[i] == line {
                return Ok(());
            }
            lines[i] = &line;
        }
        Some(_) => return Ok(()),
        None => {
            let at = lines
                .iter()
                .position(|l| l.trim_start().starts_with('['))
                .unwrap_or(lines.len());
            lines.insert(at, &line);
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    write_private_file(path, out.as_bytes()).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home(name: &str) -> std::path::PathBuf {
        let h = std::env::temp_dir().join(format!("clown-hooks-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&h);
        std::fs::create_dir_all(&h).unwrap();
        h
    }

    #[test]
    fn claude_hooks_merge_and_keep_what_others_wrote() {
        let h = home("claude");
        let settings = h.join("settings.json");
        std::fs::write(
            &settings,
            r#"{"permissions":{"defaultMode":"default"},"hooks":{"Stop":[{"hooks":[{"type":"command","command":"/usr/bin/say done"}]}],
                "PreToolUse":[{"matcher":"Bash","hooks":[{"type":"command","command":"mine"}]}]}}"#,
        )
        .unwrap();
        install("claude", &h, Path::new("/old/clown")).unwrap();
        install("claude", &h, Path::new("/opt/my clown/clown")).unwrap();
        let doc: Value = serde_json::from_slice(&std::fs::read(&settings).unwrap()).unwrap();
        assert_eq!(doc["permissions"]["defaultMode"], "default");
        assert_eq!(doc["hooks"]["PreToolUse"][0]["hooks"][0]["command"], "mine");
        let stop = doc["hooks"]["Stop"].as_array().unwrap();
        assert_eq!(stop.len(), 2, "{stop:?}");
        assert_eq!(stop[0]["hooks"][0]["command"], "/usr/bin/say done");
        assert_eq!(
            stop[1]["hooks"][0]["command"],
            "'/opt/my clown/clown' hook claude"
        );
        for event in CLAUDE_EVENTS {
            let ours = doc["hooks"][event]
                .as_array()
                .unwrap()
                .iter()
                .filter(|g| group_is_ours(g, "claude"))
                .count();
            assert_eq!(ours, 1, "{event}");
        }
        // Unchanged when installed again.
        let before = std::fs::metadata(&settings).unwrap().modified().unwrap();
        install("claude", &h, Path::new("/opt/my clown/clown")).unwrap();
        assert_eq!(
            std::fs::metadata(&settings).unwrap().modified().unwrap(),
            before
        );
        // A file that does not parse stays as it is.
        std::fs::write(&settings, "{not json").unwrap();
        assert!(install("claude", &h, Path::new("/c/clown")).is_err());
        assert_eq!(std::fs::read_to_string(&settings).unwrap(), "{not json");
        std::fs::remove_dir_all(&h).unwrap();
    }

    #[test]
    fn codex_notify_goes_before_the_tables() {
        let h = home("codex");
        let config = h.join("config.toml");
        std::fs::write(
            &config,
            "model = \"m\"\n\n[model_providers.clown]\nname = \"x\"\n",
        )
        .unwrap();
        install("codex", &h, Path::new("/bin/clown")).unwrap();
        install("codex", &h, Path::new("/bin/clown")).unwrap();
        let text = std::fs::read_to_string(&config).unwrap();
        let parsed: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(
            parsed["notify"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect::<Vec<_>>(),
            ["/bin/clown", "hook", "codex"]
        );
        assert_eq!(text.matches("notify").count(), 1);
        // Someone's own notify program stays.
        std::fs::write(&config, "notify = [\"/their/prog\"]\n").unwrap();
        install("codex", &h, Path::new("/bin/clown")).unwrap();
        assert_eq!(
            std::fs::read_to_string(&config).unwrap(),
            "notify = [\"/their/prog\"]\n"
        );
        std::fs::remove_dir_all(&h).unwrap();
    }

    #[test]
    fn gemini_hooks_are_named_and_other_agents_get_none() {
        let h = home("gemini");
        install("gemini", &h, Path::new("/bin/clown")).unwrap();
        let doc: Value =
            serde_json::from_slice(&std::fs::read(h.join(".gemini/settings.json")).unwrap())
                .unwrap();
        assert_eq!(doc["hooks"]["AfterAgent"][0]["hooks"][0]["name"], "clown");
        install("grok", &h, Path::new("/bin/clown")).unwrap();
        assert!(!h.join("settings.json").exists());
        std::fs::remove_dir_all(&h).unwrap();
    }
}
