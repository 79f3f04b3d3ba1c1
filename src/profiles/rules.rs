//! The rules for a profile: what an alias may be, and a create request checked against
//! the catalogue (agent, provider, endpoint, model, key, URLs, proxy settings). The 400s
//! name the offending value.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{AuthMethod, ProfileError, ProxySettings, SandboxSettings};
use crate::proxy::plan::{MAX_BODY_LIMIT, MAX_KEEP, Scenario};
use crate::registry::{AgentManifest, Catalogue, Provider};
use crate::store::profiles::ProfileRow;

/// Aliases a new profile cannot take. `/api/proxy/status/{alias}` sits beside
/// `/api/proxy/{alias}/start|stop|logs`, so a profile named `status` would make
/// `/api/proxy/status/start` (and `…/logs`) mean two things.
pub const RESERVED_ALIASES: &[&str] = &["status"];

pub use crate::paths::valid_alias;

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
    /// How the agent authenticates: `key` (default), `token` or `login`.
    #[serde(default)]
    pub auth: Option<AuthMethod>,
    /// With `auth: "token"`: the subscription's long-lived token (`claude setup-token`).
    #[serde(default)]
    pub oauth_token: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub proxy: Option<ProxySettings>,
    #[serde(default)]
    pub sandbox: Option<SandboxSettings>,
}

/// A create request checked against the catalogue.
pub struct Validated {
    pub row: ProfileRow,
    /// The stored credential: the API key, or the subscription token.
    pub api_key: Option<String>,
    pub home: PathBuf,
}

/// A key or token as a single line without spaces, at most 4 KiB; `None` when empty.
pub fn clean_secret(what: &str, value: Option<String>) -> Result<Option<String>, ProfileError> {
    let value = value
        .filter(|k| !k.trim().is_empty())
        .map(|k| k.trim().to_string());
    if let Some(k) = &value
        && (k.len() > 4096 || k.chars().any(|c| c.is_control() || c.is_whitespace()))
    {
        return Err(ProfileError::Invalid(format!(
            "{what} must be a single line without spaces"
        )));
    }
    Ok(value)
}

/// Whether `auth` suits `agent` on `provider`; the 400 says what would.
pub fn check_auth(
    auth: AuthMethod,
    agent: &AgentManifest,
    provider: &Provider,
) -> Result<(), ProfileError> {
    let login = crate::agents::login::spec(&agent.id);
    match auth {
        AuthMethod::Key => Ok(()),
        AuthMethod::Token if login.and_then(|l| l.token).is_none() => {
            Err(ProfileError::Invalid(format!(
                "Agent '{}' takes no subscription token; use auth 'login' (its own login) or an API key",
                agent.id
            )))
        }
        AuthMethod::Token if provider.kind != "anthropic" => Err(ProfileError::Invalid(format!(
            "A Claude subscription token works only with Anthropic itself (provider 'anthropic'), not '{}'",
            provider.id
        ))),
        AuthMethod::Token => Ok(()),
        AuthMethod::Login if login.is_none() => Err(ProfileError::Invalid(format!(
            "Agent '{}' has no login of its own; use an API key",
            agent.id
        ))),
        AuthMethod::Login => Ok(()),
    }
}

