//! A reporter's loop: gather the reports for a moment, split them by kind, post them to
//! the daemon (retrying), captured bodies in posts of their own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use super::{LINGER, MAX_BATCH, RETRIES, Report, Shared};
use crate::records::{LimitSnapshot, RequestCounts, RequestStatus};
use crate::requests::{InspectedRequest, PoolState};

/// The send buffer of the connection to the daemon. A post of megabytes is copied into
/// the kernel this much at a time: the kernel never takes a CPU from a request for the
/// whole copy (it does not preempt a thread inside a system call), and between the
/// pieces this thread is back in its lowest class.
const SEND_BUFFER: usize = 64 * 1024;

#[derive(Serialize)]
struct Batch<'a> {
    /// `UsageEvent`s, as the requests wrote them.
    events: &'a [Box<RawValue>],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    limits: &'a [LimitSnapshot],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    request_counts: &'a [RequestCounts],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    statuses: &'a [RequestStatus],
    inspected: &'a [InspectedRequest],
    #[serde(skip_serializing_if = "is_zero")]
    inspected_skipped: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pool: Option<&'a PoolState>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// When a reporter last showed it keeps up: it took what was queued, or found nothing to
/// take. A first reporter with reports waiting and no beat for a while gets no CPU.
#[derive(Clone, Default)]
pub(super) struct Beat(Arc<AtomicU64>);

impl Beat {
    fn origin() -> Instant {
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        *ORIGIN.get_or_init(Instant::now)
    }

    pub(super) fn now(&self) {
        let ms = Self::origin().elapsed().as_millis() as u64;
        self.0.store(ms, Ordering::Relaxed);
    }

    pub(super) fn age(&self) -> Duration {
        let ms = Self::origin().elapsed().as_millis() as u64;
        Duration::from_millis(ms.saturating_sub(self.0.load(Ordering::Relaxed)))
    }
}

/// Posts the reports as they come, in batches. `relief`: this is the reporter that takes
/// over while the first one is behind, so every batch it sends comes from a backlog.
pub(super) async fn run(
    mut rx: mpsc::Receiver<Report>,
    url: String,
    token: Option<String>,
    shared: Arc<Shared>,
    beat: Beat,
    relief: bool,
) {
    let mut http = HttpConnector::new();
    http.set_send_buffer_size(Some(SEND_BUFFER));
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(http);
    let endpoint = format!("{}/api/usage/record", url.trim_end_matches('/'));
    // A batch from behind (the relief's, or a full one: more may be waiting) is stored by
    // the daemon at its own priority; the others on its background lane.
    let backlog = format!("{endpoint}?backlog=true");
    beat.now();
    while let Some(first) = rx.recv().await {
        beat.now();
        // Not waiting on the channel meanwhile: senders then wake nobody.
        tokio::time::sleep(LINGER).await;
        let mut batch = vec![first];
        loop {
            take(&mut rx, &mut batch);
            // Counted after the queue is taken, then what came meanwhile: an attempt
            // counted here woke the reporter if it was the first since the last batch, and
            // a request's event was queued before its attempt was counted, so the events
            // of the attempts a batch counts are in it (past MAX_BATCH, in the post that
            // follows at once).
            let counts = shared.take_counts();
            take(&mut rx, &mut batch);
            beat.now();
            let to = if behind(relief, batch.len()) {
                &backlog
            } else {
                &endpoint
            };
            let mut parts = split(std::mem::take(&mut batch));
            // One the daemon would refuse (a broken upstream's status) is left out: it
            // must not cost the usage events of its batch.
            parts.request_counts = counts
                .into_iter()
                .filter(|c| {
                    c.validate()
                        .map_err(|e| tracing::warn!("requests' counts not sent: {e}"))
                        .is_ok()
                })
                .collect();
            let kept = shared.take_inspected();
            parts.inspected_skipped = kept.skipped;
            // One the daemon would refuse (a broken or hostile upstream's counts) is left
            // out: it must not cost the usage events of its batch.
            parts.inspected = kept
                .requests
                .into_iter()
                .filter(|r| {
                    r.validate()
                        .map_err(|e| tracing::warn!("an inspector entry not sent: {e}"))
                        .is_ok()
                })
                .collect();
            // Read after the batch's events: every change they made is in it. One the
            // daemon would refuse is left out: it must not cost the batch's usage.
            parts.pool = shared.pool().and_then(|p| p.report()).filter(|s| {
                s.validate()
                    .map_err(|e| tracing::warn!("the pool's state not sent: {e}"))
                    .is_ok()
            });
            send(&client, to, token.as_deref(), parts).await;
            // Under load a whole batch queues up during a post: send it now. Anything
            // less waits for the next window, or every post's round trip becomes a post
            // of its own (a hundred small commits a second for one busy connection).
            if rx.len() < MAX_BATCH {
                break;
            }
        }
        beat.now();
    }
}

