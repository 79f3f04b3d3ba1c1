//! Profiles: the rules for creating one (validation against the catalogue), the views
//! the API shows, and the launch of a profile's agent.
//!
//! A profile binds an agent to a provider, an endpoint (or an explicit `base_url`), a
//! model and a key. The alias is validated by [`valid_alias`] and only ever becomes a
//! path through [`crate::agents::launch::profile_home`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::registry::{AgentManifest, Catalogue, Provider};
use crate::store::profiles::ProfileRow;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{0}")]
    Invalid(String),
    #[error("Profile '{0}' not found")]
    NotFound(String),
    #[error("Profile '{0}' already exists")]
    Exists(String),
}

/// Aliases a new profile cannot take. `/api/proxy/status/{alias}` sits beside
/// `/api/proxy/{alias}/start|stop|logs`, so a profile named `status` would make
/// `/api/proxy/status/start` (and `…/logs`) mean two things.
pub const RESERVED_ALIASES: &[&str] = &["status"];

/// `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`
pub fn valid_alias(alias: &str) -> bool {
    let mut chars = alias.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && alias.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

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
}

/// `POST /api/profiles` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateProfile {
    pub agent_id: String,
    pub alias: String,
    pub provider_id: String,
    #[serde(default)]
    pub endpoint_id: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub api_key: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub proxy: Option<ProxySettings>,
}

/// A create request checked against the catalogue.
pub struct Validated {
    pub row: ProfileRow,
    pub api_key: Option<String>,
    pub home: PathBuf,
}

fn check_url(url: &str, what: &str) -> Result<(), ProfileError> {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 2048
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(ProfileError::Invalid(format!(
            "{what} must be an http:// or https:// URL"
        )))
    }
}

pub fn validate_proxy(cat: &Catalogue, proxy: &ProxySettings) -> Result<(), ProfileError> {
    if proxy.port == Some(0) {
        return Err(ProfileError::Invalid(
            "proxy.port must be between 1 and 65535".into(),
        ));
    }
    for (i, f) in proxy.fallbacks.iter().enumerate() {
        let p = cat.provider(&f.provider_id).ok_or_else(|| {
            ProfileError::Invalid(format!(
                "proxy.fallbacks[{i}]: unknown provider '{}'",
                f.provider_id
            ))
        })?;
        if let Some(e) = &f.endpoint_id
            && !p.endpoints.contains_key(e)
        {
            return Err(ProfileError::Invalid(format!(
                "proxy.fallbacks[{i}]: provider '{}' has no endpoint '{e}'",
                p.id
            )));
        }
        if let Some(m) = &f.model
            && !p.offers_model(m)
        {
            return Err(ProfileError::Invalid(format!(
                "proxy.fallbacks[{i}]: provider '{}' does not offer model '{m}'",
                p.id
            )));
        }
        if let Some(u) = &f.base_url {
            check_url(u, &format!("proxy.fallbacks[{i}].base_url"))?;
        }
        if let Some(a) = &f.key_profile
            && !valid_alias(a)
        {
            return Err(ProfileError::Invalid(format!(
                "proxy.fallbacks[{i}].key_profile: invalid alias '{a}'"
            )));
        }
    }
    Ok(())
}

