//! The launch builder: the one place that turns a profile into the environment and files
//! its agent starts with. Used by `clown profiles run`/`env`, terminal sessions and the
//! proxy-aware launches alike.
//!
//! The result lists the variables to set and the agent-related variables to remove (so a
//! key left in the user's shell never leaks into another provider's run), and the secrets
//! handed over on a descriptor rather than in the environment (Claude Code's subscription
//! token: `CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR`). Files the agent needs go into the
//! profile home, 0600, edited in place so what the agent keeps there stays
//! ([`files`]):
//! - Claude Code ([`claude`]): `CLAUDE_CONFIG_DIR` = the profile home, and `.claude.json`
//!   there marks onboarding done, a theme, the current key's last 20 characters as the
//!   only approved one, and each working directory as trusted.
//! - Codex CLI ([`codex`]): `CODEX_HOME` = the profile home, with `config.toml` naming
//!   the model and a `clown` model provider whose `env_key` carries the key — or, for
//!   the agent's own login, OpenAI with the login kept in `auth.json`.
//! - Gemini CLI: the manifest's variables, and `.gemini/settings.json` naming the way it
//!   authenticates (an API key, or its Google login).
//! - Others: the manifest's environment variables.

pub mod claude;
pub mod codex;
pub mod files;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

pub use files::FileError as LaunchError;

use crate::agents::login;
use crate::paths::ensure_private_dir;
use crate::registry::{AgentManifest, Provider};

/// A secret the agent reads from a descriptor: the launcher opens a pipe, writes the
/// value and a newline, closes its end, and sets `env` to the descriptor's number. Where
/// no descriptor can be handed over, `plain_env` carries the value instead.
#[derive(Clone, Serialize)]
pub struct SecretFd {
    pub env: String,
    pub plain_env: String,
    pub value: String,
}

impl std::fmt::Debug for SecretFd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretFd({} <redacted>)", self.env)
    }
}

/// Everything needed to start a profile's agent.
#[derive(Clone, Serialize)]
pub struct LaunchSpec {
    /// Program name (looked up on PATH) and the path detection found, if any.
    pub program: String,
    pub env: BTreeMap<String, String>,
    /// Variables to remove from an inherited environment.
    pub unset: Vec<String>,
    pub home: PathBuf,
    /// Secrets handed over on descriptors, never in `env`.
    pub secret_fds: Vec<SecretFd>,
}

impl std::fmt::Debug for LaunchSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LaunchSpec")
            .field("program", &self.program)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("home", &self.home)
            .field("secret_fds", &self.secret_fds)
            .finish()
    }
}

/// What the agent presents to its provider (or to the profile's proxy).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    None,
    /// An API key, sent as `x-api-key` (or the agent's key variable).
    Key(&'a str),
    /// An API key sent as a bearer token.
    Bearer(&'a str),
    /// A subscription's long-lived OAuth token.
    OauthToken(&'a str),
    /// The agent's own login, kept in its home.
    OwnLogin,
}

impl std::fmt::Debug for Credential<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "None",
            Self::Key(_) => "Key(<redacted>)",
            Self::Bearer(_) => "Bearer(<redacted>)",
            Self::OauthToken(_) => "OauthToken(<redacted>)",
            Self::OwnLogin => "OwnLogin",
        })
    }
}

/// The resolved inputs of a launch.
pub struct LaunchInput<'a> {
    pub agent: &'a AgentManifest,
    pub provider: &'a Provider,
    pub base_url: &'a str,
    pub model: &'a str,
    /// The credential the agent presents: the real key or token, or a proxy's local
    /// token (as a key), or its own login.
    pub credential: Credential<'a>,
    pub home: &'a Path,
    pub cwd: Option<&'a Path>,
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
    "CLAUDE_CODE_OAUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR",
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
    ensure_private_dir(input.home).map_err(files::io_err(input.home))?;
    let mut env = BTreeMap::new();
    let mut secret_fds = Vec::new();
    let a = input.agent;
    if let Some(var) = &a.home_env {
        env.insert(var.clone(), input.home.display().to_string());
    }
    for (k, v) in &a.extra_env {
        env.insert(k.clone(), v.clone());
    }
    if input.credential == Credential::OwnLogin
        && let Some(spec) = login::spec(&a.id)
    {
        env.extend(login::env(spec, input.home));
    }
    match a.launcher.as_str() {
        "claude" => claude::prepare(input, &mut env, &mut secret_fds)?,
        "codex" => codex::prepare(input, &mut env)?,
        _ => generic(input, &mut env),
    }
    if a.id == "gemini" {
        gemini_auth(input)?;
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
        secret_fds,
    })
}