/// Whether a batch comes from a backlog: the relief's (it runs only while the first
/// reporter is behind), or a full one (more may be waiting). A proxy serving one fast
/// connection sends several MiB twice a second, and is not behind.
fn behind(relief: bool, batch: usize) -> bool {
    relief || batch >= MAX_BATCH
}

/// How many reports are moved (taken, split) between two moments given to other threads.
const PACE_REPORTS: usize = 256;

/// Moves what is queued into `batch`, up to [`MAX_BATCH`] reports, in pieces: its room
/// made first, since a list of thousands grown as it fills is copied whole, and its
/// fresh memory faulted in, in single runs of up to 2.3 ms (measured here, the reporter
/// on one fast connection's batches).
fn take(rx: &mut mpsc::Receiver<Report>, batch: &mut Vec<Report>) {
    batch.reserve(rx.len().min(MAX_BATCH.saturating_sub(batch.len())));
    let mut pace = crate::lane::Pace::every(PACE_REPORTS);
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(e) => batch.push(e),
            Err(_) => break,
        }
        pace.step();
    }
}

/// A batch by kind.
#[derive(Default)]
struct Parts {
    events: Vec<Box<RawValue>>,
    limits: Vec<LimitSnapshot>,
    request_counts: Vec<RequestCounts>,
    statuses: Vec<RequestStatus>,
    /// The inspector's entries and the pool's state.
    inspected: Vec<InspectedRequest>,
    /// Requests before the last `keep` of the batch, only counted.
    inspected_skipped: u64,
    pool: Option<PoolState>,
}

