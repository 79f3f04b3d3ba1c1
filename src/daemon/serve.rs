//! The accept loops: one task per listening socket, one hyper connection per client.
//!
//! Each connection task holds a clone of a `drain` sender; on shutdown the loops stop
//! accepting, every connection is asked to finish its in-flight request and close, and
//! the caller waits (bounded) until all senders are dropped.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tower::ServiceExt;

use crate::app::AppState;

/// Max bytes of request line and headers per request.
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// A client has this long to send a request's headers (also bounds idle keep-alive).
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

pub fn spawn_accept_loop(
    listener: TcpListener,
    router: Router,
    state: AppState,
    drain: mpsc::Sender<()>,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let (stream, _peer) = tokio::select! {
                _ = stop.changed() => break,
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // EMFILE and friends: back off briefly instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let service = router
                .clone()
                .map_request(|req: hyper::Request<Incoming>| req.map(axum::body::Body::new))
                .map_err(|never: Infallible| match never {});
            let service = TowerToHyperService::new(service);
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_HEADER_BYTES)
                .keep_alive(true);
            let conn = builder
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            let state = state.clone();
            let drain = drain.clone();
            let mut stop = stop.clone();
            state.activity().opened();
            tokio::spawn(async move {
                tokio::pin!(conn);
                let result = tokio::select! {
                    r = conn.as_mut() => r,
                    _ = stop.changed() => {
                        conn.as_mut().graceful_shutdown();
                        conn.await
                    }
                };
                if let Err(e) = result {
                    tracing::debug!("connection ended with error: {e}");
                }
                state.activity().closed();
                drop(drain);
            });
        }
    })
}
