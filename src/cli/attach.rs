//! Attaching this terminal to a terminal session over its WebSocket.
//!
//! The local terminal is put in raw mode (restored on every way out), keys go to the
//! session as binary frames, output is written to stdout as it arrives, and each
//! SIGWINCH sends the new size as a `resize` message. Ctrl-] detaches: the connection
//! closes and the session goes on. When the session's program ends, attach prints its
//! exit code and exits with it. An interactive attach tells the daemon it shows the
//! session (no notifications about it meanwhile). Without a terminal on stdin (a pipe), input is forwarded
//! as is and the end of input just stops forwarding.

use std::io::{IsTerminal, Read, Write};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::Client;

/// The detach key: Ctrl-] (as in telnet).
pub const DETACH_KEY: u8 = 0x1d;

/// This terminal's size (cols, rows), if stdout is a terminal.
pub fn local_size() -> Option<(u16, u16)> {
    let mut ws = nix::libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into the struct we own.
    let rc = unsafe { nix::libc::ioctl(1, nix::libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_col > 0 && ws.ws_row > 0).then_some((ws.ws_col, ws.ws_row))
}

/// Puts stdin in raw mode while alive.
struct RawMode(Option<nix::sys::termios::Termios>);

impl RawMode {
    fn enable() -> anyhow::Result<Self> {
        use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Ok(Self(None));
        }
        let saved = tcgetattr(&stdin).context("cannot read terminal settings")?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(&stdin, SetArg::TCSANOW, &raw).context("cannot make the terminal raw")?;
        Ok(Self(Some(saved)))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                saved,
            );
        }
    }
}

/// How long a restarting daemon is waited for.
const RECONNECT: std::time::Duration = std::time::Duration::from_secs(60);

/// Opens session `id`'s WebSocket and reads its `connected`.
async fn open(client: &Client, id: &str) -> anyhow::Result<super::client::WebSocket> {
    let mut ws = client.websocket(&format!("/ws/terminal/{id}")).await?;
    match ws.next().await {
        Some(Ok(Message::Text(t))) => {
            let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
            if v["type"] != "connected" {
                bail!(
                    "terminal session '{id}': {}",
                    v["message"].as_str().unwrap_or("unexpected answer")
                );
            }
        }
        other => bail!("terminal session '{id}': unexpected answer {other:?}"),
    }
    Ok(ws)
}

/// Opens the session again after the daemon went away (a restart keeps it), for up to
/// [`RECONNECT`]; None when no daemon has it by then.
async fn reopen(client: &Client, id: &str) -> Option<super::client::WebSocket> {
    let deadline = std::time::Instant::now() + RECONNECT;
    eprint!("\r\n[the daemon went away; reconnecting]\r\n");
    while std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        if let Ok(ws) = open(client, id).await {
            return Some(ws);
        }
    }
    None
}

/// Attaches to session `id` until detach or the session's end; returns the exit code.
/// A daemon that restarts is reconnected to, and the screen drawn again from the
/// session's scrollback.
pub async fn attach(client: &Client, id: &str) -> anyhow::Result<i32> {
    let mut ws = open(client, id).await?;
    let tty = std::io::stdin().is_terminal();
    let _raw = RawMode::enable()?;
    if tty {
        eprint!("[attached to {id}; detach with Ctrl-]]\r\n");
    }
    if let Some((cols, rows)) = local_size() {
        ws.send(resize(cols, rows)).await?;
    }
    // A terminal attached interactively shows the session: its notifications are not
    // needed while it does (said again within the daemon's 90 s).
    let mut shown = tokio::time::interval(std::time::Duration::from_secs(30));
    let mut keys = stdin_reader();
    let mut keys_open = true;
    let mut winch = signal_hook_tokio::Signals::new([signal_hook::consts::SIGWINCH])
        .context("cannot watch window-size changes")?;
    let mut stdout = std::io::stdout();
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Binary(data))) => {
                    stdout.write_all(&data)?;
                    stdout.flush()?;
                }
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                    match v["type"].as_str() {
                        Some("state_changed") => {
                            let code = v["exit_code"].as_i64().unwrap_or(1) as i32;
                            eprint!("\r\n[session ended with exit code {code}]\r\n");
                            return Ok(code);
                        }
                        Some("error") => {
                            eprint!("\r\n[clown: {}]\r\n", v["message"].as_str().unwrap_or("error"));
                        }
                        _ => {}
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    let away = frame.as_ref().is_some_and(|f| u16::from(f.code) == 1001);
                    if away && let Some(again) = reopen(client, id).await {
                        ws = again;
                        // The scrollback that follows redraws the screen from scratch.
                        stdout.write_all(b"\x1bc")?;
                        if let Some((cols, rows)) = local_size() {
                            ws.send(resize(cols, rows)).await?;
                        }
                        continue;
                    }
                    let why = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                    eprint!("\r\n[connection closed by the daemon {why}]\r\n");
                    return Ok(1);
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => match reopen(client, id).await {
                    Some(again) => {
                        ws = again;
                        stdout.write_all(b"\x1bc")?;
                        if let Some((cols, rows)) = local_size() {
                            ws.send(resize(cols, rows)).await?;
                        }
                    }
                    None => bail!("the connection to the daemon was lost and no daemon came back"),
                },
            },
            chunk = keys.recv(), if keys_open => match chunk {
                Some(mut data) => {
                    let detach = data.iter().position(|b| *b == DETACH_KEY);
                    if let Some(at) = detach {
                        data.truncate(at);
                    }
                    if !data.is_empty() {
                        ws.send(Message::Binary(data.into())).await?;
                    }
                    if detach.is_some() {
                        let _ = ws.close(None).await;
                        if tty {
                            eprint!("\r\n[detached; the session goes on]\r\n");
                        }
                        return Ok(0);
                    }
                }
                // End of input: keep showing output until the session ends.
                None => keys_open = false,
            },
            _ = shown.tick(), if tty => {
                ws.send(Message::Text(json!({"type": "focus", "shown": true}).to_string().into())).await?;
            }
            Some(_) = winch.next() => {
                if let Some((cols, rows)) = local_size() {
                    ws.send(resize(cols, rows)).await?;
                }
            }
        }
    }
}

fn resize(cols: u16, rows: u16) -> Message {
    Message::Text(
        json!({"type": "resize", "cols": cols, "rows": rows})
            .to_string()
            .into(),
    )
}

/// Stdin chunks from a thread (reading a terminal cannot be made async without changing
/// the shared file description's flags).
fn stdin_reader() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 4096];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}
