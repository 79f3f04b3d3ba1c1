//! The child's usage reporter: one thread that posts finished requests' usage to the daemon
//! (`POST /api/usage/record`, source `proxy`, authenticated with the usage token the
//! daemon issued this start of the proxy: it records this profile's usage and nothing else),
//! and beside it the rate-limit snapshots the provider's headers gave (`limits`).
//!
//! Each upstream attempt's status and timings ([`ProxyRequest`]) ride in the same batches
//! too, for the daemon's `/metrics`; a request pays one channel send.
//!
//! Requests hand their event over a channel and never wait for the daemon. The task
//! gathers events for a moment after the first and sends them in one batch, so under
//! load one POST carries many events, and retries a failed batch a few times; every
//! event has a `dedupe_key`, so a retry after a lost answer never counts twice. At
//! shutdown the queue is flushed.
//!
//! Beside the usage, how requests ended ([`RequestStatus`]: ok, rate limited, failed)
//! rides in the same batches, for the attention states of the profile's sessions: each
//! rate-limited or failed request, and the first success after one.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::pool::Pool;
use crate::records::{LimitSnapshot, ProxyRequest, RequestStatus, UsageEvent};
use crate::requests::{InspectedRequest, PoolState};

/// Events per post (the daemon takes JSON bodies up to 1 MiB).
const MAX_BATCH: usize = 1000;
/// How long a batch waits for more events after its first: a busy proxy then sends a
/// few posts a second instead of one per request, and leaves the CPU to requests.
const LINGER: Duration = Duration::from_millis(100);
const QUEUE: usize = 100_000;
/// Reports waiting beyond which new ones go to the relief thread: the lowest-class
/// reporter gets no CPU while every CPU is busy (about 400 ms of reports at the highest
/// request rates).
const RELIEF_AT: usize = 20_000;
const RETRIES: [u64; 3] = [200, 1000, 3000];

/// What a request hands the reporter.
enum Report {
    Usage(Box<UsageEvent>),
    Limits(LimitSnapshot),
    Request(ProxyRequest),
    Status(RequestStatus),
    Inspected(Box<InspectedRequest>),
}

#[derive(Clone)]
pub struct Reporter {
    tx: Option<mpsc::Sender<Report>>,
    /// The relief reporter, started the first time the first one falls behind.
    relief: Arc<Relief>,
    /// Whether the last status reported was a success (successes after one are not sent).
    last_ok: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The key pool whose state each batch carries, read when the batch is sent (not
    /// built per request on the request's path).
    pool: Arc<OnceLock<Arc<Pool>>>,
}

pub struct ReporterTask {
    done: Option<oneshot::Receiver<()>>,
    relief: Arc<Relief>,
}

/// A second reporter thread at nice 10, for the reports that come while the first
/// (`SCHED_IDLE`, see `lane`) has more than [`RELIEF_AT`] waiting: busy CPUs never starve
/// the usage, and a CPU with nothing else to do gives the first one all it needs.
#[derive(Default)]
struct Relief {
    start: Option<(String, Option<String>)>,
    pool: Arc<OnceLock<Arc<Pool>>>,
    sender: OnceLock<Option<mpsc::Sender<Report>>>,
    done: std::sync::Mutex<Option<oneshot::Receiver<()>>>,
}

impl Relief {
    fn sender(&self) -> Option<&mpsc::Sender<Report>> {
        self.sender
            .get_or_init(|| {
                let (url, token) = self.start.clone()?;
                let (tx, done) =
                    start("usage-relief", Class::Nice10, url, token, self.pool.clone())?;
                *self.done.lock().unwrap_or_else(|p| p.into_inner()) = Some(done);
                Some(tx)
            })
            .as_ref()
    }
}

#[derive(Clone, Copy)]
enum Class {
    /// `SCHED_IDLE`: runs only on a CPU nothing else wants.
    Idle,
    Nice10,
}

/// A reporter thread: its channel and the signal that it sent everything.
fn start(
    name: &str,
    class: Class,
    url: String,
    token: Option<String>,
    pool: Arc<OnceLock<Arc<Pool>>>,
) -> Option<(mpsc::Sender<Report>, oneshot::Receiver<()>)> {
    let (tx, rx) = mpsc::channel(QUEUE);
    let (done_tx, done_rx) = oneshot::channel();
    let started = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            background(class);
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(run(rx, url, token, pool)),
                Err(e) => tracing::error!("cannot start the usage reporter: {e}"),
            }
            let _ = done_tx.send(());
        });
    match started {
        Ok(_) => Some((tx, done_rx)),
        Err(e) => {
            tracing::error!("cannot start the usage reporter thread: {e}");
            None
        }
    }
}

impl Reporter {
    /// A reporter that sends nothing (no daemon to send to, or no thread to send from).
    fn idle(
        last_ok: std::sync::Arc<std::sync::atomic::AtomicBool>,
        pool: Arc<OnceLock<Arc<Pool>>>,
    ) -> (Self, ReporterTask) {
        let relief = Arc::new(Relief::default());
        (
            Self {
                tx: None,
                relief: relief.clone(),
                last_ok,
                pool,
            },
            ReporterTask { done: None, relief },
        )
    }

