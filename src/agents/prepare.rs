//! The launch builder: the one place that turns a profile into the environment and files
//! its agent starts with. Used by `clown profiles run`/`env`, terminal sessions and the
//! proxy-aware launches alike.
//!
//! The result lists the variables to set and the agent-related variables to remove (so a
//! key left in the user's shell never leaks into another provider's run). Files the agent
//! needs go into the profile home, 0600:
//! - Claude Code: `CLAUDE_CONFIG_DIR` = the profile home, and `.claude.json` there marks
//!   onboarding done, a theme, the current key's last 20 characters as the only approved
//!   one, and each working directory as trusted, so it starts straight at its prompt.
//! - Codex CLI: `CODEX_HOME` = the profile home, with `config.toml` naming the model and a
//!   `clown` model provider whose `env_key` carries the key.
//! - Others: the manifest's environment variables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use crate::paths::{ensure_private_dir, write_private_file};
use crate::registry::{AgentManifest, Provider};

/// Everything needed to start a profile's agent.
#[derive(Clone, Serialize)]
pub struct LaunchSpec {
    /// Program name (looked up on PATH) and the path detection found, if any.
    pub program: String,
    pub env: BTreeMap<String, String>,
    /// Variables to remove from an inherited environment.
    pub unset: Vec<String>,
    pub home: PathBuf,
}

impl std::fmt::Debug for LaunchSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LaunchSpec")
            .field("program", &self.program)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("home", &self.home)
            .finish()
    }
}

/// The resolved inputs of a launch.
pub struct LaunchInput<'a> {
    pub agent: &'a AgentManifest,
    pub provider: &'a Provider,
    pub base_url: &'a str,
    pub model: &'a str,
    /// The credential the agent presents: the real key, or a proxy's local token.
    pub key: Option<&'a str>,
    /// Whether `key` is sent as a bearer token (else `x-api-key`).
    pub bearer: bool,
    pub home: &'a Path,
    pub cwd: Option<&'a Path>,
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("cannot prepare {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not valid JSON ({reason}); fix or remove it (clown keeps the agent's own settings there and will not overwrite them)"
    )]
    Unreadable { path: PathBuf, reason: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> LaunchError + '_ {
    move |source| LaunchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Variables any agent of ours may read for base URL, key or model; unset unless we set them.
const AGENT_VARS: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_MODEL",
    "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "ANTHROPIC_DEFAULT_HAIKU_MODEL",
    "ANTHROPIC_SMALL_FAST_MODEL",
    "CLAUDE_CONFIG_DIR",
    "CODEX_HOME",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL",
];

/// The profile home of `alias` for `agent_id`: `~/.<agent>-profiles/<alias>`. The alias is
/// validated before it gets here and never contains a path separator.
pub fn profile_home(user_home: &Path, agent_id: &str, alias: &str) -> PathBuf {
    user_home.join(format!(".{agent_id}-profiles")).join(alias)
}

/// Builds the spec and writes the agent's files into the profile home.
pub fn prepare(input: &LaunchInput) -> Result<LaunchSpec, LaunchError> {
    ensure_private_dir(input.home).map_err(io_err(input.home))?;
    let mut env = BTreeMap::new();
    let a = input.agent;
    if let Some(var) = &a.home_env {
        env.insert(var.clone(), input.home.display().to_string());
    }
    for (k, v) in &a.extra_env {
        env.insert(k.clone(), v.clone());
    }
    match a.launcher.as_str() {
        "claude" => claude(input, &mut env)?,
        "codex" => codex(input, &mut env)?,
        _ => generic(input, &mut env),
    }
    let mut unset: Vec<String> = AGENT_VARS
        .iter()
        .map(|s| s.to_string())
        .chain(
            [&a.base_url_env, &a.api_key_env, &a.model_env]
                .into_iter()
                .flatten()
                .cloned(),
        )
        .filter(|k| !env.contains_key(k))
        .collect();
    unset.sort();
    unset.dedup();
    Ok(LaunchSpec {
        program: a.binary.clone(),
        env,
        unset,
        home: input.home.to_path_buf(),
    })
}

