//! A profile's proxy settings (whether its agent goes through the proxy, on which port,
//! model aliases, the fallback targets) and sandbox settings (whether its agent runs
//! confined). Each stored as compact JSON in the profile row.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::proxy::plan::{InspectorSettings, PoolSettings, RouteRule};
use crate::store::profiles::ProfileRow;

/// The proxy settings of a profile (used by the per-profile proxy).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxySettings {
    pub enabled: bool,
    /// A fixed port; else one is taken from the configured range.
    pub port: Option<u16>,
    /// Requested model → model sent upstream.
    pub model_aliases: BTreeMap<String, String>,
    /// Tried in order when the primary target fails before any byte reached the agent.
    pub fallbacks: Vec<FallbackTarget>,
    /// Routing by scenario (`crate::proxy::route`): the first rule a request matches
    /// chooses its provider and model.
    pub routes: Vec<RouteRule>,
    /// How the pool's keys take turns (cool-down, the utilisation that skips a key).
    pub pool: PoolSettings,
    /// The request inspector: how many requests are kept, whether bodies are captured.
    pub inspector: InspectorSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackTarget {
    pub provider_id: String,
    #[serde(default)]
    pub endpoint_id: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    /// The profile whose stored key this target uses; default: this profile's own key.
    #[serde(default)]
    pub key_profile: Option<String>,
    /// Its place among the profile's keys (lower first; the profile's own key is 0,
    /// pool keys 0 unless given, fallbacks 100 unless given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
}

pub fn proxy_settings(row: &ProfileRow) -> ProxySettings {
    serde_json::from_str(&row.proxy).unwrap_or_default()
}

/// The sandbox settings of a profile: whether its agent runs confined (see
/// `crate::agents::sandbox`), in terminal sessions and in `clown profiles run`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxSettings {
    pub enabled: bool,
}

pub fn sandbox_settings(row: &ProfileRow) -> SandboxSettings {
    serde_json::from_str(&row.sandbox).unwrap_or_default()
}

/// How a profile's agent authenticates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// An API key, kept in the secrets table (the default).
    #[default]
    Key,
    /// A subscription's long-lived OAuth token (Claude Code's `claude setup-token`),
    /// kept in the secrets table like a key and handed to the agent on a pipe.
    Token,
    /// The agent's own login (`claude auth login`, `codex login`, …), whose state lives
    /// in the profile home; clown stores no credential.
    Login,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::Token => "token",
            Self::Login => "login",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "token" => Self::Token,
            "login" => Self::Login,
            _ => Self::Key,
        }
    }
}

pub fn auth_method(row: &ProfileRow) -> AuthMethod {
    AuthMethod::parse(&row.auth)
}
