//! `/api/usage`: the usage report, the Claude Code import, and recording usage from
//! clown's own processes (the proxy child, `clown profiles run`, terminal sessions).

use std::path::PathBuf;

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ApiResult, ok};
use super::extract::{ApiJson, ApiQuery};
use crate::app::AppState;
use crate::auth::Caller;
use crate::pty::attention::ProxyView;
use crate::records::RequestStatus;
use crate::store::profiles as profiles_db;
use crate::store::usage::{self, UsageEvent, UsageSession};
use crate::usage::claude::{self, ImportSource, Progress};
use crate::usage::period::{self, Period};
use crate::usage::query::{self, Filters};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordRequest {
    #[serde(default)]
    pub events: Vec<UsageEvent>,
    #[serde(default)]
    pub sessions: Vec<UsageSession>,
    /// How requests ended, as a proxy saw them (for the sessions' attention states).
    #[serde(default)]
    pub statuses: Vec<RequestStatus>,
}

/// Events and sessions per request; about what fits the 1 MiB body limit.
const MAX_BATCH: usize = 4_000;

pub async fn record(
    State(state): State<AppState>,
    Extension(who): Extension<Caller>,
    ApiJson(req): ApiJson<RecordRequest>,
) -> ApiResult {
    if let Caller::Proxy { profile } = &who {
        proxy_scope(&req, profile)?;
    }
    if req.events.len() + req.sessions.len() + req.statuses.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_BATCH} events and sessions per request"
        )));
    }
    for (i, e) in req.events.iter().enumerate() {
        e.validate()
            .map_err(|m| ApiError::bad_request(format!("events[{i}]: {m}")))?;
    }
    for (i, s) in req.sessions.iter().enumerate() {
        s.validate()
            .map_err(|m| ApiError::bad_request(format!("sessions[{i}]: {m}")))?;
    }
    for (i, s) in req.statuses.iter().enumerate() {
        s.validate()
            .map_err(|m| ApiError::bad_request(format!("statuses[{i}]: {m}")))?;
    }
    apply_statuses(&state, &req.statuses);
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

/// The proxy's view of its profile's requests, for the profile's running sessions.
fn apply_statuses(state: &AppState, statuses: &[RequestStatus]) {
    for st in statuses {
        let view = match st.outcome.as_str() {
            "rate_limited" => ProxyView::RateLimited,
            "failed" => ProxyView::Failed,
            _ => ProxyView::Ok,
        };
        for session in state.terminals().list() {
            if session.profile == st.profile && session.is_running() {
                session.proxy_view(view, st.message.clone());
            }
        }
    }
}

/// A proxy's usage token records what a proxy records — events of its own profile, with
/// source `proxy` — and nothing else; a batch with anything more is refused whole (403).
fn proxy_scope(req: &RecordRequest, profile: &str) -> Result<(), ApiError> {
    let refuse = |m: String| Err(ApiError::new(StatusCode::FORBIDDEN, m));
    if !req.sessions.is_empty() {
        return refuse("A proxy's token records events, not sessions".into());
    }
    if let Some(i) = req.statuses.iter().position(|s| s.profile != profile) {
        return refuse(format!(
            "statuses[{i}]: a proxy's token reports only requests of profile '{profile}'"
        ));
    }
    match req
        .events
        .iter()
        .position(|e| e.profile != profile || e.source != "proxy")
    {
        Some(i) => refuse(format!(
            "events[{i}]: a proxy's token records only events of profile '{profile}' with source 'proxy'"
        )),
        None => Ok(()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    #[serde(default)]
    period: Option<String>,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    model: Option<String>,
}

pub async fn get(State(state): State<AppState>, ApiQuery(q): ApiQuery<UsageQuery>) -> ApiResult {
    let period_id = q.period.unwrap_or_else(|| "today".to_string());
    let period = Period::parse(&period_id).ok_or_else(|| {
        ApiError::bad_request(format!(
            "Invalid period '{period_id}': use one of {}",
            period::NAMES
        ))
    })?;
    let catalogue = state.catalogue();
    let now = jiff::Zoned::now();
    let report = state
        .store()
        .read(move |c| {
            let filters = Filters {
                profile: q.profile.as_deref(),
                model: q.model.as_deref(),
            };
            query::report(c, &catalogue, period, &period_id, &now, &filters)
        })
        .await?;
    Ok(ok(report))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    #[serde(default)]
    claude_dir: Option<String>,
}

/// Where Claude data lives: an explicit directory, or every default location and each
/// claude profile's home.
async fn import_sources(
    state: &AppState,
    claude_dir: Option<&str>,
) -> Result<Vec<ImportSource>, ApiError> {
    let profiles = state
        .store()
        .read(|c| profiles_db::list(c, Some("claude")))
        .await?;
    let homes: Vec<(String, PathBuf)> = profiles
        .into_iter()
        .map(|p| (p.alias, PathBuf::from(p.profile_home)))
        .collect();
    claude::sources(
        &homes,
        &state.paths().home,
        state.env().get("CLAUDE_CONFIG_DIR").map(String::as_str),
        claude_dir,
    )
    .map_err(ApiError::bad_request)
}

pub async fn import_claude(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ImportQuery>,
) -> ApiResult {
    let sources = import_sources(&state, q.claude_dir.as_deref()).await?;
    let _running = state.import_lock().lock().await;
    let events = state.events().clone();
    events.publish("usage_import_started", json!({"sources": sources.iter().map(|s| json!({"dir": s.dir, "profile": s.profile})).collect::<Vec<_>>()}));
    let tz = jiff::tz::TimeZone::system();
    let bus = events.clone();
    let store = state.store().clone();
    let summary = tokio::task::spawn_blocking(move || {
        let last = std::sync::Mutex::new(std::time::Instant::now());
        let progress = move |p: Progress| {
            let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
            if p.files_done == p.files_total
                || last.elapsed() >= std::time::Duration::from_millis(100)
            {
                *last = std::time::Instant::now();
                bus.publish(
                    "usage_import_progress",
                    json!({"files_done": p.files_done, "files_total": p.files_total,
                               "bytes_done": p.bytes_done, "bytes_total": p.bytes_total}),
                );
            }
        };
        claude::run(&store, &sources, &tz, &progress)
    })
    .await
    .map_err(ApiError::internal)??;
    let line = summary.line();
    tracing::info!("{line}");
    events.publish("usage_import_finished", json!({"summary": line}));
    if summary.events_added + summary.events_replaced > 0 || summary.stats_days > 0 {
        events.publish("usage_recorded", json!({"source": "claude-import"}));
    }
    Ok(ok(line))
}
