//! The accept loops: one task per listening socket (TCP, or the owner-only Unix socket),
//! one hyper connection per client.
//!
//! Each connection task holds a clone of a `drain` sender; on shutdown the loops stop
//! accepting, every connection is asked to finish its in-flight request and close, and
//! the caller waits (bounded) until all senders are dropped.
//!
//! A connection is pending until a request on it presents the token
//! ([`crate::http::conn::Conn`]). At most [`MAX_PENDING`] pending connections are open at
//! once (past that the oldest is closed), and a pending one that has not authenticated
//! within [`FIRST_REQUEST_TIMEOUT`] is closed: idle or anonymous connections from any
//! local user cannot use up the descriptors that authorised clients need, nor keep them
//! out. Accept failures are logged at most every [`WARN_EVERY`], with a count.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{mpsc, watch};
use tower::ServiceExt;

use crate::app::AppState;
use crate::http::conn::Conn;
use crate::http::wire::{EnvelopeIo, MAX_HEADER_BYTES};

/// A client has this long to send a request's headers (also bounds idle keep-alive).
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections not yet authenticated, open at once.
pub const MAX_PENDING: usize = 256;
/// How long a connection may stay open without presenting the token.
pub const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Accept failures are logged at most this often.
const WARN_EVERY: Duration = Duration::from_secs(10);

pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// What every accept loop shares.
#[derive(Clone)]
pub struct Shared {
    pub router: Router,
    pub state: AppState,
    pub drain: mpsc::Sender<()>,
    pub stop: watch::Receiver<bool>,
    /// Pending connections in the order they were accepted, to close the oldest past the cap.
    pub queue: Arc<Mutex<VecDeque<Conn>>>,
}

impl Shared {
    pub fn new(
        router: Router,
        state: AppState,
        drain: mpsc::Sender<()>,
        stop: watch::Receiver<bool>,
    ) -> Self {
        Self {
            router,
            state,
            drain,
            stop,
            queue: Default::default(),
        }
    }

    /// Notes a new connection; past the cap, closes the oldest pending ones (never the
    /// new one). The queue holds only connections not yet asked to close.
    fn admit(&self, conn: &Conn) {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        queue.retain(|c| !c.is_authenticated());
        queue.push_back(conn.clone());
        while queue.len() > MAX_PENDING {
            if let Some(oldest) = queue.pop_front() {
                oldest.evict();
            }
        }
    }
}

/// Accept failures seen since the last warning.
struct AcceptWarnings {
    last: Option<Instant>,
    suppressed: u64,
}

impl AcceptWarnings {
    fn failed(&mut self, e: &std::io::Error) {
        if self.last.is_some_and(|t| t.elapsed() < WARN_EVERY) {
            self.suppressed += 1;
            return;
        }
        if self.suppressed > 0 {
            tracing::warn!(
                "accept failed: {e} ({} more failures in the last {WARN_EVERY:?})",
                self.suppressed
            );
        } else {
            tracing::warn!("accept failed: {e}");
        }
        self.last = Some(Instant::now());
        self.suppressed = 0;
    }
}

pub fn spawn_accept_loop(listener: Listener, shared: Shared) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut stop = shared.stop.clone();
        let mut warnings = AcceptWarnings {
            last: None,
            suppressed: 0,
        };
        loop {
            let accepted = tokio::select! {
                _ = stop.changed() => break,
                accepted = accept(&listener) => accepted,
            };
            let conn = match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    warnings.failed(&e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            match conn {
                Accepted::Tcp(stream) => {
                    let _ = stream.set_nodelay(true);
                    serve(stream, false, &shared);
                }
                Accepted::Unix(stream) => serve(stream, true, &shared),
            }
        }
    })
}

enum Accepted {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

async fn accept(listener: &Listener) -> std::io::Result<Accepted> {
    match listener {
        Listener::Tcp(l) => l.accept().await.map(|(s, _)| Accepted::Tcp(s)),
        Listener::Unix(l) => l.accept().await.map(|(s, _)| Accepted::Unix(s)),
    }
}

fn serve<I>(io: I, unix: bool, shared: &Shared)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = Conn::new(unix);
    shared.admit(&conn);
    let tagged = conn.clone();
    let service = shared
        .router
        .clone()
        .map_request(move |req: hyper::Request<Incoming>| {
            let mut req = req.map(axum::body::Body::new);
            req.extensions_mut().insert(tagged.clone());
            req
        })
        .map_err(|never: Infallible| match never {});
    let service = TowerToHyperService::new(service);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES)
        .keep_alive(true);
    let http = builder
        .serve_connection(TokioIo::new(EnvelopeIo::new(io)), service)
        .with_upgrades();
    let state = shared.state.clone();
    let drain = shared.drain.clone();
    let mut stop = shared.stop.clone();
    state.activity().opened();
    tokio::spawn(async move {
        tokio::pin!(http);
        let deadline = tokio::time::sleep(FIRST_REQUEST_TIMEOUT);
        tokio::pin!(deadline);
        let mut timed = true;
        let result = loop {
            tokio::select! {
                r = http.as_mut() => break r,
                _ = stop.changed() => {
                    http.as_mut().graceful_shutdown();
                    break http.await;
                }
                _ = conn.evicted() => {
                    tracing::debug!("closing the oldest pending connection: {MAX_PENDING} are pending");
                    break Ok(());
                }
                _ = &mut deadline, if timed => {
                    if !conn.is_authenticated() {
                        tracing::debug!("closing a connection that did not authenticate in {FIRST_REQUEST_TIMEOUT:?}");
                        break Ok(());
                    }
                    timed = false;
                }
            }
        };
        if let Err(e) = result {
            tracing::debug!("connection ended with error: {e}");
        }
        conn.closed();
        state.activity().closed();
        drop(drain);
    });
}
