//! `/api/agents`: the catalogue's agents with what detection finds on this machine.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ApiResult, ok};
use crate::agents::install::InstallError;
use crate::app::AppState;
use crate::profiles::provider_protocols;
use crate::store::profiles as db;

async fn profile_counts(state: &AppState) -> Result<HashMap<String, usize>, ApiError> {
    Ok(state
        .store()
        .read(db::counts_by_agent)
        .await?
        .into_iter()
        .collect())
}

pub async fn list(State(state): State<AppState>) -> ApiResult {
    let catalogue = state.catalogue();
    let dirs = state.profiles().agent_search_dirs().await;
    let found = state.detector().detect_all(&catalogue.agents, &dirs).await;
    let counts = profile_counts(&state).await?;
    let items: Vec<_> = catalogue
        .agents
        .iter()
        .zip(found)
        .map(|(a, d)| {
            json!({
                "id": a.id,
                "name": a.name,
                "installed": d.installed,
                "version": d.version,
                "binary_path": d.binary_path,
                "profile_count": counts.get(&a.id).copied().unwrap_or(0),
                "protocol": a.protocol,
                "npm_package": a.npm_package,
                "installed_by_clown": state.agents_prefix().current(a),
                "has_login": crate::agents::login::spec(&a.id).is_some(),
                "provider_protocols": provider_protocols(a),
            })
        })
        .collect();
    Ok(ok(items))
}

pub async fn get(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let catalogue = state.catalogue();
    let a = catalogue.agent(&id).ok_or_else(|| {
        ApiError::not_found(format!(
            "Agent '{id}' not found; known agents: {}",
            catalogue.agent_ids().join(", ")
        ))
    })?;
    let d = state
        .detector()
        .detect(a, &state.profiles().agent_search_dirs().await)
        .await;
    let counts = profile_counts(&state).await?;
    Ok(ok(json!({
        "id": a.id,
        "name": a.name,
        "installed": d.installed,
        "version": d.version,
        "binary": a.binary,
        "binary_path": d.binary_path,
        "profile_strategy": a.profile_strategy,
        "supports_hooks": a.supports_hooks,
        "default_model": a.default_model,
        "supported_models": a.supported_models,
        "npm_package": a.npm_package,
        "protocol": a.protocol,
        "provider_protocols": provider_protocols(a),
        "profile_count": counts.get(&a.id).copied().unwrap_or(0),
        "installed_by_clown": state.agents_prefix().current(a),
        "login": crate::agents::login::spec(&a.id).map(|l| l.how),
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallRequest {
    #[serde(default)]
    version: Option<String>,
}

/// Installs (or updates) an agent from the npm registry into clown's prefix; answers
/// when done. npm's output goes out as `agent_install_progress` events meanwhile.
pub async fn install(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult {
    let req: InstallRequest = if body.iter().all(u8::is_ascii_whitespace) {
        InstallRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("Invalid request body: {e}")))?
    };
    let catalogue = state.catalogue();
    let agent = catalogue
        .agent(&id)
        .ok_or_else(|| ApiError::not_found(format!("Agent '{id}' not found")))?;
    let result = state
        .installer()
        .run(
            state.agents_prefix(),
            agent,
            req.version.as_deref(),
            state.env(),
            state.events(),
        )
        .await
        .ok_or_else(|| ApiError::conflict(format!("An install of '{id}' is running already")))?;
    state.detector().forget(&id);
    match result {
        Ok(done) => {
            tracing::info!(
                "installed {} {} for agent '{id}'",
                done.package,
                done.version
            );
            Ok(ok(done))
        }
        Err(e @ InstallError::NoNpm) => Err(ApiError::conflict(e.to_string())),
        Err(e @ InstallError::Invalid(_)) => Err(ApiError::bad_request(e.to_string())),
        Err(e @ InstallError::Npm { .. }) => {
            tracing::warn!("{e}");
            Err(ApiError::new(StatusCode::BAD_GATEWAY, e.to_string()))
        }
        Err(e @ InstallError::Io(_)) => Err(ApiError::internal(e)),
    }
}