fn generic(input: &LaunchInput, env: &mut BTreeMap<String, String>) {
    let a = input.agent;
    if let Some(var) = &a.base_url_env {
        env.insert(var.clone(), input.base_url.to_string());
    }
    if let (Some(var), Some(key)) = (&a.api_key_env, input.key) {
        env.insert(var.clone(), key.to_string());
    }
    if let Some(var) = &a.model_env {
        env.insert(var.clone(), input.model.to_string());
    }
}

fn claude(input: &LaunchInput, env: &mut BTreeMap<String, String>) -> Result<(), LaunchError> {
    env.insert("CLAUDE_CONFIG_DIR".into(), input.home.display().to_string());
    env.insert("ANTHROPIC_BASE_URL".into(), input.base_url.to_string());
    env.insert("ANTHROPIC_MODEL".into(), input.model.to_string());
    if input.provider.kind != "anthropic" {
        // Background and sub-agent calls ask for the family defaults; a compatible
        // provider only serves its own models.
        for family in ["OPUS", "SONNET", "HAIKU"] {
            env.insert(
                format!("ANTHROPIC_DEFAULT_{family}_MODEL"),
                input.model.to_string(),
            );
        }
        env.insert("API_TIMEOUT_MS".into(), "600000".into());
    }
    let mut approved_suffix = None;
    if let Some(key) = input.key {
        if input.bearer {
            env.insert("ANTHROPIC_AUTH_TOKEN".into(), key.to_string());
        } else {
            env.insert("ANTHROPIC_API_KEY".into(), key.to_string());
            approved_suffix = Some(last_chars(key, 20));
        }
    }
    let path = input.home.join(".claude.json");
    // Launches of one profile edit this file one at a time, so none loses another's
    // change; what the agent itself keeps there (projects, MCP servers) is read first.
    let lock = crate::paths::file_lock(&path);
    let _writing = lock.lock().unwrap_or_else(|p| p.into_inner());
    let mut doc = read_json_object(&path)?;
    doc["hasCompletedOnboarding"] = json!(true);
    if doc.get("theme").is_none() {
        doc["theme"] = json!("dark");
    }
    // The approvals name exactly the key this launch hands over: a key replaced, or
    // hidden behind the proxy or a bearer token, leaves no trace of itself here.
    if let Some(o) = doc.as_object_mut() {
        let responses = o
            .entry("customApiKeyResponses")
            .or_insert_with(|| json!({}));
        if !responses.is_object() {
            *responses = json!({});
        }
        responses["approved"] = json!(approved_suffix.iter().collect::<Vec<_>>());
        if let (Some(suffix), Some(rejected)) = (
            &approved_suffix,
            responses.get_mut("rejected").and_then(Value::as_array_mut),
        ) {
            rejected.retain(|v| v.as_str() != Some(suffix));
        }
    }
    let mut trusted = vec![input.home.to_path_buf()];
    trusted.extend(input.cwd.map(Path::to_path_buf));
    for dir in trusted {
        let projects = doc
            .as_object_mut()
            .map(|o| o.entry("projects").or_insert_with(|| json!({})));
        if let Some(projects) = projects.and_then(Value::as_object_mut) {
            let entry = projects
                .entry(dir.display().to_string())
                .or_insert_with(|| json!({}));
            if entry.is_object() {
                entry["hasTrustDialogAccepted"] = json!(true);
                if entry.get("hasCompletedProjectOnboarding").is_none() {
                    entry["hasCompletedProjectOnboarding"] = json!(true);
                }
            }
        }
    }
    let text = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    write_private_file(&path, &text).map_err(io_err(&path))
}

