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

use tokio::sync::{mpsc, oneshot};

use self::post::Beat;
use self::threads::{Class, Relief, start};
use super::pool::Pool;
use crate::records::{LimitSnapshot, ProxyRequest, RequestStatus, UsageEvent};
use crate::requests::InspectedRequest;

/// Events per post (the daemon takes JSON bodies up to 1 MiB).
const MAX_BATCH: usize = 1000;
/// How long a batch waits for more events after its first: a busy proxy then sends a
/// few posts a second instead of one per request, and leaves the CPU to requests.
const LINGER: Duration = Duration::from_millis(100);
const QUEUE: usize = 100_000;
/// Reports waiting from which on new ones go to the relief thread: the lowest-class
/// reporter gets no CPU while every CPU is busy (about 400 ms of reports at the highest
/// request rates).
const RELIEF_AT: usize = 20_000;
/// How long the first reporter may show no sign of keeping up while reports wait before
/// new ones go to the relief thread (a post to a busy daemon takes well under this).
const RELIEF_AFTER: Duration = Duration::from_secs(1);
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
    /// The first reporter's sign of keeping up.
    beat: Beat,
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
                beat: Beat::default(),
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
        let beat = Beat::default();
        let Some((tx, done)) = start(
            "usage-reporter",
            Class::Idle,
            url.clone(),
            token.clone(),
            pool.clone(),
            beat.clone(),
        ) else {
            return Self::idle(last_ok, pool);
        };
        let relief = Arc::new(Relief::new(url, token, pool.clone()));
        (
            Self {
                tx: Some(tx),
                relief: relief.clone(),
                beat,
                last_ok,
                pool,
            },
            ReporterTask {
                done: Some(done),
                relief,
            },
        )
    }

    /// Queues a report: to the first reporter, or to the relief one while the first is
    /// behind — [`RELIEF_AT`] or more waiting, or some waiting and no sign of it for
    /// [`RELIEF_AFTER`]. False when it was dropped (the queue is full).
    fn send(&self, report: Report) -> bool {
        let Some(tx) = &self.tx else {
            return true;
        };
        let waiting = QUEUE - tx.capacity();
        let behind = waiting >= RELIEF_AT || (waiting > 0 && self.beat.age() > RELIEF_AFTER);
        if behind && let Some(relief) = self.relief.sender() {
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

mod post;
#[cfg(test)]
mod tests;
mod threads;
