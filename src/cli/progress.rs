//! A progress bar for long daemon operations, fed by `/ws/events` while the request runs.

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
    let stderr = std::io::stderr();
    let events = if stderr.is_terminal() {
        client.websocket("/ws/events").await.ok()
    } else {
        None
    };
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
                if ev["type"] == "usage_import_progress" {
                    draw(&ev["data"]);
                }
            }
        }
    };
    let _ = events.close(None).await;
    eprint!("\r\x1b[2K");
    let _ = std::io::stderr().flush();
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
