//! `/api/daemon/*`: the daemon's own status and log tail.

use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::error::{ApiResult, ok};
use super::extract::ApiQuery;
use crate::app::Activation;
use crate::app::AppState;

#[derive(Debug, Serialize)]
pub struct DaemonStatus {
    pub status: &'static str,
    pub pid: u32,
    pub uptime_secs: u64,
    pub version: &'static str,
    pub profiles_count: usize,
    pub active_proxies: usize,
    pub activation: Activation,
    pub listen: Vec<String>,
}

pub async fn status(State(state): State<AppState>) -> ApiResult {
    Ok(ok(DaemonStatus {
        status: "running",
        pid: std::process::id(),
        uptime_secs: state.uptime_secs(),
        version: env!("CARGO_PKG_VERSION"),
        profiles_count: state.profiles().count(),
        active_proxies: state.active_proxies(),
        activation: state.activation(),
        listen: state.local_addrs().iter().map(|a| a.to_string()).collect(),
    }))
}

#[derive(Debug, Deserialize)]
pub struct LogsQuery {
    #[serde(default = "default_lines")]
    lines: usize,
}

fn default_lines() -> usize {
    200
}

pub async fn logs(State(state): State<AppState>, ApiQuery(q): ApiQuery<LogsQuery>) -> ApiResult {
    Ok(ok(state.log_tail().lines(q.lines.min(1000))))
}

/// What the daemon sees of the setup, each check with its fix (`clown doctor`).
pub async fn doctor(State(state): State<AppState>) -> ApiResult {
    Ok(ok(state.profiles().doctor().await?))
}
