//! The reporter threads: the first one in the kernel's lowest class, the relief one at
//! nice 10 (started when the first falls behind), and the wait for both at shutdown.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::post::{Beat, run};
use super::{QUEUE, Report, ReporterTask, Shared};

/// A second reporter thread at nice 10, for the reports that come while the first
/// (`SCHED_IDLE`, see `lane`) is behind (see `Reporter::send`): busy CPUs never starve the
/// usage, and a CPU with nothing else to do gives the first one all it needs.
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
                    Class::Nice10,
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
    Nice10,
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
            background(class);
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(run(rx, url, token, shared, beat)),
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