fn generic(input: &LaunchInput, env: &mut BTreeMap<String, String>) {
    let a = input.agent;
    let key = match input.credential {
        Credential::Key(k) | Credential::Bearer(k) => Some(k),
        _ => None,
    };
    // The agent's own login decides where it talks to: no base URL, no key.
    if input.credential != Credential::OwnLogin
        && let Some(var) = &a.base_url_env
    {
        env.insert(var.clone(), input.base_url.to_string());
    }
    if let (Some(var), Some(key)) = (&a.api_key_env, key) {
        env.insert(var.clone(), key.to_string());
    }
    if let Some(var) = &a.model_env {
        env.insert(var.clone(), input.model.to_string());
    }
}

/// Gemini CLI refuses to start without knowing how it authenticates
/// (`security.auth.selectedType` in its settings): its Google login, or the API key.
fn gemini_auth(input: &LaunchInput) -> Result<(), LaunchError> {
    let kind = if input.credential == Credential::OwnLogin {
        "oauth-personal"
    } else {
        "gemini-api-key"
    };
    let path = input.home.join(".gemini/settings.json");
    files::edit_json(&path, |doc| {
        let security = files::object_at(doc, "security");
        let auth = security.entry("auth").or_insert_with(|| json!({}));
        if !auth.is_object() {
            *auth = json!({});
        }
        let changed = auth["selectedType"] != kind;
        auth["selectedType"] = json!(kind);
        (changed, ())
    })
}

fn last_chars(s: &str, n: usize) -> String {
    let count = s.chars().count();
    s.chars().skip(count.saturating_sub(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::builtin;
    use serde_json::Value;

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
            credential: Credential::Key("sk-ant-xxxxxxxxxxxxxxxxxxxxxx012345cdefghijklmnop"),
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
            credential: Credential::Key("sk-ant-yyyyyyyyyyyyyyyyabcdefghij0123456789"),
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
            credential: Credential::Bearer("sk-ant-yyyyyyyyyyyyyyyyabcdefghij0123456789"),
            ..newer
        };
        assert_eq!(approved(&bearer), json!([]));
        std::fs::remove_dir_all(&home).unwrap();
    }

    #[test]
    fn a_subscription_token_goes_on_a_descriptor_and_a_login_keeps_the_home() {
        let cat = builtin();
        let home = std::env::temp_dir().join(format!("clown-launch-tok-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        let input = LaunchInput {
            agent: cat.agent("claude").unwrap(),
            provider: cat.provider("anthropic").unwrap(),
            base_url: "https://api.anthropic.com",
            model: "claude-sonnet-4",
            credential: Credential::OauthToken("sk-ant-oat01-TOKEN"),
            home: &home,
            cwd: None,
        };
        let spec = prepare(&input).unwrap();
        assert!(!spec.env.values().any(|v| v.contains("TOKEN")), "{spec:?}");
        assert_eq!(spec.secret_fds.len(), 1);
        assert_eq!(
            spec.secret_fds[0].env,
            "CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR"
        );
        assert_eq!(spec.secret_fds[0].value, "sk-ant-oat01-TOKEN");
        for var in [
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_AUTH_TOKEN",
            "CLAUDE_CODE_OAUTH_TOKEN",
        ] {
            assert!(spec.unset.contains(&var.to_string()), "{var}");
        }
        assert!(!format!("{spec:?}").contains("TOKEN\""));
        let text = std::fs::read_to_string(home.join(".claude.json")).unwrap();
        assert!(!text.contains("TOKEN"), "{text}");

        // Codex with its own login: OpenAI's provider, the login kept in the home's
        // file, and whatever the agent wrote into config.toml stays.
        let codex_home = home.join("codex");
        std::fs::create_dir_all(&codex_home).unwrap();
        std::fs::write(
            codex_home.join("config.toml"),
            "model_provider = \"clown\"\n[model_providers.clown]\nname = \"x\"\n\n[mcp_servers.mine]\ncommand = \"m\"\n",
        )
        .unwrap();
        let input = LaunchInput {
            agent: cat.agent("codex").unwrap(),
            provider: cat.provider("openai").unwrap(),
            base_url: "https://api.openai.com/v1",
            model: "gpt-5",
            credential: Credential::OwnLogin,
            home: &codex_home,
            cwd: None,
        };
        let spec = prepare(&input).unwrap();
        assert!(!spec.env.contains_key("OPENAI_API_KEY"));
        let config = std::fs::read_to_string(codex_home.join("config.toml")).unwrap();
        assert!(
            config.contains("cli_auth_credentials_store = \"file\""),
            "{config}"
        );
        assert!(!config.contains("clown\""), "{config}");
        assert!(config.contains("[mcp_servers.mine]"), "{config}");
        std::fs::remove_dir_all(&home).unwrap();
    }
}
