//! The child's usage reporter: one thread that posts finished requests' usage to the daemon
//! (`POST /api/usage/record`, source `proxy`, authenticated with the usage token the
//! daemon issued this start of the proxy: it records this profile's usage and nothing else),
//! and beside it the rate-limit snapshots the provider's headers gave (`limits`).
//!
//! Each upstream attempt's status and timings ride in the same batches too, for the
//! daemon's `/metrics`, counted here per target and status ([`RequestCounts`]): a request
//! pays adding to its entry under a short lock, and a busy proxy's batch carries a few
//! entries instead of a record per request for the reporter to copy and the daemon to read.
//!
//! A request writes its event as JSON itself (a microsecond, on a thread whose caches
//! hold it), and hands the reporter that text: the reporter then copies bytes instead of
//! writing thousands of events at once, and frees one string per report instead of a
//! dozen another thread allocated (see `lane` on why a burst of bookkeeping holds up
//! requests).
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

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};

use self::post::Beat;
use self::threads::{Class, Relief, start};
use super::pool::Pool;
use crate::records::{LimitSnapshot, RequestCounts, RequestStatus, UsageEvent};
use crate::requests::InspectedRequest;

/// Reports per post: about 5 MB of JSON (the daemon takes up to 16 MiB on this route).
const MAX_BATCH: usize = 20_000;
/// How long a batch waits for more reports after its first. Every post is a commit in
/// the daemon, with the pages it touched written again to the WAL (and later by the
/// kernel's writeback, at normal priority, beside the requests): a busy proxy sends two
/// posts a second.
const LINGER: Duration = Duration::from_millis(500);
const QUEUE: usize = 200_000;
/// Reports waiting from which on new ones go to the relief thread: the lowest-class
/// reporter gets no CPU while every CPU is busy (about three seconds of reports at the
/// highest request rates, two reports a request).
const RELIEF_AT: usize = 100_000;
/// How long the first reporter may show no sign of keeping up while reports wait before
/// new ones go to the relief thread (a batch's linger and its post take well under this).
const RELIEF_AFTER: Duration = Duration::from_secs(3);
const RETRIES: [u64; 3] = [200, 1000, 3000];

/// What the reporters read when they send a batch.
pub(super) struct Shared {
    /// The key pool whose state each batch carries, read when the batch is sent (not
    /// built per request on the request's path).
    pool: OnceLock<Arc<Pool>>,
    /// How many requests the daemon keeps in the profile's inspector.
    keep: AtomicUsize,
    /// The inspector's last `keep` requests since the last batch, and how many older ones
    /// they pushed out: the daemon's ring would keep no more of them, so under load a
    /// batch carries a hundred entries, not one per request.
    inspected: Mutex<Inspected>,
    /// The upstream attempts since the last batch, per profile, target and status.
    counts: Mutex<Vec<RequestCounts>>,
}

#[derive(Default)]
pub(super) struct Inspected {
    pub(super) requests: VecDeque<InspectedRequest>,
    pub(super) skipped: u64,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            pool: OnceLock::new(),
            keep: AtomicUsize::new(usize::MAX),
            inspected: Mutex::default(),
            counts: Mutex::default(),
        }
    }
}

impl Shared {
    pub(super) fn pool(&self) -> Option<&Arc<Pool>> {
        self.pool.get()
    }

    fn lock_inspected(&self) -> std::sync::MutexGuard<'_, Inspected> {
        self.inspected.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds `request`, the oldest going once more than `keep` are held (`keep` is set
    /// before the first request, so one goes at most). True when it is the first since the
    /// last [`Shared::take_inspected`] (the reporter then needs a wake-up).
    fn hold_inspected(&self, request: InspectedRequest) -> bool {
        let keep = self.keep.load(Ordering::Relaxed);
        let mut held = self.lock_inspected();
        let first = held.requests.is_empty() && held.skipped == 0;
        held.requests.push_back(request);
        let old = (held.requests.len() > keep)
            .then(|| held.requests.pop_front())
            .flatten();
        held.skipped += u64::from(old.is_some());
        // Freed after the lock is released.
        drop(held);
        first
    }

    /// What was kept since the last batch (swapped out under the lock, nothing else).
    pub(super) fn take_inspected(&self) -> Inspected {
        std::mem::take(&mut *self.lock_inspected())
    }

    fn lock_counts(&self) -> std::sync::MutexGuard<'_, Vec<RequestCounts>> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts `attempt` in its entry. True when it is the first since the last
    /// [`Shared::take_counts`] (the reporter then needs a wake-up).
    fn count(&self, attempt: &Attempt) -> bool {
        let duration = attempt.duration.as_secs_f64();
        let ttfb = attempt.ttfb.map(|t| t.as_secs_f64());
        let mut counts = self.lock_counts();
        let first = counts.is_empty();
        match counts
            .iter_mut()
            .find(|c| c.is_for(attempt.profile, attempt.target, attempt.status))
        {
            Some(c) => c.observe(duration, ttfb),
            None => {
                let mut c = RequestCounts::new(attempt.profile, attempt.target, attempt.status);
                c.observe(duration, ttfb);
                counts.push(c);
            }
        }
        first
    }

    /// The attempts counted since the last batch (swapped out under the lock).
    pub(super) fn take_counts(&self) -> Vec<RequestCounts> {
        std::mem::take(&mut *self.lock_counts())
    }
}

/// One upstream attempt, as a request hands it to [`Reporter::request`]: which target,
/// the status the agent got or would have got from it (502 unreachable, 504 timed out),
/// how long the whole response took and when its first body byte came.
pub struct Attempt<'a> {
    pub profile: &'a str,
    /// The target's provider id.
    pub target: &'a str,
    pub status: u16,
    pub duration: Duration,
    pub ttfb: Option<Duration>,
}