    /// Starts the reporter on a thread of its own (encoding and posting a batch never
    /// holds up a request); without a daemon URL events are only logged.
    pub fn spawn(daemon_url: Option<String>, token: Option<String>) -> (Self, ReporterTask) {
        let last_ok = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let pool: Arc<OnceLock<Arc<Pool>>> = Arc::default();
        let Some(url) = daemon_url else {
            return Self::idle(last_ok, pool);
        };
        let Some((tx, done)) = start(
            "usage-reporter",
            Class::Idle,
            url.clone(),
            token.clone(),
            pool.clone(),
        ) else {
            return Self::idle(last_ok, pool);
        };
        let relief = Arc::new(Relief {
            start: Some((url, token)),
            pool: pool.clone(),
            ..Relief::default()
        });
        (
            Self {
                tx: Some(tx),
                relief: relief.clone(),
                last_ok,
                pool,
            },
            ReporterTask {
                done: Some(done),
                relief,
            },
        )
    }

    /// Queues a report: to the first reporter, or to the relief one while the first has
    /// more than [`RELIEF_AT`] waiting. False when it was dropped (the queue is full).
    fn send(&self, report: Report) -> bool {
        let Some(tx) = &self.tx else {
            return true;
        };
        if QUEUE - tx.capacity() > RELIEF_AT
            && let Some(relief) = self.relief.sender()
        {
            return relief.try_send(report).is_ok();
        }
        tx.try_send(report).is_ok()
    }

    pub fn report(&self, event: UsageEvent) {
        tracing::debug!(
            "usage: {} in={} out={} cache_w={} cache_r={}",
            event.model,
            event.tokens.input_tokens,
            event.tokens.output_tokens,
            event.tokens.cache_creation_input_tokens,
            event.tokens.cache_read_input_tokens
        );
        if !self.send(Report::Usage(Box::new(event))) {
            tracing::warn!("usage queue full; an event was dropped");
        }
    }

    /// Queues an upstream attempt's status and timings (dropped when the queue is full).
    pub fn request(&self, request: ProxyRequest) {
        self.send(Report::Request(request));
    }

    /// Queues a request for the inspector (dropped when the queue is full). One the daemon
    /// would refuse (a broken or hostile upstream's counts) is left out here: it must not
    /// cost the usage events of its batch.
    pub fn inspected(&self, request: InspectedRequest) {
        if let Err(e) = request.validate() {
            tracing::warn!("an inspector entry not sent: {e}");
            return;
        }
        self.send(Report::Inspected(Box::new(request)));
    }

    /// The key pool whose state goes with every batch (the last state when it changed).
    pub fn watch_pool(&self, pool: Arc<Pool>) {
        let _ = self.pool.set(pool);
    }

    /// Hands over the rate-limit headers of a response.
    pub fn limits(&self, snapshot: LimitSnapshot) {
        if !self.send(Report::Limits(snapshot)) {
            tracing::warn!("usage queue full; a limits snapshot was dropped");
        }
    }

    /// How a request ended; successes only after a request that was not one.
    pub fn status(&self, status: RequestStatus) {
        use std::sync::atomic::Ordering;
        let ok = status.outcome == "ok";
        if self.last_ok.swap(ok, Ordering::Relaxed) && ok {
            return;
        }
        self.send(Report::Status(status));
    }
}

impl ReporterTask {
    /// Waits (bounded) until every queued event was sent, by both reporters. Every
    /// `Reporter` clone must have been dropped first, or this waits for the whole `limit`.
    pub async fn flush(self, limit: Duration) {
        let relief = self
            .relief
            .done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let both = async {
            for done in [self.done, relief].into_iter().flatten() {
                let _ = done.await;
            }
        };
        if tokio::time::timeout(limit, both).await.is_err() {
            tracing::warn!("usage not flushed within {limit:?}; some events are lost");
        }
    }
}

/// Puts this thread in its class: `SCHED_IDLE` (see `lane`), or nice 10 (Linux, where
/// the nice value is per thread; elsewhere nothing changes).
fn background(class: Class) {
    match class {
        Class::Idle => crate::lane::lowest_priority(),
        #[cfg(target_os = "linux")]
        Class::Nice10 => {
            // SAFETY: setpriority takes no pointers; `who = 0` is the calling thread.
            let _ = unsafe { nix::libc::setpriority(nix::libc::PRIO_PROCESS, 0, 10) };
        }
        #[cfg(not(target_os = "linux"))]
        Class::Nice10 => {}
    }
}

#[derive(Serialize)]
struct Batch<'a> {
    events: &'a [UsageEvent],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    limits: &'a [LimitSnapshot],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    requests: &'a [ProxyRequest],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    statuses: &'a [RequestStatus],
    inspected: &'a [InspectedRequest],
    #[serde(skip_serializing_if = "Option::is_none")]
    pool: Option<&'a PoolState>,
}