pub(super) fn check_url(url: &str, what: &str) -> Result<(), ProfileError> {
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

pub fn validate_proxy(
    cat: &Catalogue,
    proxy: &ProxySettings,
    auth: AuthMethod,
) -> Result<(), ProfileError> {
    if proxy.enabled && auth == AuthMethod::Login {
        return Err(ProfileError::Invalid(
            "A profile with the agent's own login cannot go through the proxy: the agent holds that login itself. Use auth 'token' (e.g. `claude setup-token`) to keep the credential in the proxy".into(),
        ));
    }
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
        // A subscription token goes to Anthropic and nowhere else.
        if auth == AuthMethod::Token && f.key_profile.is_none() {
            return Err(ProfileError::Invalid(format!(
                "proxy.fallbacks[{i}]: a profile with a subscription token cannot lend it to a fallback; name the profile whose key to use (key_profile)"
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
    validate_with(cat, req, user_home, true)
}

/// [`validate`], with the key's presence checked only when `key_needed` (a dry run
/// checks everything else before the user types the key).
pub fn validate_with(
    cat: &Catalogue,
    req: CreateProfile,
    user_home: &Path,
    key_needed: bool,
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
    let agent = cat.agent(&req.agent_id).ok_or_else(|| {
        ProfileError::Invalid(format!(
            "Unknown agent '{}'; known agents: {}",
            req.agent_id,
            cat.agent_ids().join(", ")
        ))
    })?;
    let provider = cat.provider(&req.provider_id).ok_or_else(|| {
        ProfileError::Invalid(format!(
            "Unknown provider '{}'; known providers: {}",
            req.provider_id,
            cat.provider_ids().join(", ")
        ))
    })?;
    if !reachable(agent, provider) {
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
            "Provider '{}' does not offer model '{model}' (its models: {})",
            provider.id,
            provider.models.join(", ")
        )));
    }
    let auth = req.auth.unwrap_or_default();
    check_auth(auth, agent, provider)?;
    let api_key = clean_secret("api_key", req.api_key)?;
    let token = clean_secret("oauth_token", req.oauth_token)?;
    let credential = match auth {
        AuthMethod::Key => {
            if token.is_some() {
                return Err(ProfileError::Invalid(
                    "oauth_token goes with auth 'token'".into(),
                ));
            }
            if key_needed && provider.requires_key && api_key.is_none() {
                return Err(ProfileError::Invalid(format!(
                    "Provider '{}' needs an API key (api_key)",
                    provider.id
                )));
            }
            api_key
        }
        AuthMethod::Token => {
            if api_key.is_some() {
                return Err(ProfileError::Invalid(
                    "auth 'token' takes oauth_token, not api_key".into(),
                ));
            }
            if key_needed && token.is_none() {
                return Err(ProfileError::Invalid(
                    "auth 'token' needs oauth_token (the token `claude setup-token` prints)".into(),
                ));
            }
            token
        }
        AuthMethod::Login => {
            if api_key.is_some() || token.is_some() {
                return Err(ProfileError::Invalid(
                    "auth 'login' stores no credential: the agent keeps its own login in the profile home (clown profiles login ALIAS)".into(),
                ));
            }
            None
        }
    };
    if let Some(url) = &req.base_url {
        check_url(url, "base_url")?;
    }
    // Codex speaks only the Responses API; for a provider without it the profile's proxy
    // translates, so it is on unless the request says otherwise. Claude Code on an
    // OpenAI-compatible provider has no way at all without the proxy's translation.
    let proxy = req.proxy.unwrap_or_else(|| ProxySettings {
        enabled: ((agent.launcher == "codex" && !provider.serves_responses())
            || translates(agent, provider))
            && auth != AuthMethod::Login,
        ..ProxySettings::default()
    });
    if !proxy.enabled && translates(agent, provider) {
        return Err(needs_proxy(agent, provider));
    }
    validate_proxy(cat, &proxy, auth)?;
    check_routing(&provider.id, &[], &proxy)?;
    let home = crate::agents::prepare::profile_home(user_home, &agent.id, &req.alias);
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
            sandbox: serde_json::to_string(&req.sandbox.unwrap_or_default())
                .unwrap_or_else(|_| "{}".into()),
            auth: auth.as_str().into(),
        },
        api_key: credential,
        home,
    })
}

/// Whether the proxy translates between `agent` and `provider`: Claude Code (Anthropic's
/// Messages API) on an OpenAI-compatible provider (Chat Completions).
pub fn translates(agent: &AgentManifest, provider: &Provider) -> bool {
    agent.launcher == "claude" && provider.protocol() == "openai"
}

/// Whether `agent` can use `provider`: the same API, or through the proxy's translation.
pub fn reachable(agent: &AgentManifest, provider: &Provider) -> bool {
    agent.protocol == provider.protocol() || translates(agent, provider)
}