/// The JSON object in `path`, or an empty one when the file does not exist. A file that
/// exists but does not parse may be in the middle of the agent's own write: it is read
/// again a few times, and never replaced by a fresh object, which would lose the agent's
/// settings.
pub(crate) fn read_json_object(path: &Path) -> Result<Value, LaunchError> {
    let mut last = String::new();
    for attempt in 0..5 {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        match std::fs::read_to_string(path) {
            Ok(text) => match serde_json::from_str::<Value>(&text) {
                Ok(v) if v.is_object() => return Ok(v),
                Ok(_) => last = "not a JSON object".into(),
                Err(e) => last = e.to_string(),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(json!({})),
            Err(e) => return Err(io_err(path)(e)),
        }
    }
    Err(LaunchError::Unreadable {
        path: path.to_path_buf(),
        reason: last,
    })
}

fn codex(input: &LaunchInput, env: &mut BTreeMap<String, String>) -> Result<(), LaunchError> {
    env.insert("CODEX_HOME".into(), input.home.display().to_string());
    let key_env = input.provider.key_env.clone();
    if let Some(key) = input.key {
        env.insert(key_env.clone(), key.to_string());
    }
    let config = format!(
        "# Written by clown for this profile; rewritten at every launch.\n\
         model = {model}\n\
         model_provider = \"clown\"\n\
         \n\
         [model_providers.clown]\n\
         name = {name}\n\
         base_url = {base_url}\n\
         env_key = {key_env}\n\
         wire_api = \"responses\"\n",
        model = toml_str(input.model),
        name = toml_str(&input.provider.name),
        base_url = toml_str(input.base_url),
        key_env = toml_str(&key_env),
    );
    let path = input.home.join("config.toml");
    write_private_file(&path, config.as_bytes()).map_err(io_err(&path))
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn last_chars(s: &str, n: usize) -> String {
    let count = s.chars().count();
    s.chars().skip(count.saturating_sub(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::builtin;

    #[test]
    fn claude_files_and_env() {
        let cat = builtin();
        let home = std::env::temp_dir().join(format!("clown-launch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        let input = LaunchInput {
            agent: cat.agent("claude").unwrap(),
            provider: cat.provider("anthropic").unwrap(),
            base_url: "http://127.0.0.1:9/",
            model: "claude-sonnet-4",
            key: Some("sk-ant-xxxxxxxxxxxxxxxxxxxxxx012345cdefghijklmnop"),
            bearer: false,
            home: &home,
            cwd: Some(Path::new("/work/x")),
        };
        let spec = prepare(&input).unwrap();
        assert_eq!(
            spec.env["ANTHROPIC_API_KEY"],
            "sk-ant-xxxxxxxxxxxxxxxxxxxxxx012345cdefghijklmnop"
        );
        assert_eq!(spec.env["CLAUDE_CONFIG_DIR"], home.display().to_string());
        assert!(spec.unset.contains(&"ANTHROPIC_AUTH_TOKEN".to_string()));
        assert!(!spec.unset.contains(&"ANTHROPIC_API_KEY".to_string()));
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(home.join(".claude.json")).unwrap())
                .unwrap();
        assert_eq!(doc["hasCompletedOnboarding"], true);
        assert_eq!(
            doc["customApiKeyResponses"]["approved"],
            json!(["012345cdefghijklmnop"])
        );
        assert_eq!(doc["projects"]["/work/x"]["hasTrustDialogAccepted"], true);
        assert!(
            !format!("{spec:?}").contains("sk-ant"),
            "Debug never shows values"
        );
        let approved = |input: &LaunchInput| {
            prepare(input).unwrap();
            let doc: Value =
                serde_json::from_str(&std::fs::read_to_string(home.join(".claude.json")).unwrap())
                    .unwrap();
            doc["customApiKeyResponses"]["approved"].clone()
        };
        // Launching again keeps one approval entry.
        assert_eq!(approved(&input), json!(["012345cdefghijklmnop"]));
        // A new key replaces the old one's approval, and an earlier rejection of it goes.
        let mut doc: Value =
            serde_json::from_str(&std::fs::read_to_string(home.join(".claude.json")).unwrap())
                .unwrap();
        doc["customApiKeyResponses"]["rejected"] = json!(["abcdefghij0123456789", "other"]);
        std::fs::write(home.join(".claude.json"), doc.to_string()).unwrap();
        let newer = LaunchInput {
            key: Some("sk-ant-yyyyyyyyyyyyyyyyabcdefghij0123456789"),
            ..input
        };
        assert_eq!(approved(&newer), json!(["abcdefghij0123456789"]));
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(home.join(".claude.json")).unwrap())
                .unwrap();
        assert_eq!(doc["customApiKeyResponses"]["rejected"], json!(["other"]));
        // A bearer token (as through the proxy or a bearer provider) needs no approval: the
        // real key's suffix does not stay behind.
        let bearer = LaunchInput {
            bearer: true,
            ..newer
        };
        assert_eq!(approved(&bearer), json!([]));
        std::fs::remove_dir_all(&home).unwrap();
    }
}
