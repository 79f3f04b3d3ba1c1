//! The plan of a profile's proxy, built from the profile row, its secrets and the
//! catalogue: the primary target, then each fallback with its own provider, base URL,
//! scheme, model and key (its own, or another profile's through `key_profile`).
//!
//! [`StorePlans`] is how the supervisor gets a plan at every start of a proxy: read
//! afresh from the store, so a restart sees the current settings and keys.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use super::{
    AuthMethod, ProxySettings, auth_method, endpoint_url, proxy_settings, reachable, translates,
};
use crate::config::{Config, ProxyConfig};
use crate::proxy::plan::{Plan, Target, Timeouts};
use crate::registry::{Catalogue, Provider};
use crate::shared::Shared;
use crate::store::Store;
use crate::store::pool_keys::{self, PoolKeySecret, hint};
use crate::store::profiles::{self as db, ProfileRow, Secret};
use crate::supervisor::{PlanFailure, PlanSource, Planned};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("profile '{profile}' uses provider '{provider}', which the catalogue no longer has")]
    UnknownProvider { profile: String, provider: String },
    #[error("provider '{provider}' has no endpoint '{endpoint}'")]
    NoEndpoint { provider: String, endpoint: String },
    #[error(
        "fallback {index} uses provider '{provider}' ({protocol} API), which the profile's agent cannot use (it speaks the {expected} API)"
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

/// Another profile's stored credential, and whether it is a subscription token.
pub type Borrowed = (Option<String>, bool);

/// The scheme a target sends its credential with: a subscription token as OAuth
/// (`crate::proxy::oauth`), else the provider's own.
fn scheme(provider: &crate::registry::Provider, token: bool) -> String {
    if token {
        crate::proxy::oauth::SCHEME.to_string()
    } else {
        provider.auth_scheme.clone()
    }
}

