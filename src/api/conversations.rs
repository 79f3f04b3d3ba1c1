//! `/api/conversations`: the agents' own conversations in every profile home, searchable,
//! and resuming one in a new terminal session (the profile's use cases,
//! `Profiles::conversations` and `Profiles::resume_conversation`).

use std::path::PathBuf;

use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult, ok};
use super::extract::{ApiJson, ApiQuery, terminal_size};
use crate::app::AppState;
use crate::profiles::ResumeConversation;

/// The most conversations one answer lists.
const MAX_LIMIT: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    profile: Option<String>,
    q: Option<String>,
    limit: Option<usize>,
}

pub async fn list(State(state): State<AppState>, ApiQuery(q): ApiQuery<ListQuery>) -> ApiResult {
    let limit = q.limit.unwrap_or(200);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_request(format!(
            "limit must be from 1 to {MAX_LIMIT}"
        )));
    }
    let query = q.q.filter(|s| !s.trim().is_empty());
    if query.as_ref().is_some_and(|s| s.len() > 1000) {
        return Err(ApiError::bad_request("q is longer than 1000 bytes"));
    }
    Ok(ok(state
        .profiles()
        .conversations(q.profile, query, limit)
        .await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResumeBody {
    profile_alias: String,
    conversation_id: String,
    #[serde(default)]
    target_profile: Option<String>,
    #[serde(default)]
    working_dir: Option<String>,
    #[serde(default)]
    cols: Option<Value>,
    #[serde(default)]
    rows: Option<Value>,
}

pub async fn resume(State(state): State<AppState>, ApiJson(b): ApiJson<ResumeBody>) -> ApiResult {
    let (cols, rows) = terminal_size(b.cols.as_ref(), b.rows.as_ref())?;
    let working_dir = match b.working_dir {
        None => None,
        Some(d) => {
            let p = PathBuf::from(&d);
            if !p.is_absolute() || !p.is_dir() {
                return Err(ApiError::bad_request(format!(
                    "working_dir '{d}' is not an existing directory (an absolute path is needed)"
                )));
            }
            Some(p)
        }
    };
    if b.conversation_id.is_empty() || b.conversation_id.len() > 200 {
        return Err(ApiError::bad_request(
            "conversation_id must be 1 to 200 characters",
        ));
    }
    let session = state
        .profiles()
        .resume_conversation(ResumeConversation {
            profile_alias: b.profile_alias,
            conversation_id: b.conversation_id,
            target_profile: b.target_profile,
            working_dir,
            cols,
            rows,
        })
        .await?;
    Ok(ok(json!({
        "session_id": session.id.to_string(),
        "ws_url": format!("/ws/terminal/{}", session.id),
    })))
}
