//! The one WebSocket client used for both servers: it speaks clown's protocol (binary
//! frames) and terminado's (JSON `["stdin", …]` / `["stdout", …]` text frames), and
//! measures output throughput and keystroke echo round trips the same way for both.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Proto {
    Clown,
    Terminado,
}

/// Where one client connects.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub token: Option<String>,
    pub proto: Proto,
}

pub struct Conn {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    proto: Proto,
}

impl Conn {
    /// Connects (Nagle off) and waits for the server's greeting.
    pub async fn open(t: &Target) -> anyhow::Result<Self> {
        let mut req = t.url.as_str().into_client_request()?;
        if let Some(token) = &t.token {
            req.headers_mut()
                .insert("authorization", format!("Bearer {token}").parse()?);
        }
        let (ws, _) = tokio_tungstenite::connect_async_with_config(req, None, true)
            .await
            .with_context(|| format!("connect {}", t.url))?;
        let mut conn = Self { ws, proto: t.proto };
        let hello = match conn.ws.next().await {
            Some(Ok(Message::Text(text))) => serde_json::from_str::<Value>(text.as_str())?,
            other => bail!("no greeting from {}: {other:?}", t.url),
        };
        let ok = match t.proto {
            Proto::Clown => hello["type"] == "connected",
            Proto::Terminado => hello[0] == "setup",
        };
        if !ok {
            bail!("unexpected greeting {hello}");
        }
        Ok(conn)
    }

    pub async fn send(&mut self, input: &str) -> anyhow::Result<()> {
        let msg = match self.proto {
            Proto::Clown => Message::Binary(input.as_bytes().to_vec().into()),
            Proto::Terminado => Message::Text(json!(["stdin", input]).to_string().into()),
        };
        Ok(self.ws.send(msg).await?)
    }

    /// The next piece of terminal output (control messages skipped); None at the end.
    pub async fn output(&mut self) -> anyhow::Result<Option<Bytes>> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Binary(b))) if self.proto == Proto::Clown => return Ok(Some(b)),
                Some(Ok(Message::Text(t))) if self.proto == Proto::Terminado => {
                    let v: Value = serde_json::from_str(t.as_str())?;
                    if v[0] == "stdout"
                        && let Some(s) = v[1].as_str()
                    {
                        return Ok(Some(Bytes::copy_from_slice(s.as_bytes())));
                    }
                }
                Some(Ok(Message::Close(_))) | None => return Ok(None),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
            }
        }
    }

    /// Reads until `marker` has arrived; returns the bytes read. The marker must be among
    /// the last bytes the program writes before it waits (both tests are written so): only
    /// the tail of the output is searched, so the client's cost does not grow with the
    /// volume.
    pub async fn read_until(&mut self, marker: &[u8]) -> anyhow::Result<u64> {
        let keep = marker.len() + 16;
        let mut total = 0u64;
        let mut tail: Vec<u8> = Vec::with_capacity(2 * keep);
        while let Some(chunk) = self.output().await? {
            total += chunk.len() as u64;
            tail.extend_from_slice(&chunk[chunk.len().saturating_sub(keep)..]);
            if tail.len() > keep {
                tail.drain(..tail.len() - keep);
            }
            if tail.windows(marker.len()).any(|w| w == marker) {
                return Ok(total);
            }
        }
        bail!(
            "the connection ended before {:?} ({total} bytes read)",
            String::from_utf8_lossy(marker)
        )
    }
}

/// Output throughput with `clients` attached: every client reads the whole output; the
/// result is the bytes one client received divided by the time until the slowest is done.
pub async fn throughput(t: &Target, clients: usize) -> anyhow::Result<(u64, Duration)> {
    let mut conns = Vec::new();
    for _ in 0..clients {
        conns.push(Conn::open(t).await?);
    }
    let start = Instant::now();
    conns[0].send("throughput\r").await?;
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut c| tokio::spawn(async move { c.read_until(b"BENCH-END").await }))
        .collect();
    let mut bytes = u64::MAX;
    for task in tasks {
        bytes = bytes.min(task.await??);
    }
    Ok((bytes, start.elapsed()))
}

/// Round trips of single keystrokes through the program (`rounds` measured after
/// `warmup`), sorted.
pub async fn echo(t: &Target, warmup: usize, rounds: usize) -> anyhow::Result<Vec<Duration>> {
    let mut c = Conn::open(t).await?;
    c.send("echo\r").await?;
    c.read_until(b"BENCH-READY").await?;
    let mut times = Vec::with_capacity(rounds);
    for i in 0..warmup + rounds {
        let key = if i % 2 == 0 { "k" } else { "j" };
        let start = Instant::now();
        c.send(key).await?;
        c.read_until(key.as_bytes()).await?;
        if i >= warmup {
            times.push(start.elapsed());
        }
    }
    times.sort();
    Ok(times)
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}