async fn run(
    mut rx: mpsc::Receiver<Report>,
    url: String,
    token: Option<String>,
    pool: Arc<OnceLock<Arc<Pool>>>,
) {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let endpoint = format!("{}/api/usage/record", url.trim_end_matches('/'));
    while let Some(first) = rx.recv().await {
        // Not waiting on the channel meanwhile: senders then wake nobody.
        tokio::time::sleep(LINGER).await;
        let mut batch = vec![first];
        loop {
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(e) => batch.push(e),
                    Err(_) => break,
                }
            }
            let mut parts = split(std::mem::take(&mut batch));
            // Read after the batch's events: every change they made is in it. One the
            // daemon would refuse is left out: it must not cost the batch's usage.
            parts.pool = pool.get().and_then(|p| p.report()).filter(|s| {
                s.validate()
                    .map_err(|e| tracing::warn!("the pool's state not sent: {e}"))
                    .is_ok()
            });
            send(&client, &endpoint, token.as_deref(), &parts).await;
            // Under load more than a batch queues up in one window: send it all now.
            match rx.try_recv() {
                Ok(e) => batch = vec![e],
                Err(_) => break,
            }
        }
    }
}

/// A batch by kind.
#[derive(Default)]
struct Parts {
    events: Vec<UsageEvent>,
    limits: Vec<LimitSnapshot>,
    requests: Vec<ProxyRequest>,
    statuses: Vec<RequestStatus>,
    /// The inspector's entries and the pool's state.
    inspected: Vec<InspectedRequest>,
    pool: Option<PoolState>,
}

/// The events, the limits, the requests and the statuses of a batch; a limits snapshot
/// equal to the one before it (the same headers and status) says nothing new and is left
/// out.
fn split(batch: Vec<Report>) -> Parts {
    let mut parts = Parts::default();
    let Parts {
        events,
        limits,
        requests,
        statuses,
        inspected,
        pool: _,
    } = &mut parts;
    for r in batch {
        match r {
            Report::Usage(e) => events.push(*e),
            Report::Request(q) => requests.push(q),
            Report::Status(s) => statuses.push(s),
            Report::Inspected(i) => inspected.push(*i),
            Report::Limits(s) => match limits.last_mut() {
                Some(last) if last.headers == s.headers && last.http_status == s.http_status => {
                    last.ts = last.ts.max(s.ts);
                }
                _ => limits.push(s),
            },
        }
    }
    parts
}

/// Posts one batch, retrying a few times.
async fn send(
    client: &Client<HttpConnector, Full<Bytes>>,
    endpoint: &str,
    token: Option<&str>,
    parts: &Parts,
) {
    let mut inspected = &parts.inspected[..];
    // The daemon takes bodies up to 1 MiB: captured bodies go in posts of their own.
    let mut size = 0;
    let fits = inspected
        .iter()
        .position(|i| {
            size += 512
                + i.request_body.as_ref().map_or(0, String::len)
                + i.response_body.as_ref().map_or(0, String::len)
                + i.error.as_ref().map_or(0, String::len);
            size > 700 * 1024
        })
        .unwrap_or(inspected.len())
        .max(1)
        .min(inspected.len());
    let rest = &inspected[fits..];
    inspected = &inspected[..fits];
    if !rest.is_empty() {
        let more = Parts {
            inspected: rest.to_vec(),
            ..Parts::default()
        };
        Box::pin(send(client, endpoint, token, &more)).await;
    }
    let body = match serde_json::to_string(&Batch {
        events: &parts.events,
        limits: &parts.limits,
        requests: &parts.requests,
        statuses: &parts.statuses,
        inspected,
        pool: parts.pool.as_ref(),
    }) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("cannot encode usage events: {e}");
            return;
        }
    };
    let mut attempt = 0;
    loop {
        match post(client, endpoint, token, body.clone()).await {
            Ok(()) => return,
            Err(e) if attempt < RETRIES.len() => {
                tracing::debug!("recording usage failed ({e}); retrying");
                tokio::time::sleep(Duration::from_millis(RETRIES[attempt])).await;
                attempt += 1;
            }
            Err(e) => {
                tracing::error!(
                    "could not record the usage of {} request(s) ({} limits snapshot(s)): {e}",
                    parts.events.len(),
                    parts.limits.len()
                );
                return;
            }
        }
    }
}

async fn post(
    client: &Client<HttpConnector, Full<Bytes>>,
    endpoint: &str,
    token: Option<&str>,
    body: String,
) -> Result<(), String> {
    let mut req = hyper::Request::post(endpoint).header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = req
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(Duration::from_secs(10), client.request(req))
        .await
        .map_err(|_| "the daemon did not answer within 10s".to_string())?
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!(
            "HTTP {}: {}",
            status.as_u16(),
            String::from_utf8_lossy(&bytes)
                .chars()
                .take(200)
                .collect::<String>()
        ))
    }
}
