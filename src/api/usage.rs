//! `/api/usage`: recording usage from clown's own processes (the proxy child,
//! `clown profiles run`, terminal sessions).

use axum::extract::State;
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ApiResult, ok};
use super::extract::ApiJson;
use crate::app::AppState;
use crate::store::profiles as profiles_db;
use crate::store::usage::{self, UsageEvent, UsageSession};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordRequest {
    #[serde(default)]
    pub events: Vec<UsageEvent>,
    #[serde(default)]
    pub sessions: Vec<UsageSession>,
}

const MAX_BATCH: usize = 10_000;

pub async fn record(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RecordRequest>,
) -> ApiResult {
    if req.events.len() + req.sessions.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_BATCH} events and sessions per request"
        )));
    }
    for (i, e) in req.events.iter().enumerate() {
        if e.profile.is_empty() || e.model.is_empty() || e.source.is_empty() {
            return Err(ApiError::bad_request(format!(
                "events[{i}]: profile, model and source must not be empty"
            )));
        }
    }
    for (i, s) in req.sessions.iter().enumerate() {
        if s.profile.is_empty() || s.source.is_empty() {
            return Err(ApiError::bad_request(format!(
                "sessions[{i}]: profile and source must not be empty"
            )));
        }
        if s.ended_at.is_some_and(|end| end < s.started_at) {
            return Err(ApiError::bad_request(format!(
                "sessions[{i}]: ended_at is before started_at"
            )));
        }
    }
    let now = jiff::Timestamp::now().as_second();
    let events = req.events.clone();
    let sessions = req.sessions.clone();
    let (added_events, added_sessions) = state
        .store()
        .call(move |c| {
            let counts = usage::record(c, &events, &sessions, now)?;
            for s in &sessions {
                let when = jiff::Timestamp::from_second(s.ended_at.unwrap_or(s.started_at))
                    .map(crate::time::rfc3339)
                    .unwrap_or_else(|_| crate::time::now_rfc3339());
                profiles_db::touch(c, &s.profile, &when)?;
            }
            Ok(counts)
        })
        .await?;
    if added_events + added_sessions > 0 {
        state.events().publish(
            "usage_recorded",
            json!({"events": added_events, "sessions": added_sessions}),
        );
    }
    Ok(ok(
        json!({"events_added": added_events, "sessions_added": added_sessions}),
    ))
}
