//! `/api/proxy/*` and `PUT /api/profiles/{alias}/proxy`: the per-profile proxies'
//! status (with the key pool's state), start and stop, log, settings, and the request
//! inspector's recent requests.

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiResult, ok};
use super::extract::{ApiJson, ApiQuery};
use crate::app::AppState;
use crate::profiles::ProxySettings;
use crate::supervisor::ProxyStatus;

/// A status with the profile's `enabled` setting beside it, and the key pool's state as
/// its proxy last reported it (null for a single key, or before its first request).
fn view(state: &AppState, (status, settings): &(ProxyStatus, ProxySettings)) -> Value {
    let mut v = json!(status);
    v["enabled"] = json!(settings.enabled);
    if status.port.is_none() {
        v["port"] = json!(settings.port);
    }
    v["pool"] = state
        .inspector()
        .pool(&status.profile)
        .unwrap_or(Value::Null);
    v
}

/// Every profile with the proxy enabled, and every proxy that has run.
pub async fn list(State(state): State<AppState>) -> ApiResult {
    let all = state.profiles().proxies().await?;
    Ok(ok(all.iter().map(|s| view(&state, s)).collect::<Vec<_>>()))
}

pub async fn get(State(state): State<AppState>, Path(alias): Path<String>) -> ApiResult {
    Ok(ok(view(&state, &state.profiles().proxy(&alias).await?)))
}

pub async fn start(State(state): State<AppState>, Path(alias): Path<String>) -> ApiResult {
    Ok(ok(view(
        &state,
        &state.profiles().start_proxy(&alias).await?,
    )))
}

pub async fn stop(State(state): State<AppState>, Path(alias): Path<String>) -> ApiResult {
    Ok(ok(view(
        &state,
        &state.profiles().stop_proxy(&alias).await?,
    )))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestsQuery {
    #[serde(default = "default_limit")]
    limit: usize,
    #[serde(default)]
    after: u64,
    #[serde(default)]
    bodies: bool,
}

fn default_limit() -> usize {
    100
}

/// The inspector's last requests of a profile's proxy, oldest first: the routing
/// decision, the key (hint only), target, model, status, timings, tokens, the redacted
/// error; the captured bodies with `bodies=true`.
pub async fn requests(
    State(state): State<AppState>,
    Path(alias): Path<String>,
    ApiQuery(q): ApiQuery<RequestsQuery>,
) -> ApiResult {
    let (_, settings) = state.profiles().proxy(&alias).await?;
    let limit = q.limit.clamp(1, crate::proxy::plan::MAX_KEEP);
    let mut list = state.inspector().requests(&alias, limit, q.after);
    if !q.bodies {
        list = list.iter().map(|r| r.summary()).collect();
    }
    Ok(ok(json!({
        "profile": alias,
        "keep": settings.inspector.keep,
        "capture_bodies": settings.inspector.capture_bodies,
        "requests": list,
    })))
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
    state.inspector().configure(&alias, settings.inspector.keep);
    let mut out = view(&state, &(status, settings.clone()));
    out["settings"] = json!(settings);
    Ok(ok(out))
}
