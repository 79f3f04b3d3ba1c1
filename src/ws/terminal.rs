//! `/ws/terminal/{session_id}`: a client of one terminal session.
//!
//! Server to client: `{"type":"connected","session_id":…}`, then the scrollback as one
//! binary frame, then the live output as binary frames (consecutive chunks are merged
//! into frames of up to 256 KiB when the client is behind), and
//! `{"type":"state_changed","state":"terminated","exit_code":N}` when the program ends
//! (also right after the scrollback when it had already ended). Errors are
//! `{"type":"error","message":…}`: for an unknown session, followed by a close frame
//! (code 4404); for a malformed control message, after which the connection stays.
//!
//! Client to server: binary frames are input for the PTY;
//! `{"type":"resize","cols":C,"rows":R}` (1–1000) sets the terminal size;
//! `{"type":"focus","shown":B}` says whether the client's window shows the session
//! right now (focused and visible; repeated at least every 90 s while it does: a session
//! shown is not notified about); `{"type":"signal","signal":N}` sends signal N to the
//! terminal's foreground process group, for N in the allowed set (`pty::kill::ALLOWED_SIGNALS`: HUP 1, INT 2, QUIT 3,
//! KILL 9, USR1 10, USR2 12, TERM 15, CONT 18, STOP 19, TSTP 20, WINCH 28 with Linux
//! numbering).
//!
//! A client never slows the session or other clients: output reaches each client through
//! a bounded broadcast ring, and a client that falls behind by more than the ring (or
//! whose socket accepts nothing for 10 s) is told so and disconnected; reconnecting
//! resumes from the scrollback. The connection is closed with 1001 when the daemon shuts
//! down and with 1000 when the session is removed by cleanup.
//!
//! `/ws/share/{token}` is the same stream for a share link's viewer, read only: every
//! binary frame and control message is answered with an error and reaches nothing, and
//! the connection is closed (4401) when the link expires or is revoked.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use uuid::Uuid;

use crate::app::AppState;
use crate::pty::{MAX_DIMENSION, Output, Session, kill};

/// Largest binary frame made by merging queued output.
const MAX_FRAME: usize = 256 * 1024;
/// A client whose socket takes nothing for this long is disconnected.
const SEND_STALL: Duration = Duration::from_secs(10);
/// Close code for an unknown session.
pub const CLOSE_NOT_FOUND: u16 = 4404;
/// Close code when a share link expires or is revoked under its viewer.
pub const CLOSE_SHARE_ENDED: u16 = 4401;
/// What a viewer is told of its input.
const READ_ONLY: &str = "This is a read-only view of the session: input is refused";

pub async fn handler(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ws: WebSocketUpgrade,
) -> Response {
    ws.on_upgrade(move |socket| serve(state, id, None, socket))
}

/// A share link's viewer (the guard checked the token and that it is alive).
pub async fn share_handler(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ws: WebSocketUpgrade,
) -> Response {
    // It may have expired since (the guard wraps the status in the envelope).
    let Some((link, expires)) = state.shares().find(&token) else {
        return axum::response::IntoResponse::into_response(axum::http::StatusCode::UNAUTHORIZED);
    };
    let viewer = Viewer {
        link: link.id,
        expires,
    };
    ws.on_upgrade(move |socket| serve(state, link.session_id, Some(viewer), socket))
}

