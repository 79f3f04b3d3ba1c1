//! Busy polling before a proxy thread sleeps (`proxy.busy_poll_us`).
//!
//! A proxied request is a relay: the agent's request wakes the proxy, the proxy wakes the
//! upstream, the answer wakes the proxy, the proxy wakes the agent. Each wake-up of a
//! sleeping thread on another CPU is an inter-processor interrupt, and in a VM the
//! sleeping vCPU must be scheduled again by the host: on a 2-vCPU machine those
//! hand-offs, not the proxy's own work, are most of what a hop adds (bench/README.md).
//!
//! So when the runtime has nothing left to run and is about to sleep in `epoll_wait`, it
//! first polls its epoll instance (a zero-timeout `poll(2)`, readable when an event is
//! waiting) for up to the budget, yielding the CPU between polls to any task woken on it.
//! An answer that arrives meanwhile finds the thread awake: the sender wakes nobody, and
//! the proxy goes on at once. The thread polls only while its waits are short — when its
//! last wait (from going idle to the next event) was within the budget — so a proxy
//! between requests, or relaying a stream whose events come tens of milliseconds apart,
//! sleeps at once as before and costs nothing.
//!
//! The runtime does not name its epoll descriptor: it is found as the `eventpoll`
//! descriptor whose registrations (`/proc/self/fdinfo`) list a socket just registered
//! with the runtime. When it is not found, or off Linux, there is no busy polling and
//! nothing else changes.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The busy poll of one current-thread runtime; its hooks are `on_thread_park` and
/// `on_thread_unpark`.
pub struct BusyPoll {
    budget: Duration,
    /// The runtime's epoll descriptor, once found ([`BusyPoll::arm`]).
    epoll: OnceLock<i32>,
    origin: Instant,
    /// When the thread last went idle, in ns since `origin`.
    idle_since: AtomicU64,
    /// How long its last wait was, in ns.
    last_wait: AtomicU64,
}

/// What one busy poll ended with.
#[derive(Debug, PartialEq, Eq)]
pub enum Spun {
    /// An event was waiting: the runtime's `epoll_wait` returns at once.
    Ready,
    /// The budget ran out: the runtime sleeps.
    Timeout,
    /// Not polled: no budget, no epoll found, or the last wait was long.
    Skipped,
}

impl BusyPoll {
    pub fn new(budget: Duration) -> Self {
        Self {
            budget,
            epoll: OnceLock::new(),
            origin: Instant::now(),
            idle_since: AtomicU64::new(0),
            // The first wait is taken as long: no polling before the first short one.
            last_wait: AtomicU64::new(u64::MAX),
        }
    }

    /// Finds the runtime's epoll instance: called in the runtime's context, it registers
    /// a socket of its own with the runtime and looks for the `eventpoll` descriptor that
    /// lists it (`/proc/self/fdinfo`). True when armed.
    pub fn arm(&self) -> bool {
        if self.budget.is_zero() {
            return false;
        }
        match find_epoll() {
            Some(fd) => self.epoll.set(fd).is_ok(),
            None => {
                tracing::debug!("no busy polling: the runtime's epoll was not found");
                false
            }
        }
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The `on_thread_park` hook: the runtime has nothing to run.
    pub fn before_park(&self) {
        self.idle_since.store(self.now_ns(), Ordering::Relaxed);
        self.spin();
    }

    /// The `on_thread_unpark` hook: how long the wait was decides the next one.
    pub fn after_unpark(&self) {
        let waited = self
            .now_ns()
            .saturating_sub(self.idle_since.load(Ordering::Relaxed));
        self.last_wait.store(waited, Ordering::Relaxed);
    }

    /// Polls the epoll until an event waits or the budget is spent, when the last wait
    /// was within the budget.
    pub fn spin(&self) -> Spun {
        let Some(&fd) = self.epoll.get() else {
            return Spun::Skipped;
        };
        let budget = u64::try_from(self.budget.as_nanos()).unwrap_or(u64::MAX);
        if self.last_wait.load(Ordering::Relaxed) > budget {
            return Spun::Skipped;
        }
        let start = Instant::now();
        loop {
            if ready(fd) {
                return Spun::Ready;
            }
            if start.elapsed() >= self.budget {
                return Spun::Timeout;
            }
            // Anyone else waiting for this CPU (the agent or the upstream woken here)
            // runs first.
            // SAFETY: no arguments; it only gives up the CPU.
            unsafe { nix::libc::sched_yield() };
        }
    }
}

/// Whether an event waits on the epoll instance `fd` (or polling it failed: the
/// runtime's own wait then reports what is wrong).
fn ready(fd: i32) -> bool {
    let mut p = nix::libc::pollfd {
        fd,
        events: nix::libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one initialised pollfd and a count of one; a zero timeout never blocks. The
    // descriptor is the runtime's, open for as long as the runtime whose hook calls this.
    unsafe { nix::libc::poll(&mut p, 1, 0) != 0 }
}

/// The epoll descriptor of the current runtime: the one whose registrations list a
/// socket just registered with the runtime (by its number and inode).
#[cfg(target_os = "linux")]
fn find_epoll() -> Option<i32> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    tokio::runtime::Handle::try_current().ok()?;
    let (probe, _peer) = std::os::unix::net::UnixStream::pair().ok()?;
    probe.set_nonblocking(true).ok()?;
    let fd = probe.as_raw_fd();
    let ino = std::fs::metadata(format!("/proc/self/fd/{fd}")).ok()?.ino();
    let _registered = tokio::net::UnixStream::from_std(probe).ok()?;
    let lists_probe = |epfd: i32| {
        std::fs::read_to_string(format!("/proc/self/fdinfo/{epfd}")).is_ok_and(|info| {
            info.lines().any(|l| {
                let mut words = l.split_whitespace();
                words.next() == Some("tfd:")
                    && words.next().and_then(|n| n.parse().ok()) == Some(fd)
                    && words.any(|w| {
                        w.strip_prefix("ino:")
                            .and_then(|h| u64::from_str_radix(h, 16).ok())
                            == Some(ino)
                    })
            })
        })
    };
    // Only the runtime's instance has the probe's registration (a socket's inode is its
    // own); the first of its descriptors will do.
    std::fs::read_dir("/proc/self/fd")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&epfd| {
            std::fs::read_link(format!("/proc/self/fd/{epfd}"))
                .is_ok_and(|l| l.as_os_str() == "anon_inode:[eventpoll]")
        })
        .find(|&epfd| lists_probe(epfd))
}

#[cfg(not(target_os = "linux"))]
fn find_epoll() -> Option<i32> {
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests;
