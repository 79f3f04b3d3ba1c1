//! The reporter threads: the first one in the kernel's lowest class, the relief one at the
//! proxy's own priority (started when the first falls behind), and the wait for both at
//! shutdown.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::post::{Beat, run};
use super::{QUEUE, Report, ReporterTask, Shared};

/// A second reporter thread at the proxy's own priority, for the reports that come while
/// the first (`SCHED_IDLE`, see `lane`) is behind (see `Reporter::send`): busy CPUs never
/// starve the usage, and a CPU with nothing else to do gives the first one all it needs.
/// At nice 10 it was starved too: 32 connections for 20 s through the bench proxy on two
/// CPUs, and 13.7 % of the requests' events were dropped with the queue full (it had run
/// for under a second of CPU).
#[derive(Default)]
pub(super) struct Relief {
    start: Option<(String, Option<String>)>,
    shared: Arc<Shared>,
    sender: OnceLock<Option<mpsc::Sender<Report>>>,
    done: std::sync::Mutex<Option<oneshot::Receiver<()>>>,
}

impl Relief {
    /// A relief reporter posting to `url`, started on first need.
    pub(super) fn new(url: String, token: Option<String>, shared: Arc<Shared>) -> Self {
        Self {
            start: Some((url, token)),
            shared,
            ..Self::default()
        }
    }

    pub(super) fn sender(&self) -> Option<&mpsc::Sender<Report>> {
        self.sender
            .get_or_init(|| {
                let (url, token) = self.start.clone()?;
                let (tx, done) = start(
                    "usage-relief",
                    Class::Normal,
                    url,
                    token,
                    self.shared.clone(),
                    Beat::default(),
                )?;
                *self.done.lock().unwrap_or_else(|p| p.into_inner()) = Some(done);
                Some(tx)
            })
            .as_ref()
    }
}

#[derive(Clone, Copy)]
pub(super) enum Class {
    /// `SCHED_IDLE`: runs only on a CPU nothing else wants.
    Idle,
    /// The thread's own priority, unchanged.
    Normal,
}

/// A reporter thread: its channel and the signal that it sent everything.
pub(super) fn start(
    name: &str,
    class: Class,
    url: String,
    token: Option<String>,
    shared: Arc<Shared>,
    beat: Beat,
) -> Option<(mpsc::Sender<Report>, oneshot::Receiver<()>)> {
    let (tx, rx) = mpsc::channel(QUEUE);
    let (done_tx, done_rx) = oneshot::channel();
    let started = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            // The relief runs only when the reports are behind: it writes and frees its
            // batches without pauses (`lane::hurried`).
            let hurry = matches!(class, Class::Normal);
            background(class);
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => crate::lane::hurried(hurry, || {
                    rt.block_on(run(rx, url, token, shared, beat, hurry))
                }),
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

impl ReporterTask {
    /// Waits (bounded) until every queued event was sent, by both reporters. Every
    /// `Reporter` clone must have been dropped first, or this waits for the whole `limit`.
    pub async fn flush(self, limit: Duration) {
        let ReporterTask { done, relief } = self;
        let relief_done = relief.done.lock().unwrap_or_else(|p| p.into_inner()).take();
        // The relief's sender goes with the last handle on it, this one: its thread's
        // channel then closes, and the thread ends once it has sent what it holds.
        drop(relief);
        let both = async {
            for done in [done, relief_done].into_iter().flatten() {
                let _ = done.await;
            }
        };
        if tokio::time::timeout(limit, both).await.is_err() {
            tracing::warn!("usage not flushed within {limit:?}; some events are lost");
        }
    }
}

/// Puts this thread in its class: `SCHED_IDLE` (see `lane`), or leaves it as it is.
fn background(class: Class) {
    match class {
        Class::Idle => crate::lane::lowest_priority(),
        Class::Normal => {}
    }
}
