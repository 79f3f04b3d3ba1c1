//! Why an attempt at one upstream target failed before anything reached the agent, and
//! a client error taken apart into a refused connection (502) or a timeout (504).

/// Why an attempt at one target failed before anything reached the agent.
pub enum Failure {
    Transport(String),
    Timeout(String),
    /// An error status (429, 5xx) from a member with another after it, or of a pool.
    Status(u16, String),
}

impl Failure {
    /// The status counted for the attempt in `/metrics` (what the agent would have got).
    pub fn status(&self) -> u16 {
        match self {
            Failure::Transport(_) => 502,
            Failure::Timeout(_) => 504,
            Failure::Status(s, _) => *s,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Failure::Transport(m) | Failure::Timeout(m) | Failure::Status(_, m) => m,
        }
    }
}

/// A connection error is a 502; a connect timeout a 504.
pub fn classify(provider: &str, e: &super::client::Error) -> Failure {
    if e.is_timeout() {
        return Failure::Timeout(format!("connecting to {provider}: {e}"));
    }
    Failure::Transport(format!("{provider}: {e}"))
}