/// A read-only client: its share link and when that expires.
struct Viewer {
    link: String,
    expires: std::time::SystemTime,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Control {
    Resize { cols: u64, rows: u64 },
    Signal { signal: i64 },
    Focus { shown: bool },
}

/// What the loop does after handling one event.
enum Next {
    Continue,
    Stop,
}

async fn serve(state: AppState, id: String, viewer: Option<Viewer>, mut socket: WebSocket) {
    let Some(session) = Uuid::parse_str(&id)
        .ok()
        .and_then(|uuid| state.terminals().get(uuid))
    else {
        let _ = send_json(
            &mut socket,
            json!({"type": "error", "message": "Session not found"}),
        )
        .await;
        close(&mut socket, CLOSE_NOT_FOUND, "Session not found").await;
        return;
    };
    let mut att = session.attach();
    let mut shutdown = state.shutdown_signal();
    let mut hello = json!({"type": "connected", "session_id": session.id.to_string()});
    if viewer.is_some() {
        // A viewer cannot size the terminal: it draws it at the session's size.
        let info = session.info();
        hello["read_only"] = json!(true);
        hello["profile_alias"] = json!(info.profile_alias);
        hello["cols"] = json!(info.cols);
        hello["rows"] = json!(info.rows);
    }
    if send_json(&mut socket, hello).await.is_err() {
        return;
    }
    if !att.scrollback.is_empty()
        && send(&mut socket, Message::Binary(att.scrollback.clone()))
            .await
            .is_err()
    {
        return;
    }
    let mut running = att.exit_code.is_none();
    let read_only = viewer.is_some();
    let mut links = state.shares().changes();
    let left = viewer
        .as_ref()
        .and_then(|v| v.expires.duration_since(std::time::SystemTime::now()).ok())
        .unwrap_or(Duration::from_secs(365 * 86_400));
    let expiry = tokio::time::sleep(left);
    tokio::pin!(expiry);
    if let Some(code) = att.exit_code
        && send_json(&mut socket, terminated(code)).await.is_err()
    {
        return;
    }
    loop {
        let next = tokio::select! {
            // Output first: when a session ends and is removed at once, its end (with the
            // exit code) reaches the client before the removal does.
            biased;
            out = att.output.recv(), if running => {
                forward(&mut socket, out, &mut att.output, &mut running).await
            }
            msg = socket.recv() => match msg {
                Some(Ok(Message::Binary(_) | Message::Text(_))) if read_only => {
                    match send_json(&mut socket, json!({"type": "error", "message": READ_ONLY})).await {
                        Ok(()) => Next::Continue,
                        Err(()) => Next::Stop,
                    }
                }
                Some(Ok(Message::Binary(data))) => {
                    session.write(data).await;
                    Next::Continue
                }
                Some(Ok(Message::Text(text))) => match control(&session, att.client, text.as_str()) {
                    Ok(()) => Next::Continue,
                    Err(message) => match send_json(&mut socket, json!({"type": "error", "message": message})).await {
                        Ok(()) => Next::Continue,
                        Err(()) => Next::Stop,
                    },
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => Next::Stop,
                Some(Ok(_)) => Next::Continue,
            },
            () = &mut expiry, if read_only => {
                close(&mut socket, CLOSE_SHARE_ENDED, "share link expired").await;
                Next::Stop
            }
            Ok(()) = links.changed(), if read_only => {
                match viewer.as_ref().is_some_and(|v| state.shares().alive(&v.link)) {
                    true => Next::Continue,
                    false => {
                        close(&mut socket, CLOSE_SHARE_ENDED, "share link revoked").await;
                        Next::Stop
                    }
                }
            }
            _ = shutdown.changed() => {
                close(&mut socket, 1001, "daemon shutting down").await;
                Next::Stop
            }
            _ = att.removed.changed() => {
                // Whatever output is still queued, then the end if the client has not
                // seen it, then the removal.
                while running {
                    match att.output.try_recv() {
                        Ok(out) => {
                            if let Next::Stop =
                                forward(&mut socket, Ok(out), &mut att.output, &mut running).await
                            {
                                return;
                            }
                        }
                        Err(_) => break,
                    }
                }
                if running
                    && let Some(code) = session.exit_code()
                    && send_json(&mut socket, terminated(code)).await.is_err()
                {
                    return;
                }
                close(&mut socket, 1000, "session removed").await;
                Next::Stop
            }
        };
        if let Next::Stop = next {
            return;
        }
    }
}

/// Sends one output event (merged with whatever else is queued) to the client.
async fn forward(
    socket: &mut WebSocket,
    out: Result<Output, RecvError>,
    rx: &mut Receiver<Output>,
    running: &mut bool,
) -> Next {
    let (frame, after) = match out {
        Ok(Output::Data(first)) => gather(first, rx),
        Ok(Output::Exited(code)) => (Bytes::new(), Some(Ok(Output::Exited(code)))),
        Err(RecvError::Lagged(n)) => (Bytes::new(), Some(Err(TryRecvError::Lagged(n)))),
        Err(RecvError::Closed) => (Bytes::new(), Some(Err(TryRecvError::Closed))),
    };
    if !frame.is_empty() && send(socket, Message::Binary(frame)).await.is_err() {
        return Next::Stop;
    }
    match after {
        None | Some(Ok(Output::Data(_))) => Next::Continue,
        Some(Ok(Output::Exited(code))) => {
            *running = false;
            match send_json(socket, terminated(code)).await {
                Ok(()) => Next::Continue,
                Err(()) => Next::Stop,
            }
        }
        Some(Err(TryRecvError::Lagged(n))) => {
            let message = format!(
                "This client fell {n} output chunks behind and was disconnected; reconnect to resume from the scrollback"
            );
            let _ = send_json(socket, json!({"type": "error", "message": message})).await;
            close(socket, 1013, "client too slow").await;
            Next::Stop
        }
        Some(Err(_)) => {
            *running = false;
            Next::Continue
        }
    }
}

/// `first` and the data chunks queued behind it, up to [`MAX_FRAME`] bytes; also the
/// first queued event that is not data, if one was met.
fn gather(
    first: Bytes,
    rx: &mut Receiver<Output>,
) -> (Bytes, Option<Result<Output, TryRecvError>>) {
    let mut merged: Option<BytesMut> = None;
    let mut len = first.len();
    let mut after = None;
    while len < MAX_FRAME {
        match rx.try_recv() {
            Ok(Output::Data(more)) => {
                let buf = merged.get_or_insert_with(|| {
                    let mut b = BytesMut::with_capacity(MAX_FRAME.max(len + more.len()));
                    b.extend_from_slice(&first);
                    b
                });
                buf.extend_from_slice(&more);
                len += more.len();
            }
            Err(TryRecvError::Empty) => break,
            other => {
                after = Some(other);
                break;
            }
        }
    }
    (merged.map(BytesMut::freeze).unwrap_or(first), after)
}

/// Applies one JSON control message; the error text goes back to the client.
fn control(session: &Session, client: u64, text: &str) -> Result<(), String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("Malformed control message: {e}"))?;
    let msg: Control =
        serde_json::from_value(value).map_err(|e| format!("Invalid control message: {e}"))?;
    match msg {
        Control::Resize { cols, rows } => {
            let dim = |n: u64| {
                u16::try_from(n)
                    .ok()
                    .filter(|n| (1..=MAX_DIMENSION).contains(n))
            };
            let (Some(cols), Some(rows)) = (dim(cols), dim(rows)) else {
                return Err(format!(
                    "resize: cols and rows must be whole numbers from 1 to {MAX_DIMENSION}"
                ));
            };
            session.resize(cols, rows).map_err(|e| e.to_string())
        }
        Control::Signal { signal } => {
            let sig = kill::allowed_signal(signal).ok_or_else(|| {
                let allowed: Vec<String> = kill::ALLOWED_SIGNALS
                    .iter()
                    .map(|s| format!("{} ({})", *s as i32, s.as_str()))
                    .collect();
                format!(
                    "Signal {signal} is not allowed; allowed: {}",
                    allowed.join(", ")
                )
            })?;
            session.signal(sig);
            Ok(())
        }
        Control::Focus { shown } => {
            session.focus(client, shown);
            Ok(())
        }
    }
}

fn terminated(code: i32) -> Value {
    json!({"type": "state_changed", "state": "terminated", "exit_code": code})
}

async fn send(socket: &mut WebSocket, msg: Message) -> Result<(), ()> {
    match tokio::time::timeout(SEND_STALL, socket.send(msg)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

async fn send_json(socket: &mut WebSocket, value: Value) -> Result<(), ()> {
    send(socket, Message::Text(value.to_string().into())).await
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = send(socket, Message::Close(Some(frame))).await;
}
