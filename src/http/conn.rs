//! What a request knows about the connection it came on: whether it came over the
//! owner-only Unix socket, and a flag that the guard raises once a request on it
//! presented the token. Until then the connection counts as pending: the accept loop caps
//! how many pending connections may be open at once and gives each a short time to
//! authenticate, so idle or anonymous connections cannot use up the daemon's descriptors.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Inserted into every request's extensions by the accept loop.
#[derive(Clone)]
pub struct Conn(Arc<Inner>);

struct Inner {
    unix: bool,
    authenticated: AtomicBool,
    /// The accept loop's count of pending connections; left once, on authentication or
    /// on close.
    pending: Arc<AtomicUsize>,
}

impl Conn {
    /// A new connection, counted as pending.
    pub fn new(unix: bool, pending: Arc<AtomicUsize>) -> Self {
        pending.fetch_add(1, Ordering::SeqCst);
        Self(Arc::new(Inner {
            unix,
            authenticated: AtomicBool::new(false),
            pending,
        }))
    }

    /// Whether the connection came over the Unix socket (only its owner can connect).
    pub fn is_unix(&self) -> bool {
        self.0.unix
    }

    pub fn is_authenticated(&self) -> bool {
        self.0.authenticated.load(Ordering::SeqCst)
    }

    /// A request on this connection presented the token.
    pub fn authenticated(&self) {
        if !self.0.authenticated.swap(true, Ordering::SeqCst) {
            self.0.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// The connection closed.
    pub fn closed(&self) {
        if !self.0.authenticated.swap(true, Ordering::SeqCst) {
            self.0.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_is_left_once() {
        let pending = Arc::new(AtomicUsize::new(0));
        let a = Conn::new(false, pending.clone());
        let b = Conn::new(true, pending.clone());
        assert_eq!(pending.load(Ordering::SeqCst), 2);
        a.authenticated();
        a.authenticated();
        a.closed();
        assert_eq!(pending.load(Ordering::SeqCst), 1);
        b.closed();
        assert_eq!(pending.load(Ordering::SeqCst), 0);
        assert!(b.is_unix() && !a.is_unix());
    }
}