/// Checks a create request; the 400s name the offending value.
pub fn validate(
    cat: &Catalogue,
    req: CreateProfile,
    user_home: &Path,
) -> Result<Validated, ProfileError> {
    if !valid_alias(&req.alias) {
        return Err(ProfileError::Invalid(format!(
            "Invalid alias '{}': use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            req.alias.chars().take(80).collect::<String>()
        )));
    }
    if RESERVED_ALIASES.contains(&req.alias.as_str()) {
        return Err(ProfileError::Invalid(format!(
            "Alias '{}' is reserved: /api/proxy/{0}/… would mean the proxy status routes; choose another",
            req.alias
        )));
    }
    let agent = cat
        .agent(&req.agent_id)
        .ok_or_else(|| ProfileError::Invalid(format!("Unknown agent '{}'", req.agent_id)))?;
    let provider = cat
        .provider(&req.provider_id)
        .ok_or_else(|| ProfileError::Invalid(format!("Unknown provider '{}'", req.provider_id)))?;
    if agent.protocol != provider.protocol() {
        return Err(ProfileError::Invalid(format!(
            "Agent '{}' speaks the {} API; provider '{}' is {}",
            agent.id, agent.protocol, provider.id, provider.kind
        )));
    }
    let endpoint_id = req
        .endpoint_id
        .unwrap_or_else(|| provider.default_endpoint.clone());
    if !provider.endpoints.contains_key(&endpoint_id) {
        return Err(ProfileError::Invalid(format!(
            "Unknown endpoint '{endpoint_id}' for provider '{}' (known: {})",
            provider.id,
            provider
                .endpoints
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let model = req.model.unwrap_or_else(|| provider.default_model.clone());
    if !provider.offers_model(&model) {
        return Err(ProfileError::Invalid(format!(
            "Provider '{}' does not offer model '{model}'",
            provider.id
        )));
    }
    let api_key = req
        .api_key
        .filter(|k| !k.trim().is_empty())
        .map(|k| k.trim().to_string());
    if provider.requires_key && api_key.is_none() {
        return Err(ProfileError::Invalid(format!(
            "Provider '{}' needs an API key (api_key)",
            provider.id
        )));
    }
    if let Some(k) = &api_key
        && (k.len() > 4096 || k.chars().any(|c| c.is_control() || c.is_whitespace()))
    {
        return Err(ProfileError::Invalid(
            "api_key must be a single line without spaces".into(),
        ));
    }
    if let Some(url) = &req.base_url {
        check_url(url, "base_url")?;
    }
    // Codex speaks only the Responses API; for a provider without it the profile's proxy
    // translates, so it is on unless the request says otherwise.
    let proxy = req.proxy.unwrap_or_else(|| ProxySettings {
        enabled: agent.launcher == "codex" && !provider.serves_responses(),
        ..ProxySettings::default()
    });
    validate_proxy(cat, &proxy)?;
    let home = crate::agents::launch::profile_home(user_home, &agent.id, &req.alias);
    Ok(Validated {
        row: ProfileRow {
            alias: req.alias,
            agent_id: agent.id.clone(),
            provider_id: provider.id.clone(),
            endpoint_id,
            model,
            base_url: req.base_url,
            profile_home: home.display().to_string(),
            proxy: serde_json::to_string(&proxy).unwrap_or_else(|_| "{}".into()),
            created_at: crate::time::now_rfc3339(),
            last_used: None,
        },
        api_key,
        home,
    })
}

/// `~/…` form of a path under the user's home, as the reference shows `profile_home`.
pub fn tilde(path: &str, user_home: &Path) -> String {
    match Path::new(path).strip_prefix(user_home) {
        Ok(rest) => format!("~/{}", rest.display()),
        Err(_) => path.to_string(),
    }
}

pub fn proxy_settings(row: &ProfileRow) -> ProxySettings {
    serde_json::from_str(&row.proxy).unwrap_or_default()
}

/// The URL the agent (or proxy) talks to: `base_url`, else the endpoint's.
pub fn endpoint_url(row: &ProfileRow, provider: Option<&Provider>) -> Option<String> {
    row.base_url.clone().or_else(|| {
        provider
            .and_then(|p| p.endpoints.get(&row.endpoint_id))
            .cloned()
    })
}

/// The list entry: the reference's fields plus a few a user needs.
#[derive(Serialize)]
pub struct Summary<'a> {
    alias: &'a str,
    agent_id: &'a str,
    provider_id: &'a str,
    endpoint_id: &'a str,
    model: &'a str,
    last_used: Option<&'a str>,
    base_url: Option<&'a str>,
    created_at: &'a str,
    proxy_enabled: bool,
}

/// Serialized straight from the row (no intermediate JSON tree): lists can be long.
pub fn summary(row: &ProfileRow) -> Summary<'_> {
    Summary {
        alias: &row.alias,
        agent_id: &row.agent_id,
        provider_id: &row.provider_id,
        endpoint_id: &row.endpoint_id,
        model: &row.model,
        last_used: row.last_used.as_deref(),
        base_url: row.base_url.as_deref(),
        created_at: &row.created_at,
        // The stored settings are compact JSON written by us; no need to parse them whole.
        proxy_enabled: row.proxy.contains("\"enabled\":true"),
    }
}

/// The detail view. `key_hint` is at most the key's last four characters.
pub fn detail(row: &ProfileRow, cat: &Catalogue, user_home: &Path, key: Option<&str>) -> Value {
    let provider = cat.provider(&row.provider_id);
    json!({
        "alias": row.alias,
        "agent_id": row.agent_id,
        "provider_id": row.provider_id,
        "endpoint_id": row.endpoint_id,
        "model": row.model,
        "created_at": row.created_at,
        "last_used": row.last_used,
        "profile_home": tilde(&row.profile_home, user_home),
        "base_url": row.base_url,
        "endpoint_url": endpoint_url(row, provider),
        "api_key_set": key.is_some(),
        "api_key_hint": key.map(key_hint),
        "proxy": proxy_settings(row),
    })
}

/// `…abcd`: the last four characters, only for keys long enough that this reveals little.
pub fn key_hint(key: &str) -> String {
    let n = key.chars().count();
    if n < 12 {
        return "…".to_string();
    }
    format!("…{}", key.chars().skip(n - 4).collect::<String>())
}

/// Resolves what launching `row` needs from the catalogue.
pub fn resolve<'a>(
    row: &ProfileRow,
    cat: &'a Catalogue,
) -> Result<(&'a AgentManifest, &'a Provider), ProfileError> {
    let agent = cat.agent(&row.agent_id).ok_or_else(|| {
        ProfileError::Invalid(format!(
            "Profile '{}' uses agent '{}', which the catalogue no longer has",
            row.alias, row.agent_id
        ))
    })?;
    let provider = cat.provider(&row.provider_id).ok_or_else(|| {
        ProfileError::Invalid(format!(
            "Profile '{}' uses provider '{}', which the catalogue no longer has",
            row.alias, row.provider_id
        ))
    })?;
    Ok((agent, provider))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases() {
        for ok in ["a", "my-project", "Work_2.x", &"a".repeat(64)] {
            assert!(valid_alias(ok), "{ok}");
        }
        for bad in [
            "",
            "-a",
            ".hidden",
            "a/b",
            "..",
            "a b",
            "é",
            &"a".repeat(65),
            "a\n",
        ] {
            assert!(!valid_alias(bad), "{bad:?}");
        }
    }

    #[test]
    fn hints_reveal_little() {
        assert_eq!(key_hint("sk-1234567890abcd"), "…abcd");
        assert_eq!(key_hint("short"), "…");
    }
}
