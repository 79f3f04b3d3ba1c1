//! Launching a profile's agent: the environment and files it starts with, pointed at the
//! provider (with the real key) or, when the profile goes through its proxy, at the
//! proxy (with the local token only, starting the proxy if needed). An enabled proxy that
//! cannot run is an error: a launch never falls back to handing out the real key. For a
//! sandboxed profile the launch also carries the command that confines the agent, and
//! is refused when the sandbox cannot be had.

use std::path::{Path, PathBuf};

use super::{ProfileError, Profiles, endpoint_url, proxy_settings, resolve};
use crate::agents::prepare::{self, LaunchInput, LaunchSpec, profile_home};
use crate::agents::sandbox::Wrapper;
use crate::registry::Provider;
use crate::store::profiles as db;

/// A prepared launch, the agent binary detection found, if any, and for a sandboxed
/// profile the command the agent must run under.
pub struct Launch {
    pub spec: LaunchSpec,
    pub binary_path: Option<PathBuf>,
    pub sandbox: Option<Wrapper>,
}

/// The base URL an agent is given for the proxy at `url`: OpenAI-style agents append
/// their paths to a versioned base, so theirs ends in `/v1`.
pub fn agent_base_url(url: &str, provider: &Provider) -> String {
    if provider.protocol() == "openai" {
        format!("{url}/v1")
    } else {
        url.to_string()
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
        let (base_url, key, bearer) = match (&proxy_url, &secret) {
            (Some(url), Some(s)) => (
                agent_base_url(url, provider),
                Some(s.proxy_token.as_str()),
                false,
            ),
            (Some(_), None) => {
                return Err(ProfileError::Internal(format!(
                    "proxied profile '{alias}' without secrets"
                )));
            }
            (None, s) => (
                base_url,
                s.as_ref().and_then(|s| s.api_key.as_deref()),
                provider.auth_scheme == "bearer",
            ),
        };
        let spec = prepare::prepare(&LaunchInput {
            agent,
            provider,
            base_url: &base_url,
            model: &row.model,
            key,
            bearer,
            home: &home,
            cwd,
        })?;
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
