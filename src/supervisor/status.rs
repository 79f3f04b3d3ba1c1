//! What the API and the event bus say about a proxy.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Spawned, not yet answering `/health`.
    Starting,
    Running,
    /// Crashed; waiting `backoff_ms` before the next start.
    Backoff,
    Stopped,
    /// Crashed too often (or cannot start at all); stays down until started again.
    Failed,
}

impl State {
    /// Whether the supervisor is keeping this proxy up.
    pub fn is_active(self) -> bool {
        matches!(self, State::Starting | State::Running | State::Backoff)
    }
}

/// The reference's fields (profile, port, pid, status, restarts, started_at) and what a
/// user needs to see why a proxy is down.
#[derive(Debug, Clone, Serialize)]
pub struct ProxyStatus {
    pub profile: String,
    pub port: Option<u16>,
    pub pid: Option<u32>,
    pub status: State,
    /// Restarts after crashes since the proxy was last started by hand (or at daemon start).
    pub restarts: u32,
    /// When the running process became healthy.
    pub started_at: Option<String>,
    /// Where agents reach it.
    pub url: Option<String>,
    pub last_exit_code: Option<i32>,
    pub last_error: Option<String>,
    /// The current restart delay, while in `backoff`.
    pub backoff_ms: Option<u64>,
}

impl ProxyStatus {
    pub fn stopped(profile: &str) -> Self {
        Self {
            profile: profile.to_string(),
            port: None,
            pid: None,
            status: State::Stopped,
            restarts: 0,
            started_at: None,
            url: None,
            last_exit_code: None,
            last_error: None,
            backoff_ms: None,
        }
    }
}

impl State {
    /// The state's name as the API spells it.
    pub fn label(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Running => "running",
            State::Backoff => "backoff",
            State::Stopped => "stopped",
            State::Failed => "failed",
        }
    }
}
