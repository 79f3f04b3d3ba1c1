//! The attention states of a terminal session (see `pty::attention` for how they are
//! tracked): a plain type shared by the agents' hook mapping, the sessions, the API and
//! the notifications.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Attention {
    Idle,
    Working,
    NeedsInput,
    TurnFinished,
    RateLimited,
    Errored,
    Exited,
}

impl Attention {
    pub const ALL: [Attention; 7] = [
        Attention::Idle,
        Attention::Working,
        Attention::NeedsInput,
        Attention::TurnFinished,
        Attention::RateLimited,
        Attention::Errored,
        Attention::Exited,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Attention::Idle => "idle",
            Attention::Working => "working",
            Attention::NeedsInput => "needs_input",
            Attention::TurnFinished => "turn_finished",
            Attention::RateLimited => "rate_limited",
            Attention::Errored => "errored",
            Attention::Exited => "exited",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Whether the session waits for its user: the "needs you" list.
    pub fn waiting(self) -> bool {
        matches!(
            self,
            Attention::NeedsInput
                | Attention::TurnFinished
                | Attention::RateLimited
                | Attention::Errored
        )
    }
}

/// Where a change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Hook,
    Proxy,
    Terminal,
    Exit,
}
