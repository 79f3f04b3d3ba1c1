//! Launching a profile's agent: the environment and files it starts with, pointed at the
//! provider (with the real key) or, when the profile goes through its proxy, at the
//! proxy (with the local token only, starting the proxy if needed). An enabled proxy that
//! cannot run is an error: a launch never falls back to handing out the real key. For a
//! sandboxed profile the launch also carries the command that confines the agent, and
//! is refused when the sandbox cannot be had.

use std::path::{Path, PathBuf};

use super::{
    AuthMethod, ProfileError, Profiles, auth_method, endpoint_url, proxy_settings, resolve,
    translates,
};
use crate::agents::prepare::{self, Credential, LaunchInput, LaunchSpec, profile_home};
use crate::agents::sandbox::Wrapper;
use crate::registry::{AgentManifest, Provider};
use crate::store::profiles as db;

/// The variable carrying the profile's status-line token (see `crate::auth::StatusKeys`).
pub const STATUSLINE_ENV: &str = "CLOWN_STATUSLINE_TOKEN";

/// A prepared launch, the agent binary detection found, if any, and for a sandboxed
/// profile the command the agent must run under.
pub struct Launch {
    pub spec: LaunchSpec,
    pub binary_path: Option<PathBuf>,
    pub sandbox: Option<Wrapper>,
}

/// The base URL an agent is given for the proxy at `url`: OpenAI-style agents append
/// their paths to a versioned base, so theirs ends in `/v1`; Anthropic-style ones append
/// `/v1/…` themselves (also when the proxy translates for them).
pub fn agent_base_url(url: &str, agent: &AgentManifest) -> String {
    if agent.protocol == "openai" {
        format!("{url}/v1")
    } else {
        url.to_string()
    }
}

/// What the agent presents: the proxy's local token when it goes through the proxy
/// (as a key: the proxy swaps it for the real key or token), else the stored key (as a
/// bearer token for bearer providers) or subscription token, or its own login.
pub(super) fn credential<'a>(
    auth: AuthMethod,
    proxy_token: Option<&'a str>,
    stored: Option<&'a str>,
    provider: &Provider,
) -> Credential<'a> {
    if let Some(token) = proxy_token {
        return Credential::Key(token);
    }
    match (auth, stored) {
        (AuthMethod::Login, _) => Credential::OwnLogin,
        (AuthMethod::Token, Some(t)) => Credential::OauthToken(t),
        (AuthMethod::Key, Some(k)) if provider.auth_scheme == "bearer" => Credential::Bearer(k),
        (AuthMethod::Key, Some(k)) => Credential::Key(k),
        (_, None) => Credential::None,
    }
}

impl Profiles {
    /// Prepares `alias` for a launch in `cwd` and returns the spec, with the credential
    /// the agent needs; touches the profile's `last_used`.
    pub async fn launch_spec(
        &self,
        alias: &str,
        cwd: Option<&Path>,
    ) -> Result<LaunchSpec, ProfileError> {
        let (row, secret) = self.load(alias).await?;
        let catalogue = self.r.catalogue.get();
        let (agent, provider) = resolve(&row, &catalogue)?;
        let base_url = endpoint_url(&row, Some(provider)).ok_or_else(|| {
            ProfileError::Invalid(format!(
                "Provider '{}' has no endpoint '{}'",
                provider.id, row.endpoint_id
            ))
        })?;
        let home = profile_home(&self.r.home, &row.agent_id, &row.alias);
        let proxy_url = self.proxy_url(alias, &proxy_settings(&row)).await?;
        let stored = secret.as_ref().and_then(|s| s.api_key.as_deref());
        let (base_url, proxy_token) = match (&proxy_url, &secret) {
            (Some(url), Some(s)) => (agent_base_url(url, agent), Some(s.proxy_token.as_str())),
            (Some(_), None) => {
                return Err(ProfileError::Internal(format!(
                    "proxied profile '{alias}' without secrets"
                )));
            }
            // Nothing else speaks both APIs: the real provider would refuse every request.
            (None, _) if translates(agent, provider) => {
                return Err(ProfileError::Conflict(format!(
                    "Profile '{alias}' needs its proxy, which translates for {}: enable it with 'clown proxy enable {alias}'",
                    agent.name
                )));
            }
            (None, _) => (base_url, None),
        };
        let mut spec = prepare::prepare(&LaunchInput {
            agent,
            provider,
            base_url: &base_url,
            model: &row.model,
            credential: credential(auth_method(&row), proxy_token, stored, provider),
            home: &home,
            cwd,
        })?;
        // `clown statusline` inside the agent answers for this profile with it.
        spec.env
            .insert(STATUSLINE_ENV.into(), self.r.status_keys.token(alias));
        self.r.setup.before_launch(alias).await;
        // The hooks through which the agent reports its state (nothing for agents that
        // have none clown can set per profile).
        match crate::paths::clown_exe() {
            Ok(clown) => crate::agents::hooks::install(&agent.id, &home, &clown)?,
            Err(e) => tracing::warn!("cannot find clown's own binary for the agent's hooks: {e}"),
        }
        let a = alias.to_string();
        let now = crate::time::now_rfc3339();
        self.r.store.call(move |c| db::touch(c, &a, &now)).await?;
        Ok(spec)
    }

    /// A launch in the caller's own terminal (`clown profiles run`): the spec, where
    /// the agent's binary is, and the sandbox to run it in.
    pub async fn launch(&self, alias: &str, cwd: Option<&Path>) -> Result<Launch, ProfileError> {
        let row = self.row(alias).await?;
        let tool = self.sandbox_for(&row)?;
        let catalogue = self.r.catalogue.get();
        let agent = catalogue.agent(&row.agent_id);
        let binary_path = match agent {
            Some(agent) => {
                self.r
                    .detector
                    .detect(agent, &self.agent_search_dirs().await)
                    .await
                    .binary_path
            }
            None => None,
        };
        let sandbox = match &tool {
            Some(tool) => {
                let program = binary_path
                    .clone()
                    .or_else(|| agent.map(|a| PathBuf::from(&a.binary)))
                    .unwrap_or_default();
                let dir = cwd.map_or_else(|| PathBuf::from(&row.profile_home), Path::to_path_buf);
                Some(self.confine(tool, &row, &dir, &program, true)?)
            }
            None => None,
        };
        let spec = self.launch_spec(alias, cwd).await?;
        Ok(Launch {
            spec,
            binary_path,
            sandbox,
        })
    }
}
