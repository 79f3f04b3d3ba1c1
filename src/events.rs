//! The broadcast bus of state changes (DESIGN §13).
//!
//! Components publish [`Event`]s; `/ws/events` subscribers and internal watchers receive
//! them. A slow subscriber lags and skips ahead instead of blocking publishers.

use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast;

/// One state change, serialized as `{"type":…, "data":…, "ts":…}`.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub data: Value,
    pub ts: String,
}

#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(1024);
        Self { tx }
    }

    /// Publishes an event; having no subscriber is fine.
    pub fn publish(&self, kind: &'static str, data: Value) {
        let _ = self.tx.send(Event {
            kind,
            data,
            ts: crate::time::now_rfc3339(),
        });
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}
