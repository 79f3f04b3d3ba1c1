//! `/api/bindings`: directories bound to a profile (`clown bind`), listed, made,
//! removed, and resolved from a working directory by walking up.

use std::path::PathBuf;

use axum::extract::State;
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ApiResult, ok};
use super::extract::{ApiJson, ApiQuery};
use crate::app::AppState;

pub async fn list(State(state): State<AppState>) -> ApiResult {
    Ok(ok(state.profiles().bindings().await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindRequest {
    dir: String,
    profile: String,
}

pub async fn bind(State(state): State<AppState>, ApiJson(req): ApiJson<BindRequest>) -> ApiResult {
    let dir = PathBuf::from(&req.dir);
    state.profiles().bind(&dir, &req.profile).await?;
    Ok(ok(json!({"dir": dir, "profile": req.profile})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirQuery {
    dir: Option<String>,
}

fn dir_of(q: DirQuery) -> Result<PathBuf, ApiError> {
    q.dir
        .map(PathBuf::from)
        .ok_or_else(|| ApiError::bad_request("dir is required"))
}

pub async fn unbind(State(state): State<AppState>, ApiQuery(q): ApiQuery<DirQuery>) -> ApiResult {
    let dir = dir_of(q)?;
    if !state.profiles().unbind(&dir).await? {
        return Err(ApiError::not_found(format!(
            "No binding in {}",
            dir.display()
        )));
    }
    Ok(ok(json!({"dir": dir, "message": "Binding removed"})))
}

pub async fn resolve(State(state): State<AppState>, ApiQuery(q): ApiQuery<DirQuery>) -> ApiResult {
    let dir = dir_of(q)?;
    let (found, profile) = state.profiles().resolve_binding(&dir).await?;
    Ok(ok(json!({"dir": found, "profile": profile})))
}