/// The provider protocols a profile of `agent` can use: its own, and those the proxy
/// translates from.
pub fn provider_protocols(agent: &AgentManifest) -> Vec<&str> {
    let mut out = vec![agent.protocol.as_str()];
    if agent.launcher == "claude" && agent.protocol != "openai" {
        out.push("openai");
    }
    out
}

/// The 400 for a translated profile without its proxy.
pub fn needs_proxy(agent: &AgentManifest, provider: &Provider) -> ProfileError {
    ProfileError::Invalid(format!(
        "Agent '{}' speaks the {} API and provider '{}' is {}: only the profile's proxy translates between them, so the proxy stays enabled",
        agent.id, agent.protocol, provider.id, provider.kind
    ))
}

/// The URL the agent (or proxy) talks to: `base_url`, else the endpoint's.
pub fn endpoint_url(row: &ProfileRow, provider: Option<&Provider>) -> Option<String> {
    row.base_url.clone().or_else(|| {
        provider
            .and_then(|p| p.endpoints.get(&row.endpoint_id))
            .cloned()
    })
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

/// The routing rules, pool and inspector settings of a profile on `provider` whose pool
/// keys name `pooled` providers.
pub(super) fn check_routing(
    provider: &str,
    pooled: &[String],
    settings: &ProxySettings,
) -> Result<(), ProfileError> {
    let mut providers: Vec<String> = vec![provider.to_string()];
    providers.extend(pooled.iter().cloned());
    providers.extend(settings.fallbacks.iter().map(|f| f.provider_id.clone()));
    for (i, r) in settings.routes.iter().enumerate() {
        let bad = |m: String| Err(ProfileError::Invalid(format!("proxy.routes[{i}]: {m}")));
        if r.provider_id.is_none() && r.model.is_none() {
            return bad("name a provider_id, a model or both".into());
        }
        if r.threshold_tokens.is_some() && r.when != Scenario::LongContext {
            return bad("threshold_tokens goes with 'long_context' only".into());
        }
        if r.threshold_tokens == Some(0) {
            return bad("threshold_tokens must be above 0".into());
        }
        if r.tag.is_some() && r.when != Scenario::Subagent {
            return bad("tag goes with 'subagent' only".into());
        }
        if r.tag
            .as_ref()
            .is_some_and(|t| t.is_empty() || t.len() > 128)
        {
            return bad("tag must be 1-128 characters".into());
        }
        if let Some(p) = &r.provider_id
            && !providers.contains(p)
        {
            return bad(format!(
                "provider '{p}' is none of the profile's targets ({}); add a pool key or a fallback of it",
                providers.join(", ")
            ));
        }
        if r.model
            .as_ref()
            .is_some_and(|m| m.is_empty() || m.len() > 256)
        {
            return bad("model must be 1-256 characters".into());
        }
    }
    if settings.routes.len() > 64 {
        return Err(ProfileError::Invalid(
            "proxy.routes: at most 64 rules".into(),
        ));
    }
    let p = &settings.pool;
    if !(p.skip_utilization > 0.0 && p.skip_utilization <= 1.0) {
        return Err(ProfileError::Invalid(
            "proxy.pool.skip_utilization must be above 0 and at most 1".into(),
        ));
    }
    if !(1..=86_400).contains(&p.cooldown_secs) {
        return Err(ProfileError::Invalid(
            "proxy.pool.cooldown_secs must be between 1 and 86400".into(),
        ));
    }
    let ins = &settings.inspector;
    if ins.keep > MAX_KEEP {
        return Err(ProfileError::Invalid(format!(
            "proxy.inspector.keep must be at most {MAX_KEEP}"
        )));
    }
    if !(256..=MAX_BODY_LIMIT).contains(&ins.body_limit) {
        return Err(ProfileError::Invalid(format!(
            "proxy.inspector.body_limit must be between 256 and {MAX_BODY_LIMIT}"
        )));
    }
    Ok(())
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
}