/// What a request hands the reporter.
enum Report {
    /// A [`UsageEvent`], as JSON.
    Usage(Box<RawValue>),
    Limits(LimitSnapshot),
    Status(RequestStatus),
    /// Inspector entries and counted attempts wait in [`Shared`]: this only wakes the
    /// reporter for them.
    Waiting,
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
    /// The pool and the inspector's size, read when a batch is sent.
    shared: Arc<Shared>,
}

pub struct ReporterTask {
    done: Option<oneshot::Receiver<()>>,
    relief: Arc<Relief>,
}

impl Reporter {
    /// A reporter that sends nothing (no daemon to send to, or no thread to send from).
    fn idle(
        last_ok: std::sync::Arc<std::sync::atomic::AtomicBool>,
        shared: Arc<Shared>,
    ) -> (Self, ReporterTask) {
        let relief = Arc::new(Relief::default());
        (
            Self {
                tx: None,
                relief: relief.clone(),
                beat: Beat::default(),
                last_ok,
                shared,
            },
            ReporterTask { done: None, relief },
        )
    }

    /// Starts the reporter on a thread of its own (encoding and posting a batch never
    /// holds up a request); without a daemon URL events are only logged.
    pub fn spawn(daemon_url: Option<String>, token: Option<String>) -> (Self, ReporterTask) {
        let last_ok = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let shared: Arc<Shared> = Arc::default();
        let Some(url) = daemon_url else {
            return Self::idle(last_ok, shared);
        };
        let beat = Beat::default();
        let Some((tx, done)) = start(
            "usage-reporter",
            Class::Idle,
            url.clone(),
            token.clone(),
            shared.clone(),
            beat.clone(),
        ) else {
            return Self::idle(last_ok, shared);
        };
        let relief = Arc::new(Relief::new(url, token, shared.clone()));
        (
            Self {
                tx: Some(tx),
                relief: relief.clone(),
                beat,
                last_ok,
                shared,
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
        if !self.send_json(&event) {
            tracing::warn!("usage queue full; an event was dropped");
        }
    }

    /// Counts an upstream attempt's status and timings, for the next batch. A request's
    /// event goes before its attempt is counted: every attempt a batch counts then has its
    /// event in that batch (see `post::run`), but while the relief reporter also posts,
    /// the event may be in the other reporter's next batch.
    pub fn request(&self, attempt: Attempt) {
        if self.tx.is_some() && self.shared.count(&attempt) {
            self.send(Report::Waiting);
        }
    }

    /// Queues an event written as JSON here, on the request's thread; nothing is written
    /// without a daemon to send to. False when it was dropped (the queue is full).
    fn send_json(&self, event: &UsageEvent) -> bool {
        if self.tx.is_none() {
            return true;
        }
        // An event cannot fail to encode; if one did, it is left out with an error in the
        // log.
        match serde_json::value::to_raw_value(event) {
            Ok(json) => self.send(Report::Usage(json)),
            Err(e) => {
                tracing::error!("cannot encode a usage report: {e}");
                true
            }
        }
    }

    /// Keeps a request for the inspector until the next batch (only the last `keep`; see
    /// [`Shared`]).
    pub fn inspected(&self, request: InspectedRequest) {
        if self.tx.is_some() && self.shared.hold_inspected(request) {
            self.send(Report::Waiting);
        }
    }

    /// The key pool whose state goes with every batch (the last state when it changed).
    pub fn watch_pool(&self, pool: Arc<Pool>) {
        let _ = self.shared.pool.set(pool);
    }

    /// How many requests the daemon keeps in the profile's inspector (the plan's
    /// `inspector.keep`): more of a batch's would only push each other out of its ring.
    pub fn set_inspector_keep(&self, keep: usize) {
        self.shared.keep.store(keep, Ordering::Relaxed);
    }

    /// Hands over the rate-limit headers of a response.
    pub fn limits(&self, snapshot: LimitSnapshot) {
        if !self.send(Report::Limits(snapshot)) {
            tracing::warn!("usage queue full; a limits snapshot was dropped");
        }
    }

    /// How a request ended (made only when sent); successes only after a request that
    /// was not one.
    pub fn status(&self, ok: bool, status: impl FnOnce() -> RequestStatus) {
        use std::sync::atomic::Ordering;
        if self.last_ok.swap(ok, Ordering::Relaxed) && ok {
            return;
        }
        self.send(Report::Status(status()));
    }
}

mod post;
#[cfg(test)]
mod tests;
mod threads;
