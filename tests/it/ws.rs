//! A minimal WebSocket client over a real socket (RFC 6455): the handshake, masked
//! client frames, and reading server frames. Enough to assert the bytes a client sees.

#![allow(dead_code)]

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::helpers::{WAIT, read_response, write_request};

#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Text(String),
    Binary(Vec<u8>),
    Close(Option<u16>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

pub struct Ws {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

/// Opens `path` with the token and the daemon's own origin; panics unless 101.
pub fn connect(port: u16, path: &str, token: &str) -> Ws {
    let origin = format!("http://127.0.0.1:{port}");
    try_connect(port, path, token, &origin)
        .unwrap_or_else(|status| panic!("upgrade of {path} answered {status}"))
}

pub fn try_connect(port: u16, path: &str, token: &str, origin: &str) -> Result<Ws, u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_nodelay(true).unwrap();
    let auth = format!("Bearer {token}");
    write_request(
        &mut stream,
        port,
        "GET",
        path,
        &[
            ("Authorization", &auth),
            ("Origin", origin),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
        ],
        b"",
        true,
    );
    let writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let resp = read_response(&mut reader);
    if resp.status != 101 {
        return Err(resp.status);
    }
    Ok(Ws { reader, writer })
}

/// A handle that sends on a connection another thread reads.
pub struct Sender(TcpStream);

impl Sender {
    pub fn clone_sender(&self) -> Self {
        Self(self.0.try_clone().unwrap())
    }

    pub fn send_binary(&mut self, data: &[u8]) {
        self.0.write_all(&frame(0x2, data)).unwrap();
    }

    pub fn send_text(&mut self, text: &str) {
        self.0.write_all(&frame(0x1, text.as_bytes())).unwrap();
    }
}

/// A masked client frame.
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode];
    let len = payload.len();
    if len < 126 {
        frame.push(0x80 | len as u8);
    } else if len < 65536 {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        frame.push(0x80 | 127);
        frame.extend_from_slice(&(len as u64).to_be_bytes());
    }
    let mask = [0x12, 0x34, 0x56, 0x78];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

impl Ws {
    /// A sender on this connection, for use while another thread reads it.
    pub fn sender(&self) -> Sender {
        Sender(self.writer.try_clone().unwrap())
    }

    fn send(&mut self, opcode: u8, payload: &[u8]) {
        self.writer.write_all(&frame(opcode, payload)).unwrap();
    }

    pub fn send_text(&mut self, text: &str) {
        self.send(0x1, text.as_bytes());
    }

    pub fn send_binary(&mut self, data: &[u8]) {
        self.send(0x2, data);
    }

    pub fn close(&mut self) {
        self.send(0x8, &1000u16.to_be_bytes());
    }

    /// The next frame, or None when nothing arrives within `timeout` or the socket closed.
    pub fn read_frame(&mut self, timeout: Duration) -> Option<Frame> {
        self.reader
            .get_ref()
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
            .unwrap();
        let mut head = [0u8; 2];
        self.reader.read_exact(&mut head).ok()?;
        self.reader.get_ref().set_read_timeout(Some(WAIT)).unwrap();
        let opcode = head[0] & 0x0f;
        let mut len = (head[1] & 0x7f) as u64;
        if len == 126 {
            let mut b = [0u8; 2];
            self.reader.read_exact(&mut b).ok()?;
            len = u16::from_be_bytes(b) as u64;
        } else if len == 127 {
            let mut b = [0u8; 8];
            self.reader.read_exact(&mut b).ok()?;
            len = u64::from_be_bytes(b);
        }
        let mut payload = vec![0u8; len as usize];
        self.reader.read_exact(&mut payload).ok()?;
        Some(match opcode {
            0x1 => Frame::Text(String::from_utf8_lossy(&payload).to_string()),
            0x2 => Frame::Binary(payload),
            0x8 => Frame::Close(
                (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]])),
            ),
            0x9 => Frame::Ping(payload),
            _ => Frame::Pong(payload),
        })
    }

    /// The text frames read until `done(frames so far)` holds; panics naming `what` if
    /// it does not within the usual wait, or the connection ends first.
    pub fn read_text_frames_until(
        &mut self,
        what: &str,
        done: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        let deadline = Instant::now() + crate::helpers::WAIT;
        let mut out = Vec::new();
        while !done(&out) {
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("timed out waiting for {what} in {out:?}"));
            match self.read_frame(left) {
                Some(Frame::Text(t)) => out.push(t),
                Some(Frame::Close(_)) | None => panic!("the stream ended before {what}: {out:?}"),
                Some(_) => {}
            }
        }
        out
    }
}
