//! `/api/proxy/*` and `PUT /api/profiles/{alias}/proxy`: the per-profile proxies'
//! status, start and stop, log, and settings.

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiResult, ok};
use super::extract::{ApiJson, ApiQuery};
use crate::app::AppState;
use crate::profiles::ProxySettings;
use crate::supervisor::ProxyStatus;

/// A status with the profile's `enabled` setting beside it.
fn view((status, settings): &(ProxyStatus, ProxySettings)) -> Value {
    let mut v = json!(status);
    v["enabled"] = json!(settings.enabled);
    if status.port.is_none() {
        v["port"] = json!(settings.port);
    }
    v
}

/// Every profile with the proxy enabled, and every proxy that has run.
pub async fn list(State(state): State<AppState>) -> ApiResult {
    let all = state.profiles().proxies().await?;
    Ok(ok(all.iter().map(view).collect::<Vec<_>>()))
}

pub async fn get(State(state): State<AppState>, Path(alias): Path<String>) -> ApiResult {
    Ok(ok(view(&state.profiles().proxy(&alias).await?)))
}

pub async fn start(State(state): State<AppState>, Path(alias): Path<String>) -> ApiResult {
    Ok(ok(view(&state.profiles().start_proxy(&alias).await?)))
}

pub async fn stop(State(state): State<AppState>, Path(alias): Path<String>) -> ApiResult {
    Ok(ok(view(&state.profiles().stop_proxy(&alias).await?)))
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
    let n = q.lines.clamp(1, 10_000);
    Ok(ok(state.profiles().proxy_log(&alias, n).await?))
}

/// Replaces the proxy settings of a profile and applies them: a proxy now enabled is
/// started, one now disabled is stopped, an active one is restarted with the new settings.
pub async fn set(
    State(state): State<AppState>,
    Path(alias): Path<String>,
    ApiJson(settings): ApiJson<ProxySettings>,
) -> ApiResult {
    let status = state.profiles().set_proxy(&alias, settings.clone()).await?;
    let mut out = view(&(status, settings.clone()));
    out["settings"] = json!(settings);
    Ok(ok(out))
}
