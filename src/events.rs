//! The broadcast bus of state changes (DESIGN §13).
//!
//! Components publish [`Event`]s; `/ws/events` subscribers and internal watchers receive
//! them. A slow subscriber lags and skips ahead instead of blocking publishers.

use std::sync::Arc;

use serde::{Serialize, Serializer};
use serde_json::Value;
use tokio::sync::broadcast;

/// One state change, serialized as `{"type":…, "data":…, "ts":…}`.
///
/// Every subscriber receives its own clone of each event, so the data is shared, not
/// copied: a batch of the inspector's requests (up to a thousand entries) was otherwise
/// deep-copied once per internal watcher, a sixth of the daemon's CPU under a busy proxy
/// (bench/README.md, "The plain path").
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(serialize_with = "shared")]
    pub data: Arc<Value>,
    pub ts: String,
}

fn shared<S: Serializer>(data: &Arc<Value>, s: S) -> Result<S::Ok, S::Error> {
    data.as_ref().serialize(s)
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
            data: Arc::new(data),
            ts: crate::time::now_rfc3339(),
        });
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}
