//! The bytes on a connection, before and after the HTTP library: protocol-level errors
//! (a malformed request line, headers over the limit) that the library answers itself
//! with an empty body are given the envelope `{"success":false,"error":"…"}` like every
//! other error.
//!
//! [`EnvelopeIo`] wraps the socket. The library writes such an answer in one piece and
//! closes: a response head with an error status, `connection: close` and
//! `content-length: 0`. Every response of the application carries a body, so only those
//! are rewritten: the head gets `content-type: application/json` and the envelope.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Largest request line and headers, together, per request.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

pub struct EnvelopeIo<I> {
    inner: I,
    /// Rewritten bytes not yet written to `inner`.
    pending: Vec<u8>,
    sent: usize,
}

impl<I> EnvelopeIo<I> {
    pub fn new(inner: I) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            sent: 0,
        }
    }
}

/// The message for an error the HTTP library answers on its own.
fn message(status: u16) -> &'static str {
    match status {
        400 => "Malformed HTTP request",
        408 => "The request took too long to arrive",
        413 => "Request body exceeds the limit",
        414 => "Request URI is too long",
        431 => "Request headers exceed the limit of 64 KiB",
        501 => "Not implemented",
        505 => "HTTP version not supported",
        _ => "The request could not be read",
    }
}

/// The enveloped form of `head` when it is a library-made error answer.
fn envelope(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    let rest = text.strip_prefix("HTTP/1.1 ")?;
    let status: u16 = rest.get(..3)?.parse().ok()?;
    if status < 400 || !text.ends_with("\r\n\r\n") {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    if !lower.contains("\r\ncontent-length: 0\r\n") || !lower.contains("\r\nconnection: close\r\n")
    {
        return None;
    }
    let body = serde_json::json!({"success": false, "error": message(status)}).to_string();
    let mut out = String::with_capacity(text.len() + body.len() + 64);
    for line in text.trim_end_matches("\r\n").split("\r\n") {
        if line.to_ascii_lowercase().starts_with("content-length:") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("content-type: application/json\r\n");
    out.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    Some(out.into_bytes())
}

impl<I: AsyncWrite + Unpin> EnvelopeIo<I> {
    /// Writes what is pending; Ready when nothing is left.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.pending.len() {
            let n = std::task::ready!(
                Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.sent..])
            )?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.pending.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for EnvelopeIo<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for EnvelopeIo<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        std::task::ready!(self.drain(cx))?;
        if buf.len() < 4096
            && let Some(rewritten) = envelope(buf)
        {
            self.pending = rewritten;
            // Reported as written whole: the caller's bytes are replaced, not split.
            let _ = self.drain(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_errors_get_the_envelope() {
        let head = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let out = String::from_utf8(envelope(head).unwrap()).unwrap();
        assert!(out.starts_with("HTTP/1.1 431 "), "{out}");
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("content-type: application/json"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["success"], false);
        assert!(v["error"].as_str().unwrap().contains("64 KiB"));
        // The application's own answers are left alone.
        for other in [
            &b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 12\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n{}",
        ] {
            assert!(envelope(other).is_none());
        }
    }
}
