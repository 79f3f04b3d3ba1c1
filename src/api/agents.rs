//! `/api/agents`: the catalogue's agents with what detection finds on this machine.

use std::collections::HashMap;

use axum::extract::{Path, State};
use serde_json::json;

use super::error::{ApiError, ApiResult, ok};
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
    let dirs = state.profiles().agent_search_dirs();
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
                "provider_protocols": provider_protocols(a),
            })
        })
        .collect();
    Ok(ok(items))
}

pub async fn get(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let catalogue = state.catalogue();
    let a = catalogue
        .agent(&id)
        .ok_or_else(|| ApiError::not_found(format!("Agent '{id}' not found")))?;
    let d = state
        .detector()
        .detect(a, &state.profiles().agent_search_dirs())
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
    })))
}
