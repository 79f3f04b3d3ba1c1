//! The bookkeeping lane: work that must never hold up a request being served (decoding
//! and checking the proxies' usage batches) runs on one thread of the lowest scheduling
//! class the kernel has. On Linux that is `SCHED_IDLE`: the thread runs only on a CPU
//! nothing else wants, and any other thread that wakes takes that CPU from it at once,
//! where a merely lower priority (a nice value) still lets the running thread finish its
//! slice first — a millisecond or two added to the request that waited.
//!
//! The guard: a job the lane has not started within its `patience` (every CPU busy, so
//! the lane gets none) is run by the caller instead, at the caller's priority. Late by
//! at most that much, bookkeeping is never starved; a job the lane started is its own.
//!
//! A class orders a thread only among the threads of its own scheduling group, though:
//! the kernel first picks between groups — one per session (autogroup) outside a service
//! manager, one per cgroup inside one — and only then within the group. Against a woken
//! thread of another group (an agent, an upstream) a `SCHED_IDLE` thread, or one that
//! yields, keeps its CPU for as long as its group's turn lasts: measured here, up to
//! 4 ms. So long bookkeeping goes in pieces with a moment's sleep between them ([`Pace`]):
//! a sleep takes a thread off its CPU whatever the groups, and a woken thread waits at
//! most one piece.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{Deserializer, SeqAccess, Visitor};
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

pub struct Lane {
    jobs: Option<mpsc::Sender<Job>>,
}

/// The daemon's bookkeeping lane (started on first use).
pub fn bookkeeping() -> &'static Lane {
    static LANE: OnceLock<Lane> = OnceLock::new();
    LANE.get_or_init(|| Lane::spawn("bookkeeping"))
}

impl Lane {
    /// A lane on a thread of its own; without one (the thread cannot start) every job
    /// runs on its caller.
    pub fn spawn(name: &str) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        let started = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                lowest_priority();
                for job in rx {
                    job();
                }
            });
        match started {
            Ok(_) => Self { jobs: Some(tx) },
            Err(e) => {
                tracing::warn!("cannot start the {name} thread: {e}; its work runs inline");
                Self { jobs: None }
            }
        }
    }

    /// Runs `f` on the lane, or on the caller when the lane has not started it within
    /// `patience`. `None` only when `f` panicked on the lane.
    pub async fn run<T, F>(&self, patience: Duration, f: F) -> Option<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let slot = Arc::new(Mutex::new(Some(f)));
        let take = |slot: &Mutex<Option<F>>| slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        let (tx, mut rx) = oneshot::channel();
        let theirs = slot.clone();
        let job: Job = Box::new(move || {
            if let Some(f) = take(&theirs) {
                let _ = tx.send(f());
            }
        });
        let offered = self
            .jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send(job).is_ok());
        if offered && let Ok(done) = tokio::time::timeout(patience, &mut rx).await {
            return done.ok();
        }
        match take(&slot) {
            Some(f) => Some(f()),
            // The lane took it in the meantime.
            None => rx.await.ok(),
        }
    }
}

/// How long a piece of bookkeeping gives its CPU away ([`Pace`]); with the kernel's timer
/// slack the thread is back some 50–100 µs later.
const PAUSE: Duration = Duration::from_micros(20);

/// Bookkeeping in pieces: every `every` steps the thread sleeps for a moment ([`PAUSE`]),
/// so a thread woken meanwhile on its CPU waits at most one piece (see the module's
/// documentation). For a thread that may block: a lane, a blocking pool's thread, the
/// proxy's reporter.
pub struct Pace {
    every: usize,
    since: usize,
}

impl Pace {
    pub const fn every(every: usize) -> Self {
        Self { every, since: 0 }
    }

    /// Counts one step, and sleeps for a moment after every `every`.
    pub fn step(&mut self) {
        self.since += 1;
        if self.since >= self.every {
            self.since = 0;
            pause();
        }
    }
}

/// The moment's sleep between two pieces of bookkeeping ([`Pace`]), unless this thread is
/// [`hurried`].
pub fn pause() {
    if !HURRIED.get() {
        std::thread::sleep(PAUSE);
    }
}

thread_local! {
    static HURRIED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` without the moments' sleeps ([`pause`]) when `hurry`: bookkeeping that is
/// behind the requests (a backlog under load). The sleeps leave the CPU to a woken
/// request while there is CPU to spare; with every CPU busy each one takes a turn of the
/// scheduler to come back from, and a batch of 20,000 events paced in some 2,400 pieces
/// fell further behind than its proxy's requests came.
pub fn hurried<T>(hurry: bool, f: impl FnOnce() -> T) -> T {
    /// Puts the thread back as it was, `f` panicking included.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            HURRIED.set(self.0);
        }
    }
    let _restore = Restore(HURRIED.replace(hurry));
    f()
}

/// Frees a long list 64 items at a time with a moment's sleep between ([`Pace`]): a busy
/// proxy's batch is thousands of reports of a dozen strings each, whose freeing in one go
/// takes milliseconds.
pub fn drop_paced<T>(mut items: Vec<T>) {
    const PIECE: usize = 64;
    while items.len() > PIECE {
        items.truncate(items.len() - PIECE);
        pause();
    }
}

/// A list decoded with a [`Pace`] of 64 items: for `#[serde(deserialize_with)]` on the
/// long lists of a usage batch. Decodes what `Vec<T>` decodes, with the same errors.
pub fn paced_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Items<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Items<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a sequence")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            // In pieces of `PIECE`, joined once the length is known: a list of thousands
            // grown as it fills is copied whole, and its fresh memory faulted in, in
            // single runs of a millisecond and more.
            const PIECE: usize = 512;
            let mut pieces = Vec::new();
            let mut piece = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(PIECE));
            let mut pace = Pace::every(64);
            while let Some(item) = seq.next_element()? {
                if piece.len() == PIECE {
                    pieces.push(std::mem::replace(&mut piece, Vec::with_capacity(PIECE)));
                }
                piece.push(item);
                pace.step();
            }
            if pieces.is_empty() {
                return Ok(piece);
            }
            let mut items = Vec::with_capacity(pieces.len() * PIECE + piece.len());
            for full in pieces {
                items.extend(full);
                pause();
            }
            items.extend(piece);
            Ok(items)
        }
    }
    d.deserialize_seq(Items(std::marker::PhantomData))
}

