//! `/api/terminal/sessions/{id}/worktree`: a session's git worktree — what it changed, and
//! keeping, merging or removing it (`Profiles::worktree`, `Profiles::worktree_action`).

use axum::extract::{Path, State};
use serde::Deserialize;

use super::error::{ApiError, ApiResult, ok};
use super::extract::ApiJson;
use crate::app::AppState;
use crate::profiles::WorktreeAction;

pub async fn get(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    Ok(ok(state.profiles().worktree(&id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    action: String,
}

pub async fn act(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ActionBody>,
) -> ApiResult {
    let action = WorktreeAction::parse(&body.action).ok_or_else(|| {
        ApiError::bad_request(format!(
            "action '{}' must be keep, merge or remove",
            body.action
        ))
    })?;
    Ok(ok(state.profiles().worktree_action(&id, action).await?))
}