/// Builds the plan of `row`. `key_of(alias)` returns another profile's stored credential
/// (`Err` when that profile does not exist), for fallbacks that name a `key_profile`.
pub fn build(
    row: &ProfileRow,
    secret: &Secret,
    pool: &[PoolKeySecret],
    cat: &Catalogue,
    config: &ProxyConfig,
    key_of: &dyn Fn(&str) -> Result<Borrowed, ()>,
) -> Result<Plan, PlanError> {
    let own_token = auth_method(row) == AuthMethod::Token;
    let settings: ProxySettings = proxy_settings(row);
    let provider = cat
        .provider(&row.provider_id)
        .ok_or_else(|| PlanError::UnknownProvider {
            profile: row.alias.clone(),
            provider: row.provider_id.clone(),
        })?;
    // The agent's API reaches a target directly, or through the proxy's translation.
    let agent = cat.agent(&row.agent_id);
    let expected = agent.map_or(provider.protocol(), |a| a.protocol.as_str());
    let reach =
        |p: &Provider| agent.map_or(p.protocol() == provider.protocol(), |a| reachable(a, p));
    let via_chat = |p: &Provider| agent.is_some_and(|a| translates(a, p));
    let base_url = endpoint_url(row, Some(provider)).ok_or_else(|| PlanError::NoEndpoint {
        provider: provider.id.clone(),
        endpoint: row.endpoint_id.clone(),
    })?;
    // (priority, order, target): sorted at the end, ties in the order added.
    let mut ranked: Vec<(i64, usize, Target)> = vec![(
        0,
        0,
        Target {
            provider: provider.id.clone(),
            protocol: provider.protocol().to_string(),
            base_url: base_url.clone(),
            auth_scheme: scheme(provider, own_token),
            key: secret.api_key.clone(),
            model: None,
            responses_via_chat: provider.protocol() == "openai" && !provider.serves_responses(),
            messages_via_chat: via_chat(provider),
            key_label: None,
            key_hint: secret.api_key.as_deref().map(hint),
        },
    )];
    for (j, k) in pool.iter().enumerate() {
        let r = &k.row;
        let p = match &r.provider_id {
            None => provider,
            Some(id) => cat.provider(id).ok_or_else(|| PlanError::UnknownProvider {
                profile: row.alias.clone(),
                provider: id.clone(),
            })?,
        };
        let url = match (&r.base_url, &r.endpoint_id) {
            (Some(u), _) => u.clone(),
            (None, None) if p.id == provider.id => base_url.clone(),
            (None, e) => {
                let e = e.as_deref().unwrap_or(&p.default_endpoint);
                p.endpoints
                    .get(e)
                    .cloned()
                    .ok_or_else(|| PlanError::NoEndpoint {
                        provider: p.id.clone(),
                        endpoint: e.to_string(),
                    })?
            }
        };
        ranked.push((
            r.priority,
            1 + j,
            Target {
                provider: p.id.clone(),
                protocol: p.protocol().to_string(),
                base_url: url,
                auth_scheme: scheme(p, r.kind == "token"),
                key: Some(k.secret.clone()),
                model: r.model.clone(),
                responses_via_chat: p.protocol() == "openai" && !p.serves_responses(),
                messages_via_chat: via_chat(p),
                key_label: Some(r.label.clone()),
                key_hint: Some(r.hint.clone()),
            },
        ));
    }
    for (i, f) in settings.fallbacks.iter().enumerate() {
        let index = i + 1;
        let p = cat
            .provider(&f.provider_id)
            .ok_or_else(|| PlanError::UnknownProvider {
                profile: row.alias.clone(),
                provider: f.provider_id.clone(),
            })?;
        if !reach(p) {
            return Err(PlanError::Protocol {
                index,
                provider: p.id.clone(),
                protocol: p.protocol().into(),
                expected: expected.into(),
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
        let (key, token) = match &f.key_profile {
            Some(alias) => key_of(alias).map_err(|_| PlanError::NoKeyProfile {
                index,
                alias: alias.clone(),
            })?,
            // A subscription token goes to Anthropic and nowhere else.
            None if own_token => (None, false),
            None => (secret.api_key.clone(), false),
        };
        let label = format!(
            "fallback-{index}{}",
            f.key_profile
                .as_deref()
                .map(|a| format!("-{a}"))
                .unwrap_or_default()
        );
        ranked.push((
            f.priority.unwrap_or(100),
            1000 + i,
            Target {
                provider: p.id.clone(),
                protocol: p.protocol().to_string(),
                base_url: url,
                auth_scheme: scheme(p, token),
                key_hint: key.as_deref().map(hint),
                key,
                model: f.model.clone(),
                responses_via_chat: p.protocol() == "openai" && !p.serves_responses(),
                messages_via_chat: via_chat(p),
                key_label: Some(label),
            },
        ));
    }
    ranked.sort_by_key(|(priority, order, _)| (*priority, *order));
    let targets = ranked.into_iter().map(|(_, _, t)| t).collect();
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
        stop: None,
        routes: settings.routes,
        pool: settings.pool,
        inspector: settings.inspector,
        busy_poll_us: config.busy_poll_us,
        threads: config.threads,
    })
}

/// Plans read from the store at every proxy start.
pub struct StorePlans {
    pub store: Store,
    pub catalogue: Shared<Catalogue>,
    pub config: Shared<Config>,
    /// Told how many requests each started proxy's inspector keeps.
    pub inspector: std::sync::Arc<crate::inspector::Inspector>,
}

impl StorePlans {
    async fn load(&self, alias: &str) -> Result<Planned, PlanFailure> {
        let a = alias.to_string();
        let loaded = self
            .store
            .read(move |c| {
                let Some(row) = db::get(c, &a)? else {
                    return Ok(None);
                };
                let secret = db::secret(c, &a)?;
                let pool = pool_keys::with_secrets(c, &a)?;
                // Keys of the profiles the fallbacks borrow theirs from.
                let mut keys = HashMap::new();
                for f in proxy_settings(&row).fallbacks {
                    if let Some(other) = f.key_profile {
                        let token = db::get(c, &other)?
                            .is_some_and(|r| auth_method(&r) == AuthMethod::Token);
                        let key = db::secret(c, &other)?.map(|s| (s.api_key, token));
                        keys.insert(other, key);
                    }
                }
                Ok(Some((row, secret, pool, keys)))
            })
            .await
            .map_err(|e| PlanFailure::Retry(e.to_string()))?;
        let Some((row, secret, pool, keys)) = loaded else {
            return Err(PlanFailure::Fatal(format!("Profile '{alias}' not found")));
        };
        let Some(secret) = secret else {
            return Err(PlanFailure::Fatal(format!(
                "Profile '{alias}' has no secrets row"
            )));
        };
        let key_of = |other: &str| match keys.get(other) {
            Some(Some(borrowed)) => Ok(borrowed.clone()),
            _ => Err(()),
        };
        let config = self.config.get();
        let plan = build(
            &row,
            &secret,
            &pool,
            &self.catalogue.get(),
            &config.proxy,
            &key_of,
        )
        .map_err(|e| PlanFailure::Fatal(e.to_string()))?;
        self.inspector.configure(alias, plan.inspector.keep);
        Ok(Planned {
            plan,
            fixed_port: proxy_settings(&row).port,
        })
    }
}

impl PlanSource for StorePlans {
    fn plan<'a>(
        &'a self,
        alias: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Planned, PlanFailure>> + Send + 'a>> {
        Box::pin(self.load(alias))
    }
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
            sandbox: "{}".into(),
            auth: "key".into(),
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
                    priority: None,
                },
                FallbackTarget {
                    provider_id: "openai".into(),
                    endpoint_id: None,
                    model: None,
                    base_url: None,
                    key_profile: None,
                    priority: None,
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
                Ok((Some("sk-mm".to_string()), false))
            } else {
                Err(())
            }
        };
        let cfg = ProxyConfig::default();
        // Claude Code reaches an OpenAI-compatible fallback through the translation.
        let plan = build(&row(&settings), &secret, &[], &cat, &cfg, &key_of).unwrap();
        assert_eq!(plan.targets.len(), 3);
        assert_eq!(plan.targets[0].base_url, "https://api.anthropic.com");
        assert_eq!(plan.targets[0].auth_scheme, "x-api-key");
        assert_eq!(
            plan.targets[1].base_url,
            "https://api.minimaxi.com/anthropic"
        );
        assert_eq!(plan.targets[1].auth_scheme, "bearer");
        assert_eq!(plan.targets[1].key.as_deref(), Some("sk-mm"));
        let via: Vec<bool> = plan.targets.iter().map(|t| t.messages_via_chat).collect();
        assert_eq!(via, [false, false, true]);
        // Codex cannot use an Anthropic-only fallback: nothing translates that way.
        let mut codex = row(&settings);
        codex.agent_id = "codex".into();
        codex.provider_id = "openai".into();
        let err = build(&codex, &secret, &[], &cat, &cfg, &key_of).unwrap_err();
        assert!(matches!(err, PlanError::Protocol { index: 1, .. }), "{err}");
        let debug = format!("{plan:?}");
        assert!(!debug.contains("sk-real") && !debug.contains("sk-mm") && !debug.contains("local"));
    }

    #[test]
    fn a_subscription_token_goes_as_oauth_to_anthropic_only() {
        let cat = crate::registry::builtin();
        let settings = ProxySettings {
            enabled: true,
            fallbacks: vec![FallbackTarget {
                provider_id: "minimax".into(),
                endpoint_id: None,
                model: Some("MiniMax-M2.1".into()),
                base_url: None,
                key_profile: None,
                priority: None,
            }],
            ..Default::default()
        };
        let mut r = row(&settings);
        r.auth = "token".into();
        let secret = Secret {
            api_key: Some("sk-ant-oat01-TOKEN".into()),
            proxy_token: "local".into(),
        };
        let plan = build(
            &r,
            &secret,
            &[],
            &cat,
            &ProxyConfig::default(),
            &|_| Err(()),
        )
        .unwrap();
        assert_eq!(plan.targets[0].auth_scheme, "oauth");
        assert_eq!(plan.targets[0].key.as_deref(), Some("sk-ant-oat01-TOKEN"));
        assert_eq!(
            plan.targets[1].key, None,
            "the token never goes to a fallback"
        );
    }
}
