//! `GET /metrics`: Prometheus's text format, or OpenMetrics when `Accept` asks for it.
//! Open to the daemon's token and to the read-only metrics token. The usage families
//! are brought up to date on a reader connection (never the writer, so a scrape waits for
//! no write and no write waits for it); the rest comes from memory. Gzipped when
//! `Accept-Encoding` allows it (Prometheus's scrapes do), from pieces compressed once.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use bytes::Bytes;

use super::error::ApiError;
use crate::app::AppState;
use crate::metrics::text::Format;
use crate::metrics::{Body as MetricsBody, Snapshot, SyncGauges, gzip};

/// Where Prometheus scrapes (outside `/api`: the guard lets the metrics token read it).
pub const METRICS_PATH: &str = "/metrics";

pub async fn scrape(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let format = Format::from_accept(header(header::ACCEPT));
    let gzip = gzip::accepted(header(header::ACCEPT_ENCODING));
    let catalogue = state.catalogue();
    let cache = state.metrics_cache();
    let usage = {
        let cache = cache.clone();
        state
            .store()
            .read(move |c| cache.usage.refresh(c, &catalogue))
            .await?
    };
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
    let render = {
        let state = state.clone();
        move || {
            cache.body(
                format,
                gzip,
                &usage,
                state.request_stats(),
                state.import_stats(),
                snap,
            )
        }
    };
    let body = if gzip {
        // Blocks changed since they were last compressed are compressed here (all of them
        // on the first gzip scrape): off the async workers.
        tokio::task::spawn_blocking(render)
            .await
            .map_err(ApiError::internal)?
    } else {
        render()
    };
    let mut resp = match body {
        // The usage families as kept between scrapes (no copy), then the rest.
        MetricsBody::Plain(chunks) => {
            let stream =
                futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
            Response::new(Body::from_stream(stream))
        }
        MetricsBody::Gzip(bytes) => {
            let mut resp = Response::new(Body::from(Bytes::from(bytes)));
            resp.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            resp
        }
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Accept-Encoding"),
    );
    Ok(resp)
}
