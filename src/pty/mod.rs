//! Terminal sessions (DESIGN §12): agents in pseudo-terminals inside the daemon, shared by
//! any number of WebSocket clients.
//!
//! [`holder`] is the small process each session's program runs under, so it outlives the
//! daemon; [`spawn`] starts a program on a new PTY (in the holder), [`session`] runs one
//! session (output to a bounded [`scrollback`], kept in a [`ring`] file, and a broadcast to
//! clients, input to the PTY, the end of the program, its [`attention`] state read from
//! hooks, the proxy and the [`screen`]), [`kill`] ends a session's processes, and
//! [`manager`] owns the set of sessions, announces their starts and ends, and at start
//! takes back the sessions an earlier daemon left running.

pub mod attention;
pub mod holder;
pub mod kill;
pub mod manager;
pub mod restore;
pub mod ring;
pub mod screen;
pub mod scrollback;
pub mod session;
pub mod spawn;

pub use manager::{NewSession, Terminals};
pub use session::{Attachment, Info, Output, Session};
pub use spawn::Program;

/// Largest terminal width or height a client may ask for.
pub const MAX_DIMENSION: u16 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum PtyError {
    #[error("cannot {action}: {source}")]
    Open {
        action: &'static str,
        source: std::io::Error,
    },
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(
        "Too many terminal sessions: {limit} are running (terminal.max_sessions); end one first"
    )]
    Limit { limit: usize },
    #[error("The daemon is shutting down")]
    ShuttingDown,
}
