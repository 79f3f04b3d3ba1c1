//! A profile's proxy: its status with its settings, start and stop, its log, new
//! settings applied (a proxy now enabled is started, one now disabled is stopped, an
//! active one restarted), the proxy URL a launch goes through, and the proxies of enabled
//! profiles started when the daemon starts.

use std::time::Duration;

use super::{
    ProfileError, Profiles, ProxySettings, auth_method, needs_proxy, proxy_settings, reachable,
    resolve, translates, validate_proxy,
};
use crate::store::profiles as db;
use crate::supervisor::{ProxyStatus, State, SupervisorError};

impl Profiles {
    /// The status of `alias`'s proxy (stopped if it never ran).
    pub fn proxy_status(&self, alias: &str) -> ProxyStatus {
        self.r
            .proxies
            .status(alias)
            .unwrap_or_else(|| ProxyStatus::stopped(alias))
    }

    /// The status and settings of an existing profile's proxy.
    pub async fn proxy(&self, alias: &str) -> Result<(ProxyStatus, ProxySettings), ProfileError> {
        let settings = proxy_settings(&self.row(alias).await?);
        Ok((self.proxy_status(alias), settings))
    }

    /// Every profile with the proxy enabled, and every proxy that has run.
    pub async fn proxies(&self) -> Result<Vec<(ProxyStatus, ProxySettings)>, ProfileError> {
        let rows = self.list(None).await?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let settings = proxy_settings(row);
                let status = self.r.proxies.status(&row.alias);
                (settings.enabled || status.is_some()).then(|| {
                    (
                        status.unwrap_or_else(|| ProxyStatus::stopped(&row.alias)),
                        settings,
                    )
                })
            })
            .collect())
    }

    pub async fn start_proxy(
        &self,
        alias: &str,
    ) -> Result<(ProxyStatus, ProxySettings), ProfileError> {
        let settings = proxy_settings(&self.row(alias).await?);
        let status = self.r.proxies.start(alias).await?;
        Ok((status, settings))
    }

    pub async fn stop_proxy(
        &self,
        alias: &str,
    ) -> Result<(ProxyStatus, ProxySettings), ProfileError> {
        let settings = proxy_settings(&self.row(alias).await?);
        let status = self.r.proxies.stop(alias).await;
        Ok((status, settings))
    }

    /// The last `n` lines of the proxy's log.
    pub async fn proxy_log(&self, alias: &str, n: usize) -> Result<Vec<String>, ProfileError> {
        self.row(alias).await?;
        let path = self.r.proxies.log_path(alias);
        tokio::task::spawn_blocking(move || crate::supervisor::logfile::tail(&path, n))
            .await
            .map_err(|e| ProfileError::Internal(e.to_string()))?
            .map_err(|e| ProfileError::Internal(e.to_string()))
    }

    /// Replaces the proxy settings of `alias` and applies them.
    pub async fn set_proxy(
        &self,
        alias: &str,
        settings: ProxySettings,
    ) -> Result<ProxyStatus, ProfileError> {
        let row = self.row(alias).await?;
        let old = proxy_settings(&row);
        if !settings.enabled
            && let Ok((agent, provider)) = resolve(&row, &self.r.catalogue.get())
            && translates(agent, provider)
        {
            return Err(needs_proxy(agent, provider));
        }
        validate_proxy(&self.r.catalogue.get(), &settings, auth_method(&row))?;
        self.check_fallbacks(alias, &settings).await?;
        self.check_routing(alias, &settings).await?;
        let text =
            serde_json::to_string(&settings).map_err(|e| ProfileError::Internal(e.to_string()))?;
        let a = alias.to_string();
        if !self
            .r
            .store
            .call(move |c| db::set_proxy(c, &a, &text))
            .await?
        {
            return Err(ProfileError::NotFound(alias.to_string()));
        }
        let active = self.r.proxies.is_active(alias);
        let status = if !settings.enabled {
            self.r.proxies.stop(alias).await
        } else if !active {
            self.r.proxies.start(alias).await?
        } else {
            if settings != old {
                self.r.proxies.restart(alias).await;
                self.r
                    .proxies
                    .wait_while(alias, &[State::Starting], self.startup_limit())
                    .await;
            }
            self.proxy_status(alias)
        };
        tracing::info!(
            "proxy settings of '{alias}' changed (enabled: {})",
            settings.enabled
        );
        Ok(status)
    }

    fn startup_limit(&self) -> Duration {
        Duration::from_millis(self.r.config.get().proxy.startup_timeout_ms)
    }

    /// Fallbacks must be usable by the profile's agent (its own API, or translated) and
    /// borrow keys only from real profiles.
    async fn check_fallbacks(
        &self,
        alias: &str,
        settings: &ProxySettings,
    ) -> Result<(), ProfileError> {
        let cat = self.r.catalogue.get();
        let row = self.row(alias).await?;
        let agent = cat.agent(&row.agent_id);
        for (i, f) in settings.fallbacks.iter().enumerate() {
            if let (Some(agent), Some(theirs)) = (agent, cat.provider(&f.provider_id))
                && !reachable(agent, theirs)
            {
                return Err(ProfileError::Invalid(format!(
                    "proxy.fallbacks[{i}]: provider '{}' does not speak the {} API of profile '{alias}'",
                    f.provider_id, agent.protocol
                )));
            }
            if let Some(other) = &f.key_profile {
                match self.row(other).await {
                    Ok(_) => {}
                    Err(ProfileError::NotFound(_)) => {
                        return Err(ProfileError::Invalid(format!(
                            "proxy.fallbacks[{i}].key_profile: profile '{other}' not found"
                        )));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// For a launch: the proxy's URL when `alias` goes through its proxy (enabled, or
    /// running), starting it if needed.
    pub(super) async fn proxy_url(
        &self,
        alias: &str,
        settings: &ProxySettings,
    ) -> Result<Option<String>, ProfileError> {
        let mut status = self.proxy_status(alias);
        if !settings.enabled && status.status != State::Running {
            return Ok(None);
        }
        if !status.status.is_active() {
            status = match self.r.proxies.start(alias).await {
                Ok(s) => s,
                Err(SupervisorError::AlreadyActive { .. }) => self.proxy_status(alias),
                Err(e) => return Err(e.into()),
            };
        }
        if status.status != State::Running {
            self.r
                .proxies
                .wait_while(
                    alias,
                    &[State::Starting, State::Backoff],
                    self.startup_limit(),
                )
                .await;
            status = self.proxy_status(alias);
        }
        match (status.status, status.url) {
            (State::Running, Some(url)) => Ok(Some(url)),
            (s, _) => Err(ProfileError::Conflict(format!(
                "The proxy of profile '{alias}' is {} ({}); see 'clown proxy logs {alias}'",
                format!("{s:?}").to_lowercase(),
                status.last_error.as_deref().unwrap_or("no error recorded")
            ))),
        }
    }

    /// Starts the proxy of a new profile without holding up the response.
    pub(super) fn start_proxy_in_background(&self, alias: &str) {
        let (proxies, alias) = (self.r.proxies.clone(), alias.to_string());
        tokio::spawn(async move {
            if let Err(e) = proxies.start(&alias).await {
                tracing::warn!("proxy for '{alias}' not started: {e}");
            }
        });
    }

    /// Starts the proxies of every profile that has the proxy enabled.
    pub async fn restore_proxies(&self) {
        let rows = match self.list(None).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!("cannot list profiles to restore their proxies: {e}");
                return;
            }
        };
        for row in rows.iter().filter(|r| proxy_settings(r).enabled) {
            match self.r.proxies.start(&row.alias).await {
                Ok(s) => tracing::info!(
                    "proxy for '{}' {:?} on port {}",
                    row.alias,
                    s.status,
                    s.port.map(|p| p.to_string()).unwrap_or_else(|| "-".into())
                ),
                Err(e) => tracing::warn!("proxy for '{}' not restored: {e}", row.alias),
            }
        }
    }
}
