//! `GET /metrics`: Prometheus's text format, or OpenMetrics when `Accept` asks for it.
//! Open to the daemon's token and to the read-only metrics token. The usage families
//! are written on a reader connection (never the writer, so a scrape waits for no write
//! and no write waits for it); the rest comes from memory.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::app::AppState;
use crate::metrics::text::Format;
use crate::metrics::{self, Snapshot, SyncGauges};

pub async fn scrape(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let format = Format::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let catalogue = state.catalogue();
    let mut out = state
        .store()
        .read(move |c| {
            let mut out = metrics::writer(format);
            metrics::usage::write(c, &catalogue, format, &mut out)?;
            Ok(out)
        })
        .await?;
    let sessions = state.terminals().list();
    let running = sessions.iter().filter(|s| s.is_running()).count() as u64;
    let sync = state.syncer().status();
    let snap = Snapshot {
        proxies: state
            .proxies()
            .statuses()
            .into_iter()
            .map(|p| (p.profile, p.status.label(), p.restarts))
            .collect(),
        sessions: (running, sessions.len() as u64 - running),
        sync: sync.enabled.then_some(SyncGauges {
            connected: sync.connected,
            backlog: sync.backlog,
            pushed_events: sync.pushed_events,
            pushed_sessions: sync.pushed_sessions,
            errors: sync.errors,
            last_push: sync.last_push_ts,
        }),
    };
    metrics::write_rest(&mut out, state.request_stats(), state.import_stats(), &snap);
    let mut resp = out.finish().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    Ok(resp)
}
