//! Terminal sessions (DESIGN §12): agents in pseudo-terminals inside the daemon, shared by
//! any number of WebSocket clients.
//!
//! [`spawn`] starts a program on a new PTY, [`session`] runs one session (output to a
//! bounded [`scrollback`] and a broadcast to clients, input to the PTY, the end of the
//! program), [`kill`] ends a session's processes, and [`manager`] owns the set of
//! sessions and announces their starts and ends.

pub mod attention;
pub mod kill;
pub mod manager;
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
