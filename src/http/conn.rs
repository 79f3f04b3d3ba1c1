//! What a request knows about the connection it came on: whether it came over the
//! owner-only Unix socket, and a flag that the guard raises once a request on it
//! presented the token. Until then the connection counts as pending: the accept loop caps
//! how many pending connections may be open at once and gives each a short time to
//! authenticate, so idle or anonymous connections cannot use up the daemon's descriptors.
//! Past the cap the oldest pending connection is closed ([`Conn::evict`]), not the new
//! one: a client that sends its request as soon as it connects always gets through.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Inserted into every request's extensions by the accept loop.
#[derive(Clone)]
pub struct Conn(Arc<Inner>);

struct Inner {
    unix: bool,
    authenticated: AtomicBool,
    evicted: tokio::sync::Notify,
}

impl Conn {
    /// A new connection, pending.
    pub fn new(unix: bool) -> Self {
        Self(Arc::new(Inner {
            unix,
            authenticated: AtomicBool::new(false),
            evicted: tokio::sync::Notify::new(),
        }))
    }

    /// Whether the connection came over the Unix socket (only its owner can connect).
    pub fn is_unix(&self) -> bool {
        self.0.unix
    }

    pub fn is_authenticated(&self) -> bool {
        self.0.authenticated.load(Ordering::SeqCst)
    }

    /// A request on this connection presented the token: it is pending no more.
    pub fn authenticated(&self) {
        self.0.authenticated.store(true, Ordering::SeqCst);
    }

    /// Asks the connection's task to close it (it is the oldest pending one).
    pub fn evict(&self) {
        self.0.evicted.notify_one();
    }

    /// Resolves when the connection was asked to close.
    pub async fn evicted(&self) {
        self.0.evicted.notified().await
    }

    /// The connection closed: it is pending no more either.
    pub fn closed(&self) {
        self.0.authenticated.store(true, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_until_authenticated_or_closed() {
        let a = Conn::new(false);
        let b = Conn::new(true);
        assert!(!a.is_authenticated() && !b.is_authenticated());
        a.authenticated();
        b.closed();
        assert!(a.is_authenticated() && b.is_authenticated());
        assert!(b.is_unix() && !a.is_unix());
    }
}