/// The events, the limits and the statuses of a batch; a limits snapshot
/// equal to the one before it (the same headers and status) says nothing new and is left
/// out.
fn split(batch: Vec<Report>) -> Parts {
    let mut parts = Parts {
        events: Vec::with_capacity(batch.len()),
        ..Parts::default()
    };
    let Parts {
        events,
        limits,
        statuses,
        ..
    } = &mut parts;
    let mut pace = crate::lane::Pace::every(PACE_REPORTS);
    for r in batch {
        pace.step();
        match r {
            Report::Usage(e) => events.push(e),
            Report::Status(s) => statuses.push(s),
            Report::Waiting => {}
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
    mut parts: Parts,
) {
    // The daemon takes bodies up to 16 MiB, of which a full batch's events take about a
    // third: captured bodies past 700 KiB go in posts of their own.
    let mut size = 0;
    let fits = parts
        .inspected
        .iter()
        .position(|i| {
            size += 512
                + i.request_body.as_ref().map_or(0, String::len)
                + i.response_body.as_ref().map_or(0, String::len)
                + i.error.as_ref().map_or(0, String::len);
            size > 700 * 1024
        })
        .unwrap_or(parts.inspected.len())
        .max(1)
        .min(parts.inspected.len());
    let rest = parts.inspected.split_off(fits);
    if !rest.is_empty() {
        let more = Parts {
            inspected: rest,
            ..Parts::default()
        };
        Box::pin(send(client, endpoint, token, more)).await;
    }
    // The whole body's room at once (grown as it fills, it would be copied whole): the
    // events as written, the inspector's entries as estimated above, and the rest.
    let events: usize = parts.events.iter().map(|e| e.get().len() + 1).sum();
    let mut body = Paced::with_capacity(events + size + 64 * 1024);
    let encoded = serde_json::to_writer(
        &mut body,
        &Batch {
            events: &parts.events,
            limits: &parts.limits,
            request_counts: &parts.request_counts,
            statuses: &parts.statuses,
            inspected: &parts.inspected,
            inspected_skipped: parts.inspected_skipped,
            pool: parts.pool.as_ref(),
        },
    );
    if let Err(e) = encoded {
        tracing::error!("cannot encode usage events: {e}");
        free(parts);
        return;
    }
    let body = Bytes::from(body.buf);
    // Over the daemon's limit (events with long names): in two posts, never refused whole.
    if body.len() > MAX_POST && parts.events.len() > 1 {
        drop(body);
        let (first, second) = halves(parts);
        Box::pin(send(client, endpoint, token, first)).await;
        Box::pin(send(client, endpoint, token, second)).await;
        return;
    }
    let mut attempt = 0;
    loop {
        match post(client, endpoint, token, body.clone()).await {
            Ok(()) => break,
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
                break;
            }
        }
    }
    free(parts);
}

/// How much of a batch is written between two moments given to other threads
/// (`lane::pause`): mostly the requests' own JSON, copied.
const PACE_BYTES: usize = 8 * 1024;

/// A batch's JSON, written in pieces with a moment's sleep between them. The reporter's
/// class (`SCHED_IDLE`) orders it only within the proxy's own scheduling group: measured
/// here, the agent (wrk) waited 3.3 ms behind a reporter encoding a batch, and a yield
/// between pieces did not change that (see `lane`). A sleep every 8 KiB bounds that wait
/// to one piece's writing.
struct Paced {
    buf: Vec<u8>,
    since: usize,
}

impl Paced {
    fn with_capacity(n: usize) -> Self {
        Self {
            buf: Vec::with_capacity(n),
            since: 0,
        }
    }
}

impl std::io::Write for Paced {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() - self.since >= PACE_BYTES {
            self.since = self.buf.len();
            crate::lane::pause();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Frees a sent batch in pieces (`lane::drop_paced`).
fn free(parts: Parts) {
    crate::lane::drop_paced(parts.events);
    crate::lane::drop_paced(parts.inspected);
}

/// The largest body a post carries: under the daemon's 16 MiB for `/api/usage/record`.
const MAX_POST: usize = 15 * 1024 * 1024;

/// A batch as two: the first half of the events with everything else, then the rest.
fn halves(mut parts: Parts) -> (Parts, Parts) {
    let second = Parts {
        events: parts.events.split_off(parts.events.len() / 2),
        ..Parts::default()
    };
    (parts, second)
}

async fn post(
    client: &Client<HttpConnector, Full<Bytes>>,
    endpoint: &str,
    token: Option<&str>,
    body: Bytes,
) -> Result<(), String> {
    let mut req = hyper::Request::post(endpoint).header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::UsageEvent;

    fn raw<T: Serialize>(v: &T) -> Box<RawValue> {
        serde_json::value::to_raw_value(v).unwrap()
    }

    #[test]
    fn only_the_reliefs_batches_and_full_ones_are_from_a_backlog() {
        // One fast connection: a few thousand reports in half a second.
        assert!(!behind(false, 1));
        assert!(!behind(false, 8_000));
        assert!(!behind(false, MAX_BATCH - 1));
        assert!(behind(false, MAX_BATCH));
        assert!(behind(true, 1));
    }

    #[test]
    fn a_paced_batch_is_the_same_json_in_pieces_and_holds_the_events_whole() {
        let events: Vec<UsageEvent> = (0..2_000)
            .map(|n| UsageEvent {
                profile: "p".into(),
                model: format!("model-\"{n}\"-é"),
                source: "proxy".into(),
                dedupe_key: Some(format!("k{n}")),
                ..UsageEvent::default()
            })
            .collect();
        let written: Vec<Box<RawValue>> = events.iter().map(raw).collect();
        let batch = Batch {
            events: &written,
            limits: &[],
            request_counts: &[],
            statuses: &[],
            inspected: &[],
            inspected_skipped: 7,
            pool: None,
        };
        let mut paced = Paced::with_capacity(0);
        serde_json::to_writer(&mut paced, &batch).unwrap();
        let whole = serde_json::to_vec(&batch).unwrap();
        assert!(whole.len() > 4 * PACE_BYTES, "it takes several pieces");
        assert_eq!(paced.buf, whole);
        #[derive(serde::Deserialize)]
        struct Read {
            events: Vec<UsageEvent>,
            inspected_skipped: u64,
        }
        let read: Read = serde_json::from_slice(&paced.buf).unwrap();
        assert_eq!(read.events, events);
        assert_eq!(read.inspected_skipped, 7);
        free(Parts {
            events: written,
            ..Parts::default()
        });
    }

    #[test]
    fn a_batch_too_large_for_one_post_goes_in_two_with_nothing_lost() {
        let event = |n: usize| {
            raw(&UsageEvent {
                profile: "p".into(),
                model: format!("m{n}"),
                source: "proxy".into(),
                ..UsageEvent::default()
            })
        };
        let parts = Parts {
            events: (0..5).map(event).collect(),
            inspected_skipped: 3,
            ..Parts::default()
        };
        let (first, second) = halves(parts);
        let models = |p: &Parts| {
            p.events
                .iter()
                .map(|e| serde_json::from_str::<UsageEvent>(e.get()).unwrap().model)
                .collect::<Vec<_>>()
        };
        assert_eq!(models(&first), ["m0", "m1"]);
        assert_eq!(models(&second), ["m2", "m3", "m4"]);
        assert_eq!((first.inspected_skipped, second.inspected_skipped), (3, 0));
    }
}
