//! A profile's key pool: its further keys and subscription tokens, listed (hints only),
//! added and removed; an active proxy is restarted so its plan has them. And the checks
//! of the routing rules, which may name the provider of any of the profile's targets.

use serde::{Deserialize, Serialize};

use super::rules::{check_routing, check_url};
use super::{
    AuthMethod, ProfileError, Profiles, ProxySettings, auth_method, clean_secret, reachable,
    valid_alias,
};
use crate::store::pool_keys::{self as db, PoolKeyRow, PoolKeySecret};
use crate::supervisor::State;

/// `POST /api/profiles/{alias}/keys`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    pub label: String,
    /// The key, or with `kind: "token"` a subscription's OAuth token.
    pub secret: String,
    #[serde(default)]
    pub kind: Option<AuthMethod>,
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    pub provider_id: Option<String>,
    #[serde(default)]
    pub endpoint_id: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// A pool key as responses show it.
#[derive(Debug, Serialize)]
pub struct KeyView {
    pub label: String,
    pub kind: String,
    pub priority: i64,
    pub hint: String,
    pub provider_id: Option<String>,
    pub endpoint_id: Option<String>,
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub created_at: String,
}

impl From<PoolKeyRow> for KeyView {
    fn from(r: PoolKeyRow) -> Self {
        Self {
            label: r.label,
            kind: r.kind,
            priority: r.priority,
            hint: r.hint,
            provider_id: r.provider_id,
            endpoint_id: r.endpoint_id,
            base_url: r.base_url,
            model: r.model,
            created_at: r.created_at,
        }
    }
}

impl Profiles {
    pub async fn keys(&self, alias: &str) -> Result<Vec<KeyView>, ProfileError> {
        self.row(alias).await?;
        let a = alias.to_string();
        let rows = self.r.store.read(move |c| db::list(c, &a)).await?;
        Ok(rows.into_iter().map(KeyView::from).collect())
    }

    pub async fn add_key(&self, alias: &str, new: NewKey) -> Result<KeyView, ProfileError> {
        let row = self.row(alias).await?;
        let cat = self.r.catalogue.get();
        if !valid_alias(&new.label) || new.label == "primary" || new.label.starts_with("fallback-")
        {
            return Err(ProfileError::Invalid(format!(
                "label '{}' must be 1-64 letters, digits, '.', '_' or '-' (not 'primary' or 'fallback-…')",
                new.label
            )));
        }
        let secret = clean_secret("secret", Some(new.secret.clone()))?
            .ok_or_else(|| ProfileError::Invalid("secret must not be empty".into()))?;
        let kind = new.kind.unwrap_or(AuthMethod::Key);
        if kind == AuthMethod::Login {
            return Err(ProfileError::Invalid(
                "kind must be 'key' or 'token' (an agent's own login cannot be pooled)".into(),
            ));
        }
        if auth_method(&row) == AuthMethod::Login {
            return Err(ProfileError::Invalid(format!(
                "profile '{alias}' uses the agent's own login, which cannot go through the proxy; a key pool needs the proxy"
            )));
        }
        let provider_id = new.provider_id.clone().unwrap_or(row.provider_id.clone());
        let p = cat
            .provider(&provider_id)
            .ok_or_else(|| ProfileError::Invalid(format!("unknown provider '{provider_id}'")))?;
        if let Some(agent) = cat.agent(&row.agent_id)
            && !reachable(agent, p)
        {
            return Err(ProfileError::Invalid(format!(
                "provider '{provider_id}' does not speak the {} API of profile '{alias}'",
                agent.protocol
            )));
        }
        if kind == AuthMethod::Token && p.kind != "anthropic" {
            return Err(ProfileError::Invalid(format!(
                "a Claude subscription token (kind 'token') goes to Anthropic's API only (provider 'anthropic'), not '{}'",
                p.id
            )));
        }
        if let Some(e) = &new.endpoint_id
            && !p.endpoints.contains_key(e)
        {
            return Err(ProfileError::Invalid(format!(
                "provider '{provider_id}' has no endpoint '{e}'"
            )));
        }
        if let Some(u) = &new.base_url {
            check_url(u, "base_url")?;
        }
        if let Some(m) = &new.model
            && (m.is_empty() || m.len() > 256 || m.chars().any(char::is_control))
        {
            return Err(ProfileError::Invalid(
                "model must be 1-256 printable characters".into(),
            ));
        }
        let priority = new.priority.unwrap_or(0);
        if !(-1000..=1000).contains(&priority) {
            return Err(ProfileError::Invalid(
                "priority must be between -1000 and 1000".into(),
            ));
        }
        let key = PoolKeySecret {
            row: PoolKeyRow {
                label: new.label.clone(),
                kind: kind.as_str().to_string(),
                priority,
                provider_id: new.provider_id,
                endpoint_id: new.endpoint_id,
                base_url: new.base_url,
                model: new.model,
                created_at: crate::time::now_rfc3339(),
                hint: db::hint(&secret),
            },
            secret,
        };
        let (a, k) = (alias.to_string(), key.clone());
        if !self.r.store.call(move |c| db::add(c, &a, &k)).await? {
            return Err(ProfileError::Exists(format!("{alias}/{}", new.label)));
        }
        tracing::info!(
            "profile '{alias}': key '{}' added to the pool",
            key.row.label
        );
        self.replan(alias).await;
        Ok(key.row.into())
    }

    pub async fn remove_key(&self, alias: &str, label: &str) -> Result<(), ProfileError> {
        self.row(alias).await?;
        let (a, l) = (alias.to_string(), label.to_string());
        if !self.r.store.call(move |c| db::remove(c, &a, &l)).await? {
            return Err(ProfileError::NotFound(format!("{alias}/{label}")));
        }
        tracing::info!("profile '{alias}': key '{label}' removed from the pool");
        self.replan(alias).await;
        Ok(())
    }

    /// An active proxy restarts, so its plan has the pool as it now is.
    async fn replan(&self, alias: &str) {
        if self.r.proxies.is_active(alias) {
            self.r.proxies.restart(alias).await;
            self.r
                .proxies
                .wait_while(
                    alias,
                    &[State::Starting],
                    std::time::Duration::from_millis(self.r.config.get().proxy.startup_timeout_ms),
                )
                .await;
        }
    }

    /// The routing rules, pool and inspector settings: each rule's scenario fields, and
    /// a provider that one of the profile's targets (its own, a pool key's, a
    /// fallback's) has.
    pub(super) async fn check_routing(
        &self,
        alias: &str,
        settings: &ProxySettings,
    ) -> Result<(), ProfileError> {
        let row = self.row(alias).await?;
        let a = alias.to_string();
        let pool = self.r.store.read(move |c| db::list(c, &a)).await?;
        let providers: Vec<String> = pool.into_iter().filter_map(|k| k.provider_id).collect();
        check_routing(&row.provider_id, &providers, settings)
    }
}
