//! The plan a proxy child runs from: its profile, local token, upstream targets (with
//! their real keys), model aliases, timeouts, and where to report usage.
//!
//! The daemon builds it from the profile, the catalogue and the secrets table, and hands
//! it to the child as JSON in one environment variable, [`PLAN_ENV`], so no secret ever
//! appears on a command line. `Debug` redacts every credential.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::ProxyConfig;
use crate::profiles::{ProxySettings, endpoint_url, proxy_settings};
use crate::registry::Catalogue;
use crate::store::profiles::{ProfileRow, Secret};

/// The environment variable that carries the plan to the child.
pub const PLAN_ENV: &str = "CLOWN_PROXY_PLAN";

#[derive(Clone, Serialize, Deserialize)]
pub struct Plan {
    pub profile: String,
    pub agent: String,
    /// The token the agent presents (x-api-key or bearer).
    pub local_token: String,
    /// The primary target first, then the fallbacks in order.
    pub targets: Vec<Target>,
    /// Requested model → model sent upstream.
    #[serde(default)]
    pub model_aliases: BTreeMap<String, String>,
    pub timeouts: Timeouts,
    /// Where `POST /api/usage/record` lives, and the daemon's token for it.
    #[serde(default)]
    pub daemon_url: Option<String>,
    #[serde(default)]
    pub daemon_token: Option<String>,
    /// Exit when standard input closes: the daemon holds the other end of a pipe, so a
    /// daemon that dies (even by SIGKILL) takes its proxies with it.
    #[serde(default)]
    pub exit_on_stdin_eof: bool,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub provider: String,
    /// `anthropic` or `openai`: how `/v1/...` maps onto `base_url`.
    pub protocol: String,
    pub base_url: String,
    /// `x-api-key` or `bearer`.
    pub auth_scheme: String,
    #[serde(default)]
    pub key: Option<String>,
    /// Send this model upstream whatever the agent asked for.
    #[serde(default)]
    pub model: Option<String>,
    /// The provider serves Chat Completions but not the Responses API: `/v1/responses`
    /// requests are translated (see `responses_chat`).
    #[serde(default)]
    pub responses_via_chat: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Timeouts {
    pub connect_ms: u64,
    pub response_ms: u64,
    pub idle_ms: u64,
}

impl Timeouts {
    pub fn from_config(c: &ProxyConfig) -> Self {
        Self {
            connect_ms: c.connect_timeout_ms,
            response_ms: c.response_timeout_ms,
            idle_ms: c.idle_timeout_ms,
        }
    }

    pub fn connect(&self) -> Duration {
        Duration::from_millis(self.connect_ms)
    }

    pub fn response(&self) -> Duration {
        Duration::from_millis(self.response_ms)
    }

    pub fn idle(&self) -> Duration {
        Duration::from_millis(self.idle_ms)
    }
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("profile", &self.profile)
            .field("targets", &self.targets)
            .field("model_aliases", &self.model_aliases)
            .field("timeouts", &self.timeouts)
            .field("daemon_url", &self.daemon_url)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("auth_scheme", &self.auth_scheme)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("responses_via_chat", &self.responses_via_chat)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("profile '{profile}' uses provider '{provider}', which the catalogue no longer has")]
    UnknownProvider { profile: String, provider: String },
    #[error("provider '{provider}' has no endpoint '{endpoint}'")]
    NoEndpoint { provider: String, endpoint: String },
    #[error(
        "fallback {index} uses provider '{provider}' ({protocol} API) but the profile's agent speaks the {expected} API"
    )]
    Protocol {
        index: usize,
        provider: String,
        protocol: String,
        expected: String,
    },
    #[error("fallback {index} takes its key from profile '{alias}', which does not exist")]
    NoKeyProfile { index: usize, alias: String },
}

