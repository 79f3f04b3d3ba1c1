//! `/api/proxy/*` and `PUT /api/profiles/{alias}/proxy`: the per-profile proxies'
//! status, start and stop, log, and settings; and what a launch through a proxy needs.

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult, ok};
use super::extract::{ApiJson, ApiQuery};
use crate::app::AppState;
use crate::profiles::{self, ProfileError, ProxySettings};
use crate::proxy::{ProxyStatus, State as ProxyState, SupervisorError};
use crate::store::profiles as db;

impl From<SupervisorError> for ApiError {
    fn from(e: SupervisorError) -> Self {
        match e {
            SupervisorError::AlreadyActive { .. } => ApiError::conflict(e.to_string()),
            SupervisorError::ShuttingDown => ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "The daemon is shutting down",
            ),
        }
    }
}

/// A status with the profile's `enabled` setting beside it.
fn view(status: &ProxyStatus, settings: &ProxySettings) -> Value {
    let mut v = json!(status);
    v["enabled"] = json!(settings.enabled);
    if status.port.is_none() {
        v["port"] = json!(settings.port);
    }
    v
}

async fn settings_of(state: &AppState, alias: &str) -> Result<ProxySettings, ApiError> {
    let a = alias.to_string();
    let row = state.store().call(move |c| db::get(c, &a)).await?;
    row.map(|r| profiles::proxy_settings(&r))
        .ok_or_else(|| ProfileError::NotFound(alias.to_string()).into())
}

fn current(state: &AppState, alias: &str) -> ProxyStatus {
    state
        .proxies()
        .status(alias)
        .unwrap_or_else(|| ProxyStatus::stopped(alias))
}

/// Every profile with the proxy enabled, and every proxy that has run.
pub async fn list(State(state): State<AppState>) -> ApiResult {
    let rows = state.store().call(|c| db::list(c, None)).await?;
    let out: Vec<Value> = rows
        .iter()
        .filter_map(|row| {
            let settings = profiles::proxy_settings(row);
            let status = state.proxies().status(&row.alias);
            (settings.enabled || status.is_some()).then(|| {
                view(
                    &status.unwrap_or_else(|| ProxyStatus::stopped(&row.alias)),
                    &settings,
                )
            })
        })
        .collect();
    Ok(ok(out))
}

pub async fn get(State(state): State<AppState>, Path(alias): Path<String>) -> ApiResult {
    let settings = settings_of(&state, &alias).await?;
    Ok(ok(view(&current(&state, &alias), &settings)))
}

pub async fn start(State(state): State<AppState>, Path(alias): Path<String>) -> ApiResult {
    let settings = settings_of(&state, &alias).await?;
    let status = state.proxies().start(&state, &alias).await?;
    Ok(ok(view(&status, &settings)))
}

