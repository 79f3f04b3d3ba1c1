//! `/ws/events`: every event on the bus, as JSON text frames `{"type","data","ts"}`.
//!
//! A subscriber that falls behind skips ahead (it is told how many events it missed with
//! a `lagged` event) rather than slowing down anybody else.

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::json;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

use crate::app::AppState;
use crate::events::Event;

pub async fn handler(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    // Subscribed before the upgrade is answered: a client that starts its work once
    // connected (`clown agents install` printing npm's lines) misses none of its events.
    let rx = state.events().subscribe();
    ws.on_upgrade(move |socket| stream(state, socket, rx))
}

async fn stream(state: AppState, mut socket: WebSocket, mut rx: Receiver<Event>) {
    let mut shutdown = state.shutdown_signal();
    let hello = json!({"type": "hello", "data": {"version": env!("CARGO_PKG_VERSION")}, "ts": crate::time::now_rfc3339()});
    if socket
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            ev = rx.recv() => {
                let text = match ev {
                    Ok(ev) => match serde_json::to_string(&ev) {
                        Ok(t) => t,
                        Err(_) => continue,
                    },
                    Err(RecvError::Lagged(n)) => {
                        json!({"type": "lagged", "data": {"missed": n}, "ts": crate::time::now_rfc3339()}).to_string()
                    }
                    Err(RecvError::Closed) => break,
                };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            msg = socket.recv() => match msg {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            _ = shutdown.changed() => break,
        }
    }
    let _ = socket
        .send(Message::Close(Some(axum::extract::ws::CloseFrame {
            code: 1001,
            reason: "daemon shutting down".into(),
        })))
        .await;
}
