//! `/api/providers`: the catalogue's providers, endpoints, models and prices.

use axum::extract::{Path, State};
use serde_json::json;

use super::error::{ApiError, ApiResult, ok};
use crate::app::AppState;

pub async fn list(State(state): State<AppState>) -> ApiResult {
    let catalogue = state.catalogue();
    let items: Vec<_> = catalogue
        .providers
        .iter()
        .map(|p| {
            json!({
                "id": p.id,
                "name": p.name,
                "type": p.kind,
                "default_model": p.default_model,
                "default_endpoint": p.default_endpoint,
                "endpoints": p.endpoints,
                "models": p.models,
                "any_model": p.any_model,
                "requires_key": p.requires_key,
            })
        })
        .collect();
    Ok(ok(items))
}

pub async fn get(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let catalogue = state.catalogue();
    let p = catalogue.provider(&id).ok_or_else(|| {
        ApiError::not_found(format!(
            "Provider '{id}' not found; known providers: {}",
            catalogue.provider_ids().join(", ")
        ))
    })?;
    let prices: serde_json::Map<String, serde_json::Value> = p
        .models
        .iter()
        .filter_map(|m| catalogue.price(m).map(|price| (m.clone(), json!(price))))
        .collect();
    Ok(ok(json!({
        "id": p.id,
        "name": p.name,
        "type": p.kind,
        "endpoints": p.endpoints,
        "default_endpoint": p.default_endpoint,
        "models": p.models,
        "default_model": p.default_model,
        "any_model": p.any_model,
        "key_env": p.key_env,
        "auth_scheme": p.auth_scheme,
        "requires_key": p.requires_key,
        "prices_per_million_tokens": prices,
    })))
}
