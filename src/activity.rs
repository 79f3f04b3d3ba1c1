//! Open connections and the moment the last one closed, for the daemon's idle exit.

use std::sync::RwLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

#[derive(Default)]
pub struct Activity {
    open: AtomicUsize,
    last_close: RwLock<Option<Instant>>,
}

impl Activity {
    pub fn opened(&self) {
        self.open.fetch_add(1, Ordering::SeqCst);
    }

    pub fn closed(&self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
        *self.last_close.write().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }

    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// When the daemon last did anything for a client (or `since` if never).
    pub fn last_active(&self, since: Instant) -> Instant {
        self.last_close
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .unwrap_or(since)
    }
}
