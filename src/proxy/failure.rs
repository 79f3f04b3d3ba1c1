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
pub fn classify(provider: &str, e: &hyper_util::client::legacy::Error) -> Failure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut detail = e.to_string();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            detail = io.to_string();
            if io.kind() == std::io::ErrorKind::TimedOut {
                return Failure::Timeout(format!("connecting to {provider}: {detail}"));
            }
        }
        source = s.source();
    }
    Failure::Transport(format!("{provider}: {detail}"))
}
