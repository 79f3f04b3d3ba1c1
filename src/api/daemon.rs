//! `/api/daemon/*`: the daemon's own status and log tail.

use axum::extract::State;
use serde::{Deserialize, Serialize};

use axum::http::StatusCode;
use serde_json::json;

use super::error::{ApiError, ApiResult, ok};
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

/// Exits keeping the terminal sessions: each one's holder waits for the next daemon (the
/// CLI's `clown daemon restart` then starts it). Under systemd the service manager does the
/// restart (`systemctl --user restart clown`), which keeps them through its descriptor
/// store; a daemon that merely exited there would have its sessions stopped with it.
pub async fn restart(State(state): State<AppState>) -> ApiResult {
    if state.activation() == Activation::Systemd {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "This daemon runs under systemd: restart it with 'systemctl --user restart clown' (its sessions are kept); 'clown daemon restart' does that",
        ));
    }
    let kept = state.terminals().running();
    tracing::info!("restart asked for; keeping {kept} terminal session(s)");
    state.request_restart();
    Ok(ok(
        json!({"restarting": true, "sessions_kept": kept, "pid": std::process::id()}),
    ))
}
