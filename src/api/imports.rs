//! `POST /api/usage/import-claude` (Claude Code's transcripts and stats) and
//! `POST /api/usage/import?agent=` (every agent's own logs): one import at a time (the
//! import lock, shared with the live watcher), progress on the event stream.

use std::path::PathBuf;

use axum::extract::State;
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ApiResult, ok};
use super::extract::ApiQuery;
use crate::app::AppState;
use crate::store::profiles as profiles_db;
use crate::usage::agents;
use crate::usage::claude::{self, ImportSource};
use crate::usage::import::Progress;
use crate::usage::logs;

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
    let mut sources = claude::sources(
        &homes,
        &state.paths().home,
        state.env().get("CLAUDE_CONFIG_DIR").map(String::as_str),
        claude_dir,
    )
    .map_err(ApiError::bad_request)?;
    let proxied = state.store().read(logs::proxied_profiles).await?;
    logs::mark_proxied(&mut sources, &proxied);
    Ok(sources)
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
    let stats_state = state.clone();
    state.import_stats().started();
    let summary = tokio::task::spawn_blocking(move || {
        let last = std::sync::Mutex::new(std::time::Instant::now());
        let progress = move |p: Progress| {
            stats_state.import_stats().progress(
                (p.files_done as u64, p.files_total as u64),
                (p.bytes_done, p.bytes_total),
            );
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
        claude::run(&store, &sources, &tz, None, &progress)
    })
    .await;
    let summary = finished(&state, summary, |s| {
        s.files.events_added + s.files.events_replaced
    })?;
    let line = summary.line();
    tracing::info!("{line}");
    events.publish("usage_import_finished", json!({"summary": line}));
    if summary.changed() {
        events.publish("usage_recorded", json!({"source": "claude-import"}));
    }
    Ok(ok(line))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentImportQuery {
    #[serde(default)]
    agent: Option<String>,
}

/// Imports the usage logs of one agent (`?agent=`) or of every agent: each profile's home
/// (the profile's usage) and the agent's default home (its pseudo-profile, `@codex`).
pub async fn import(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<AgentImportQuery>,
) -> ApiResult {
    let chosen: Vec<&'static agents::AgentLogs> = match q.agent.as_deref() {
        None | Some("all") => agents::AGENTS.iter().collect(),
        Some(id) => vec![agents::find(id).ok_or_else(|| {
            ApiError::bad_request(format!(
                "Unknown agent '{id}': use one of {}, or all",
                agents::ids()
            ))
        })?],
    };
    let _running = state.import_lock().lock().await;
    let bus = state.events().clone();
    bus.publish(
        "usage_import_started",
        json!({"agents": chosen.iter().map(|a| a.id).collect::<Vec<_>>()}),
    );
    let (store, home, env) = (
        state.store().clone(),
        state.paths().home.clone(),
        state.env().clone(),
    );
    let progress_bus = bus.clone();
    let stats_state = state.clone();
    state.import_stats().started();
    let summaries = tokio::task::spawn_blocking(move || {
        let tz = jiff::tz::TimeZone::system();
        let cx = logs::Context {
            store: &store,
            user_home: &home,
            env: &env,
            tz: &tz,
        };
        let last = std::sync::Mutex::new(std::time::Instant::now());
        let progress = move |agent: &'static str, p: Progress| {
            let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
            if p.files_done == p.files_total
                || last.elapsed() >= std::time::Duration::from_millis(100)
            {
                *last = std::time::Instant::now();
                stats_state.import_stats().progress(
                    (p.files_done as u64, p.files_total as u64),
                    (p.bytes_done, p.bytes_total),
                );
                progress_bus.publish(
                    "usage_import_progress",
                    json!({"agent": agent, "files_done": p.files_done, "files_total": p.files_total,
                           "bytes_done": p.bytes_done, "bytes_total": p.bytes_total}),
                );
            }
        };
        logs::import_agents(&cx, &chosen, &progress)
    })
    .await;
    let summaries = finished(&state, summaries, |s| {
        s.iter().map(|a| a.events_added + a.events_replaced).sum()
    })?;
    for s in &summaries {
        tracing::info!("{}", s.summary);
    }
    let lines: Vec<&str> = summaries.iter().map(|s| s.summary.as_str()).collect();
    bus.publish(
        "usage_import_finished",
        json!({"summary": lines.join("\n")}),
    );
    if summaries.iter().any(|s| s.changed) {
        bus.publish("usage_recorded", json!({"source": "import"}));
    }
    Ok(ok(summaries))
}

/// The end of an import run on the blocking pool: the metrics' import statistics learn it
/// (with the events it added or replaced, `added`, when it succeeded), and a failure
/// becomes the API's error.
fn finished<T, E: Into<ApiError>>(
    state: &AppState,
    result: Result<Result<T, E>, tokio::task::JoinError>,
    added: impl FnOnce(&T) -> u64,
) -> Result<T, ApiError> {
    let now = jiff::Timestamp::now().as_second();
    let (count, out) = match result {
        Ok(Ok(t)) => (Some(added(&t)), Ok(t)),
        Ok(Err(e)) => (None, Err(e.into())),
        Err(e) => (None, Err(ApiError::internal(e))),
    };
    state.import_stats().finished(count, now);
    out
}
