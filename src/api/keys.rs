//! `/api/profiles/{alias}/keys`: a profile's key pool — its further keys and subscription
//! tokens, each maybe on its own provider, endpoint, base URL and model. Responses show
//! a key's last four characters, never the key.

use axum::extract::{Path, State};
use serde_json::json;

use super::error::{ApiResult, ok};
use super::extract::ApiJson;
use crate::app::AppState;
use crate::profiles::keys::NewKey;

pub async fn list(State(state): State<AppState>, Path(alias): Path<String>) -> ApiResult {
    Ok(ok(state.profiles().keys(&alias).await?))
}

pub async fn add(
    State(state): State<AppState>,
    Path(alias): Path<String>,
    ApiJson(key): ApiJson<NewKey>,
) -> ApiResult {
    Ok(ok(state.profiles().add_key(&alias, key).await?))
}

pub async fn remove(
    State(state): State<AppState>,
    Path((alias, label)): Path<(String, String)>,
) -> ApiResult {
    state.profiles().remove_key(&alias, &label).await?;
    Ok(ok(json!({"message": "Key removed", "label": label})))
}
