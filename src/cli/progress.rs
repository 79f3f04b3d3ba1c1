//! Progress of long daemon operations, fed by `/ws/events` while the request runs: a bar
//! for imports, npm's lines for agent installs.

use std::future::Future;
use std::io::{IsTerminal, Write};

use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use super::Client;

/// Awaits `work`, drawing `usage_import_progress` events as a bar on a terminal stderr.
pub async fn with_progress<F>(client: &Client, work: F) -> anyhow::Result<Value>
where
    F: Future<Output = anyhow::Result<Value>>,
{
    if !std::io::stderr().is_terminal() {
        return work.await;
    }
    let result = with_events(client, work, |ev| {
        if ev["type"] == "usage_import_progress" {
            draw(&ev["data"]);
        }
    })
    .await;
    eprint!("\r\x1b[2K");
    let _ = std::io::stderr().flush();
    result
}

/// Awaits `work`, handing every event on `/ws/events` meanwhile to `on_event`.
pub async fn with_events<F>(
    client: &Client,
    work: F,
    mut on_event: impl FnMut(&Value),
) -> anyhow::Result<Value>
where
    F: Future<Output = anyhow::Result<Value>>,
{
    let events = client.websocket("/ws/events").await.ok();
    let Some(mut events) = events else {
        return work.await;
    };
    tokio::pin!(work);
    let result = loop {
        tokio::select! {
            r = &mut work => break r,
            frame = events.next() => {
                let Some(Ok(frame)) = frame else { break work.await };
                let Message::Text(text) = frame else { continue };
                let Ok(ev) = serde_json::from_str::<Value>(text.as_str()) else { continue };
                on_event(&ev);
            }
        }
    };
    let _ = events.close(None).await;
    result
}

fn draw(p: &Value) {
    let done = p["bytes_done"].as_u64().unwrap_or(0);
    let total = p["bytes_total"].as_u64().unwrap_or(0).max(1);
    let width = 30usize;
    let filled = ((done as f64 / total as f64) * width as f64) as usize;
    eprint!(
        "\r\x1b[2Kimporting [{}{}] {}/{} files, {} MB",
        "#".repeat(filled.min(width)),
        " ".repeat(width - filled.min(width)),
        p["files_done"],
        p["files_total"],
        done / 1_000_000
    );
    let _ = std::io::stderr().flush();
}
