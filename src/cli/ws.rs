//! A small WebSocket client (RFC 6455) over the daemon's HTTP connection, for the CLI's
//! live views: the upgrade with the token, masked client frames, server frames.

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::Client;

pub struct WsClient {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

pub enum Frame {
    Text(String),
    Close,
    Other,
}

/// Opens `path` on the daemon `client` talks to.
pub async fn connect(client: &Client, path: &str) -> anyhow::Result<WsClient> {
    let authority = client.base().trim_start_matches("http://").to_string();
    let stream = TcpStream::connect(&authority)
        .await
        .with_context(|| format!("cannot connect to {authority}"))?;
    stream.set_nodelay(true)?;
    let (read, mut writer) = stream.into_split();
    let mut key = [0u8; 16];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("{e}"))?;
    let token = client
        .token()
        .map(|t| t.expose().to_string())
        .unwrap_or_default();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n",
        base64(&key)
    );
    writer.write_all(request.as_bytes()).await?;
    let mut reader = BufReader::new(read);
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let b = reader
            .read_u8()
            .await
            .context("the daemon closed the connection")?;
        head.push(b);
        if head.len() > 16 * 1024 {
            bail!("oversized upgrade response");
        }
    }
    let head = String::from_utf8_lossy(&head);
    if !head.starts_with("HTTP/1.1 101") {
        bail!(
            "the daemon refused the WebSocket: {}",
            head.lines().next().unwrap_or_default()
        );
    }
    Ok(WsClient { reader, writer })
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = ((b[0] as u32) << 16) | ((b[1] as u32) << 8) | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl WsClient {
    pub async fn read(&mut self) -> anyhow::Result<Frame> {
        let b0 = self.reader.read_u8().await?;
        let b1 = self.reader.read_u8().await?;
        let mut len = (b1 & 0x7f) as u64;
        if len == 126 {
            len = self.reader.read_u16().await? as u64;
        } else if len == 127 {
            len = self.reader.read_u64().await?;
        }
        if len > 64 * 1024 * 1024 {
            bail!("oversized frame");
        }
        let mut mask = [0u8; 4];
        if b1 & 0x80 != 0 {
            self.reader.read_exact(&mut mask).await?;
        }
        let mut payload = vec![0u8; len as usize];
        self.reader.read_exact(&mut payload).await?;
        if b1 & 0x80 != 0 {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
        }
        Ok(match b0 & 0x0f {
            0x1 => Frame::Text(String::from_utf8_lossy(&payload).into_owned()),
            0x8 => Frame::Close,
            _ => Frame::Other,
        })
    }

    /// The next text frame; None when the connection ends.
    pub async fn next_text(&mut self) -> Option<String> {
        loop {
            match self.read().await.ok()? {
                Frame::Text(t) => return Some(t),
                Frame::Close => return None,
                _ => {}
            }
        }
    }

    /// Sends one masked frame with `opcode`.
    pub async fn send(&mut self, opcode: u8, payload: &[u8]) -> anyhow::Result<()> {
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n < 65536 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mut mask = [0u8; 4];
        getrandom::fill(&mut mask).map_err(|e| anyhow::anyhow!("{e}"))?;
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.writer.write_all(&frame).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(super::base64(b"fooba"), "Zm9vYmE=");
        assert_eq!(super::base64(b"foob"), "Zm9vYg==");
    }
}