/// Builds the plan of `row`. `key_of(alias)` returns another profile's stored key
/// (`Err` when that profile does not exist), for fallbacks that name a `key_profile`.
pub fn build(
    row: &ProfileRow,
    secret: &Secret,
    cat: &Catalogue,
    config: &ProxyConfig,
    key_of: &dyn Fn(&str) -> Result<Option<String>, ()>,
) -> Result<Plan, PlanError> {
    let settings: ProxySettings = proxy_settings(row);
    let provider = cat
        .provider(&row.provider_id)
        .ok_or_else(|| PlanError::UnknownProvider {
            profile: row.alias.clone(),
            provider: row.provider_id.clone(),
        })?;
    let base_url = endpoint_url(row, Some(provider)).ok_or_else(|| PlanError::NoEndpoint {
        provider: provider.id.clone(),
        endpoint: row.endpoint_id.clone(),
    })?;
    let mut targets = vec![Target {
        provider: provider.id.clone(),
        protocol: provider.protocol().to_string(),
        base_url,
        auth_scheme: provider.auth_scheme.clone(),
        key: secret.api_key.clone(),
        model: None,
        responses_via_chat: provider.protocol() == "openai" && !provider.serves_responses(),
    }];
    for (i, f) in settings.fallbacks.iter().enumerate() {
        let index = i + 1;
        let p = cat
            .provider(&f.provider_id)
            .ok_or_else(|| PlanError::UnknownProvider {
                profile: row.alias.clone(),
                provider: f.provider_id.clone(),
            })?;
        if p.protocol() != provider.protocol() {
            return Err(PlanError::Protocol {
                index,
                provider: p.id.clone(),
                protocol: p.protocol().into(),
                expected: provider.protocol().into(),
            });
        }
        let endpoint = f.endpoint_id.as_deref().unwrap_or(&p.default_endpoint);
        let url = match &f.base_url {
            Some(u) => u.clone(),
            None => p
                .endpoints
                .get(endpoint)
                .cloned()
                .ok_or_else(|| PlanError::NoEndpoint {
                    provider: p.id.clone(),
                    endpoint: endpoint.to_string(),
                })?,
        };
        let key = match &f.key_profile {
            Some(alias) => key_of(alias).map_err(|_| PlanError::NoKeyProfile {
                index,
                alias: alias.clone(),
            })?,
            None => secret.api_key.clone(),
        };
        targets.push(Target {
            provider: p.id.clone(),
            protocol: p.protocol().to_string(),
            base_url: url,
            auth_scheme: p.auth_scheme.clone(),
            key,
            model: f.model.clone(),
            responses_via_chat: p.protocol() == "openai" && !p.serves_responses(),
        });
    }
    Ok(Plan {
        profile: row.alias.clone(),
        agent: row.agent_id.clone(),
        local_token: secret.proxy_token.clone(),
        targets,
        model_aliases: settings.model_aliases,
        timeouts: Timeouts::from_config(config),
        daemon_url: None,
        daemon_token: None,
        exit_on_stdin_eof: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profiles::FallbackTarget;

    fn row(proxy: &ProxySettings) -> ProfileRow {
        ProfileRow {
            alias: "w".into(),
            agent_id: "claude".into(),
            provider_id: "anthropic".into(),
            endpoint_id: "default".into(),
            model: "claude-sonnet-4".into(),
            base_url: None,
            profile_home: "/h".into(),
            proxy: serde_json::to_string(proxy).unwrap(),
            created_at: "now".into(),
            last_used: None,
        }
    }

    #[test]
    fn targets_keys_and_redaction() {
        let cat = crate::registry::builtin();
        let settings = ProxySettings {
            enabled: true,
            fallbacks: vec![
                FallbackTarget {
                    provider_id: "minimax".into(),
                    endpoint_id: Some("china".into()),
                    model: Some("MiniMax-M2.1".into()),
                    base_url: None,
                    key_profile: Some("mm".into()),
                },
                FallbackTarget {
                    provider_id: "openai".into(),
                    endpoint_id: None,
                    model: None,
                    base_url: None,
                    key_profile: None,
                },
            ],
            ..Default::default()
        };
        let secret = Secret {
            api_key: Some("sk-real-key-0123456789".into()),
            proxy_token: "local".into(),
        };
        let key_of = |a: &str| {
            if a == "mm" {
                Ok(Some("sk-mm".to_string()))
            } else {
                Err(())
            }
        };
        let cfg = ProxyConfig::default();
        let err = build(&row(&settings), &secret, &cat, &cfg, &key_of).unwrap_err();
        assert!(matches!(err, PlanError::Protocol { index: 2, .. }), "{err}");
        let mut settings = settings;
        settings.fallbacks.pop();
        let plan = build(&row(&settings), &secret, &cat, &cfg, &key_of).unwrap();
        assert_eq!(plan.targets.len(), 2);
        assert_eq!(plan.targets[0].base_url, "https://api.anthropic.com");
        assert_eq!(plan.targets[0].auth_scheme, "x-api-key");
        assert_eq!(
            plan.targets[1].base_url,
            "https://api.minimaxi.com/anthropic"
        );
        assert_eq!(plan.targets[1].auth_scheme, "bearer");
        assert_eq!(plan.targets[1].key.as_deref(), Some("sk-mm"));
        let debug = format!("{plan:?}");
        assert!(!debug.contains("sk-real") && !debug.contains("sk-mm") && !debug.contains("local"));
    }
}
