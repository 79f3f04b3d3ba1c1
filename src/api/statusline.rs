//! `POST /api/statusline`: an agent's status-line input in, the line (and its figures)
//! out. A status-line token names its profile (and may name no other); the daemon's
//! token may name one with `?profile=`, else the line is `@claude`'s (Claude Code run
//! outside any profile).

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::error::{ApiError, ApiResult, ok};
use super::extract::{ApiJson, ApiQuery};
use crate::app::AppState;
use crate::auth::Caller;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatuslineQuery {
    #[serde(default)]
    profile: Option<String>,
}

pub async fn post(
    State(state): State<AppState>,
    Extension(who): Extension<Caller>,
    ApiQuery(q): ApiQuery<StatuslineQuery>,
    ApiJson(input): ApiJson<Value>,
) -> ApiResult {
    let profile = match (&who, q.profile) {
        (Caller::Statusline { profile }, None) => profile.clone(),
        (Caller::Statusline { profile }, Some(p)) if &p == profile => p,
        (Caller::Statusline { profile }, Some(_)) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("This token answers for profile '{profile}' only"),
            ));
        }
        (_, Some(p)) => p,
        (_, None) => "@claude".to_string(),
    };
    if !input.is_object() {
        return Err(ApiError::bad_request(
            "The body must be the agent's status-line JSON object",
        ));
    }
    Ok(ok(state.meter().statusline(&profile, &input).await?))
}
