//! What a session says of itself: [`Info`], the API's shape, and who is looking at it.

use std::sync::atomic::Ordering;
use std::time::Instant;

use serde::Serialize;

use super::{FOCUS_TTL, Session, life, unpack};
use crate::pty::attention::Attention;

/// The public description of a session (the API's shape).
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    pub id: String,
    pub profile_alias: String,
    pub state: &'static str,
    pub created_at: String,
    pub pid: i32,
    pub cols: u16,
    pub rows: u16,
    pub client_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// What the agent is doing: idle, working, needs_input, turn_finished, rate_limited,
    /// errored or exited.
    pub attention: Attention,
    /// Since when (RFC 3339).
    pub attention_since: String,
    /// How long it has waited for its user, for a waiting state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_secs: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attention_message: Option<String>,
    /// Whether a client shows it right now (focused and visible).
    pub looked_at: bool,
    /// The agent's own id of its conversation, once its hooks said it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// The git worktree it runs in (`path`, `branch`, `repo`, `base`…), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worktree: Option<serde_json::Value>,
}

impl Session {
    pub fn info(&self) -> Info {
        let (cols, rows) = unpack(self.size.load(Ordering::Relaxed));
        let exit_code = *self.exit.borrow();
        let (attention, since_ms, attention_message) = {
            let t = self.tracker();
            (t.state(), t.since_ms(), t.message().map(String::from))
        };
        let waiting_secs = attention
            .waiting()
            .then(|| (crate::pty::attention::now_ms() - since_ms).max(0) / 1000);
        Info {
            id: self.id.to_string(),
            profile_alias: self.profile.clone(),
            state: if exit_code.is_some() {
                "terminated"
            } else {
                "running"
            },
            created_at: self.created_at.clone(),
            pid: self.pid,
            cols,
            rows,
            client_count: self.clients.load(Ordering::SeqCst),
            exit_code,
            attention,
            attention_since: life::rfc3339_ms(since_ms),
            waiting_secs,
            attention_message,
            looked_at: self.looked_at(),
            conversation_id: self.conversation_id(),
            worktree: self.worktree.clone(),
        }
    }

    /// Client `client` shows the session (or stopped showing it).
    pub fn focus(&self, client: u64, shown: bool) {
        let mut focus = self.focus.lock().unwrap_or_else(|p| p.into_inner());
        if shown {
            focus.insert(client, Instant::now());
        } else {
            focus.remove(&client);
        }
    }

    /// Whether a client reported showing the session within [`FOCUS_TTL`].
    pub fn looked_at(&self) -> bool {
        self.focus
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .any(|t| t.elapsed() < FOCUS_TTL)
    }

    pub fn conversation_id(&self) -> Option<String> {
        self.conversation
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
