//! The proxy's threads: the one that accepts, and `proxy.threads - 1` more, each with a
//! current-thread runtime of its own (and its own polling before it sleeps). A connection
//! is served from its start to its end on one thread, so none of its requests' wake-ups
//! cross threads; a new one goes to the thread with the fewest open connections, the
//! accepting thread first on a tie. One agent's connection is then served exactly as on
//! a single thread, while many connections use more than one CPU (measured: one thread
//! tops out at one CPU, and with 32 connections about half nginx's requests/s;
//! bench/README.md).
//!
//! The threads share the forwarder (keys, pool, inspector, reporter); only the upstream
//! connections are per thread (`client`). At shutdown the accepting thread waits for every
//! thread's connections (the same graceful shutdown), then for the threads to end, so
//! their handles on the reporter are gone before its queue is flushed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use hyper_util::server::graceful::Watcher;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use super::busy_poll::BusyPoll;
use super::forward::Forwarder;

/// Threads when `proxy.threads` is 0: one per CPU, at most this many.
const AUTO_MAX: usize = 4;

/// How many threads `threads` (the plan's) means on this machine.
pub(super) fn count(threads: u32) -> usize {
    match threads {
        0 => std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(AUTO_MAX),
        n => n as usize,
    }
}

/// A connection handed to a thread, with its shutdown watcher and its place in the count.
type Handoff = (std::net::TcpStream, Watcher, Open);

/// One open connection on a thread: counted while it lives.
pub(super) struct Open(Arc<AtomicUsize>);

impl Open {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The other threads, and how many connections each thread (the accepting one first)
/// has open.
pub(super) struct Workers {
    open: Vec<Arc<AtomicUsize>>,
    senders: Vec<mpsc::UnboundedSender<Handoff>>,
    done: Vec<oneshot::Receiver<()>>,
}

impl Workers {
    /// Starts `threads - 1` threads beside the calling one. `serve` serves a connection
    /// on the thread's runtime; a thread that cannot start is left out (its connections go
    /// to the others).
    pub(super) fn start<S>(
        threads: usize,
        busy_poll_us: u64,
        forwarder: &Arc<Forwarder>,
        serve: S,
    ) -> Self
    where
        S: Fn(TcpStream, Arc<Forwarder>, Watcher, Open) + Clone + Send + 'static,
    {
        let mut workers = Self {
            open: vec![Arc::default()],
            senders: Vec::new(),
            done: Vec::new(),
        };
        for i in 1..threads {
            let (tx, rx) = mpsc::unbounded_channel();
            let (done_tx, done_rx) = oneshot::channel();
            let forwarder = forwarder.clone();
            let serve = serve.clone();
            let started = std::thread::Builder::new()
                .name(format!("proxy-{i}"))
                .spawn(move || {
                    run(rx, busy_poll_us, forwarder, serve);
                    let _ = done_tx.send(());
                });
            match started {
                Ok(_) => {
                    workers.open.push(Arc::default());
                    workers.senders.push(tx);
                    workers.done.push(done_rx);
                }
                Err(e) => tracing::warn!("cannot start proxy thread {i}: {e}"),
            }
        }
        workers
    }

    /// Places a new connection on the thread with the fewest open, this one first on a
    /// tie: what to serve here, or nothing when another thread took it. A connection that
    /// cannot be handed over stays here.
    pub(super) fn place(
        &self,
        stream: TcpStream,
        watcher: Watcher,
    ) -> Option<(TcpStream, Watcher, Open)> {
        let least = (0..self.open.len())
            .min_by_key(|&i| self.open[i].load(Ordering::Relaxed))
            .unwrap_or(0);
        let Some(sender) = least.checked_sub(1).and_then(|i| self.senders.get(i)) else {
            return Some((stream, watcher, Open::new(&self.open[0])));
        };
        let std = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!("cannot hand a connection over: {e}");
                return None;
            }
        };
        let Err(mpsc::error::SendError((std, watcher, _))) =
            sender.send((std, watcher, Open::new(&self.open[least])))
        else {
            return None;
        };
        match TcpStream::from_std(std) {
            Ok(s) => Some((s, watcher, Open::new(&self.open[0]))),
            Err(e) => {
                tracing::debug!("cannot take a connection back: {e}");
                None
            }
        }
    }

    /// Stops the other threads (their connections must have ended, or be given up) and
    /// waits for them, up to `limit`.
    pub(super) async fn stop(self, limit: Duration) {
        let Self { senders, done, .. } = self;
        drop(senders);
        let all = async {
            for d in done {
                let _ = d.await;
            }
        };
        if tokio::time::timeout(limit, all).await.is_err() {
            tracing::warn!("proxy threads still running after {limit:?}");
        }
    }
}

/// A thread's loop: serves each connection handed to it until the accepting thread
/// lets go of its channel.
fn run<S>(
    mut rx: mpsc::UnboundedReceiver<Handoff>,
    busy_poll_us: u64,
    forwarder: Arc<Forwarder>,
    serve: S,
) where
    S: Fn(TcpStream, Arc<Forwarder>, Watcher, Open),
{
    let runtime = match runtime(busy_poll_us) {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start a proxy thread's runtime: {e:#}");
            return;
        }
    };
    runtime.block_on(async {
        keep_timer_due();
        while let Some((std, watcher, open)) = rx.recv().await {
            match TcpStream::from_std(std) {
                Ok(stream) => serve(stream, forwarder.clone(), watcher, open),
                Err(e) => tracing::debug!("cannot take a connection over: {e}"),
            }
        }
    });
    drop(forwarder);
    runtime.shutdown_timeout(Duration::from_millis(100));
}

/// A thread's runtime: current-thread, and before it sleeps it polls for a moment while
/// its waits are short (`busy_poll`).
pub(super) fn runtime(busy_poll_us: u64) -> anyhow::Result<tokio::runtime::Runtime> {
    let busy = Arc::new(BusyPoll::new(Duration::from_micros(busy_poll_us)));
    let (park, unpark) = (busy.clone(), busy.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_park(move || park.before_park())
        .on_thread_unpark(move || unpark.after_unpark())
        .build()
        .context("cannot start the async runtime")?;
    {
        let _in_runtime = runtime.enter();
        busy.arm();
    }
    Ok(runtime)
}

/// A timer always due within 30 s on this thread's runtime: each request's header-read
/// timeout (60 s) is then never the runtime's earliest, and arming it does not wake the
/// runtime through its eventfd (a system call and an extra turn of the event loop per
/// request).
pub(super) fn keep_timer_due() {
    tokio::spawn(async {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
        }
    });
}
