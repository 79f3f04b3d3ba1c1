//! `GET /metrics`: Prometheus's text format, or OpenMetrics when `Accept` asks for it.
//! Open to the daemon's token and to the read-only metrics token. The usage families
//! are written on a reader connection (never the writer, so a scrape waits for no write
//! and no write waits for it); the rest comes from memory.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use bytes::Bytes;

use super::error::ApiError;
use crate::app::AppState;
use crate::metrics::text::Format;
use crate::metrics::{self, Snapshot, SyncGauges};

/// Where Prometheus scrapes (outside `/api`: the guard lets the metrics token read it).
pub const METRICS_PATH: &str = "/metrics";

pub async fn scrape(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let format = Format::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let catalogue = state.catalogue();
    let cache = state.metrics_cache();
    let usage = state
        .store()
        .read(move |c| cache.refresh(c, &catalogue))
        .await?;
    let mut out = metrics::writer(format);
    let sessions = state.terminals().list();
    let running = sessions.iter().filter(|s| s.is_running()).count() as u64;
    let sync = state.syncer().status_now().await;
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
    // The usage families as kept between scrapes (no copy), then the rest.
    let mut chunks = usage.chunks(format);
    chunks.push(Bytes::from(out.finish()));
    let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    Ok(resp)
}