pub async fn stop(State(state): State<AppState>, Path(alias): Path<String>) -> ApiResult {
    let settings = settings_of(&state, &alias).await?;
    let status = state.proxies().stop(&alias).await;
    Ok(ok(view(&status, &settings)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsQuery {
    #[serde(default = "default_lines")]
    lines: usize,
}

fn default_lines() -> usize {
    100
}

pub async fn logs(
    State(state): State<AppState>,
    Path(alias): Path<String>,
    ApiQuery(q): ApiQuery<LogsQuery>,
) -> ApiResult {
    settings_of(&state, &alias).await?;
    let path = crate::proxy::logfile::path(&state.paths().state_dir, &alias);
    let n = q.lines.clamp(1, 10_000);
    let lines = tokio::task::spawn_blocking(move || crate::proxy::logfile::tail(&path, n))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(ok(lines))
}

/// Replaces the proxy settings of a profile and applies them: a proxy now enabled is
/// started, one now disabled is stopped, an active one is restarted with the new settings.
pub async fn set(
    State(state): State<AppState>,
    Path(alias): Path<String>,
    ApiJson(settings): ApiJson<ProxySettings>,
) -> ApiResult {
    let old = settings_of(&state, &alias).await?;
    profiles::validate_proxy(&state.catalogue(), &settings)?;
    check_fallbacks(&state, &alias, &settings).await?;
    let text = serde_json::to_string(&settings).map_err(ApiError::internal)?;
    let a = alias.clone();
    if !state
        .store()
        .call(move |c| db::set_proxy(c, &a, &text))
        .await?
    {
        return Err(ProfileError::NotFound(alias).into());
    }
    let active = state.proxies().is_active(&alias);
    let status = if !settings.enabled {
        state.proxies().stop(&alias).await
    } else if !active {
        state.proxies().start(&state, &alias).await?
    } else {
        if settings != old {
            state.proxies().restart(&alias).await;
            let limit = std::time::Duration::from_millis(state.config().proxy.startup_timeout_ms);
            wait_settled(&state, &alias, &[ProxyState::Starting], limit).await;
        }
        current(&state, &alias)
    };
    tracing::info!(
        "proxy settings of '{alias}' changed (enabled: {})",
        settings.enabled
    );
    let mut out = view(&status, &settings);
    out["settings"] = json!(settings);
    Ok(ok(out))
}

/// Waits (bounded) while the proxy is in one of the `passing` states.
async fn wait_settled(
    state: &AppState,
    alias: &str,
    passing: &[ProxyState],
    limit: std::time::Duration,
) {
    state.proxies().wait_while(alias, passing, limit).await;
}

/// Fallbacks must speak the profile's protocol and borrow keys only from real profiles.
async fn check_fallbacks(
    state: &AppState,
    alias: &str,
    settings: &ProxySettings,
) -> Result<(), ApiError> {
    let cat = state.catalogue();
    let a = alias.to_string();
    let row = state
        .store()
        .call(move |c| db::get(c, &a))
        .await?
        .ok_or_else(|| ProfileError::NotFound(alias.to_string()))?;
    let protocol = cat.provider(&row.provider_id).map(|p| p.protocol());
    for (i, f) in settings.fallbacks.iter().enumerate() {
        let theirs = cat.provider(&f.provider_id).map(|p| p.protocol());
        if protocol.is_some() && theirs != protocol {
            return Err(ApiError::bad_request(format!(
                "proxy.fallbacks[{i}]: provider '{}' does not speak the {} API of profile '{alias}'",
                f.provider_id,
                protocol.unwrap_or_default()
            )));
        }
        if let Some(other) = f.key_profile.clone() {
            let exists = state
                .store()
                .call(move |c| Ok(db::get(c, &other)?.is_some()))
                .await?;
            if !exists {
                return Err(ApiError::bad_request(format!(
                    "proxy.fallbacks[{i}].key_profile: profile '{}' not found",
                    f.key_profile.as_deref().unwrap_or_default()
                )));
            }
        }
    }
    Ok(())
}

/// For a launch: the proxy's URL when `alias` goes through its proxy (enabled, or
/// running), starting it if needed. An enabled proxy that cannot run is an error: the
/// launch never falls back to handing out the real key.
pub async fn launch_url(
    state: &AppState,
    alias: &str,
    settings: &ProxySettings,
) -> Result<Option<String>, ApiError> {
    let mut status = current(state, alias);
    if !settings.enabled && status.status != ProxyState::Running {
        return Ok(None);
    }
    if !status.status.is_active() {
        status = match state.proxies().start(state, alias).await {
            Ok(s) => s,
            Err(SupervisorError::AlreadyActive { .. }) => current(state, alias),
            Err(e) => return Err(e.into()),
        };
    }
    if status.status != ProxyState::Running {
        let limit = std::time::Duration::from_millis(state.config().proxy.startup_timeout_ms);
        wait_settled(
            state,
            alias,
            &[ProxyState::Starting, ProxyState::Backoff],
            limit,
        )
        .await;
        status = current(state, alias);
    }
    match (status.status, status.url) {
        (ProxyState::Running, Some(url)) => Ok(Some(url)),
        (s, _) => Err(ApiError::conflict(format!(
            "The proxy of profile '{alias}' is {} ({}); see 'clown proxy logs {alias}'",
            format!("{s:?}").to_lowercase(),
            status.last_error.as_deref().unwrap_or("no error recorded")
        ))),
    }
}

/// The base URL an agent is given for the proxy at `url`: OpenAI-style agents append
/// their paths to a versioned base, so theirs ends in `/v1`.
pub fn agent_base_url(url: &str, provider: &crate::registry::Provider) -> String {
    if provider.protocol() == "openai" {
        format!("{url}/v1")
    } else {
        url.to_string()
    }
}

/// Starts the proxy of a new profile without holding up the response.
pub fn start_in_background(state: &AppState, alias: &str) {
    let (state, alias) = (state.clone(), alias.to_string());
    tokio::spawn(async move {
        if let Err(e) = state.proxies().start(&state, &alias).await {
            tracing::warn!("proxy for '{alias}' not started: {e}");
        }
    });
}