/// `SCHED_IDLE` for the calling thread, or nice 19 where that is refused (Linux, where
/// both are per thread); elsewhere the thread keeps its priority.
pub fn lowest_priority() {
    #[cfg(target_os = "linux")]
    {
        let param = nix::libc::sched_param { sched_priority: 0 };
        // SAFETY: `param` outlives the call; pid 0 is the calling thread.
        if unsafe { nix::libc::sched_setscheduler(0, nix::libc::SCHED_IDLE, &param) } != 0 {
            // SAFETY: setpriority takes no pointers; `who = 0` is the calling thread.
            let _ = unsafe { nix::libc::setpriority(nix::libc::PRIO_PROCESS, 0, 19) };
        }
    }
}

/// Nice 10 for the calling thread (Linux, where the nice value is per thread; elsewhere
/// nothing changes): work beside a more urgent thread of the same job, which gets a CPU
/// both want first.
pub fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority takes no pointers; `who = 0` is the calling thread.
    let _ = unsafe { nix::libc::setpriority(nix::libc::PRIO_PROCESS, 0, 10) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hurried_thread_does_not_pause_and_the_rest_still_do() {
        let timed = |hurry| {
            let started = std::time::Instant::now();
            hurried(hurry, || {
                let mut pace = Pace::every(1);
                for _ in 0..200 {
                    pace.step();
                }
            });
            started.elapsed()
        };
        // 200 pauses of at least 20 µs each.
        assert!(timed(false) >= PAUSE * 200);
        assert!(timed(true) < PAUSE * 200);
        assert!(!HURRIED.get(), "the thread is as it was after");
        let panicked = std::panic::catch_unwind(|| hurried(true, || panic!("in the work")));
        assert!(panicked.is_err());
        assert!(!HURRIED.get(), "and after a panic in the work");
    }

    #[derive(Debug, Deserialize)]
    struct Paced {
        #[serde(default, deserialize_with = "paced_vec")]
        items: Vec<u32>,
    }

    #[test]
    fn a_paced_list_reads_as_a_list_with_the_same_errors() {
        // Within one piece, at the pieces' edges, and over several.
        for n in [0, 1, 511, 512, 513, 1024, 1500] {
            let many: Vec<u32> = (0..n).collect();
            let json = serde_json::json!({ "items": many }).to_string();
            let paced: Paced = serde_json::from_str(&json).unwrap();
            assert_eq!(paced.items, many, "{n} items");
            drop_paced(paced.items);
        }
        assert!(
            serde_json::from_str::<Paced>("{}")
                .unwrap()
                .items
                .is_empty()
        );
        #[derive(Debug, Deserialize)]
        struct Plain {
            #[allow(dead_code)]
            items: Vec<u32>,
        }
        let late = format!(r#"{{"items":[{}"x"]}}"#, "1,".repeat(700));
        for bad in [
            r#"{"items":5}"#,
            r#"{"items":[1,"x"]}"#,
            r#"{"items":[1,2"#,
            &late,
        ] {
            let a = serde_json::from_str::<Paced>(bad).unwrap_err().to_string();
            let b = serde_json::from_str::<Plain>(bad).unwrap_err().to_string();
            assert_eq!(a, b, "{bad}");
        }
    }

    #[tokio::test]
    async fn a_job_runs_once_on_the_lane_or_on_its_caller() {
        let lane: &'static Lane = Box::leak(Box::new(Lane::spawn("test-lane")));
        assert_eq!(lane.run(Duration::from_secs(5), || 7).await, Some(7));
        // A lane busy with a long job: the next one is run by its caller after the patience.
        let (hold, wait) = std::sync::mpsc::channel::<()>();
        let (began, begun) = std::sync::mpsc::channel::<()>();
        let busy = lane.run(Duration::from_secs(60), move || {
            let _ = began.send(());
            let _ = wait.recv();
        });
        let busy = tokio::spawn(busy);
        while begun.try_recv().is_err() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let ran = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = ran.clone();
        let on = lane
            .run(Duration::from_millis(10), move || {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::thread::current().name().map(str::to_owned)
            })
            .await;
        assert_ne!(on.flatten().as_deref(), Some("test-lane"));
        hold.send(()).unwrap();
        busy.await.unwrap();
        // The lane, reaching the job its caller already ran, leaves it.
        assert_eq!(lane.run(Duration::from_secs(5), || 1).await, Some(1));
        assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
