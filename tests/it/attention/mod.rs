//! Attention states: the real Claude Code asking for a permission (`claude`), and the
//! machinery any session has (`states`): the hook route and its token, the terminal's
//! own signals, the "needs you" list, webhooks and who is looking. Shared helpers here: a
//! webhook receiver and a reader of the event stream.

mod claude;
mod states;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;
use crate::ws::{Frame, Ws};

/// One request a webhook receiver got.
#[derive(Debug, Clone)]
pub struct Posted {
    pub path: String,
    pub headers: std::collections::HashMap<String, String>,
    pub body: String,
}

impl Posted {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A local HTTP server standing in for a webhook's receiver (and ntfy): it records every
/// request and answers 200.
pub struct Receiver {
    pub port: u16,
    pub got: Arc<Mutex<Vec<Posted>>>,
}

impl Receiver {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let g = g.clone();
                std::thread::spawn(move || {
                    let mut writer = stream.try_clone().unwrap();
                    let mut reader = BufReader::new(stream);
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                    let headers = read_headers(&mut reader).unwrap_or_default();
                    let body = read_body(&mut reader, &headers)
                        .flatten()
                        .unwrap_or_default();
                    g.lock().unwrap().push(Posted {
                        path,
                        headers,
                        body: String::from_utf8_lossy(&body).to_string(),
                    });
                    let _ = writer.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                });
            }
        });
        Self { port, got }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The requests to `path` so far.
    pub fn to(&self, path: &str) -> Vec<Posted> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.path == path)
            .cloned()
            .collect()
    }
}

/// `/ws/events`, read for one session's attention changes.
pub struct Events {
    ws: Ws,
    /// Every attention change seen, in order: (session id, state, data).
    pub seen: Vec<(String, String, Value)>,
}

impl Events {
    pub fn open(d: &Daemon) -> Self {
        Self {
            ws: crate::ws::connect(d.port, "/ws/events", &d.token),
            seen: Vec::new(),
        }
    }

    /// Reads until session `id` changes to `state` (or has, since the last wait); returns
    /// the event's data and the moment it was read.
    pub fn wait(&mut self, id: &str, state: &str, timeout: Duration) -> (Value, Instant) {
        self.wait_any(id, &[state], timeout)
    }

    /// Reads until session `id` changes to one of `states`; as [`Events::wait`].
    pub fn wait_any(&mut self, id: &str, states: &[&str], timeout: Duration) -> (Value, Instant) {
        let state = states.join(" or ");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(pos) = self
                .seen
                .iter()
                .position(|(i, s, _)| i == id && states.contains(&s.as_str()))
            {
                let (_, _, data) = self.seen.remove(pos);
                // What came before belongs to the past.
                self.seen.drain(..pos);
                return (data, Instant::now());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "session {id} never became {state}; saw {:?}",
                self.states()
            );
            match self.ws.read_frame(left) {
                Some(Frame::Text(t)) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == "terminal_attention_changed" {
                        let d = v["data"].clone();
                        self.seen.push((
                            d["id"].as_str().unwrap_or_default().to_string(),
                            d["attention"].as_str().unwrap_or_default().to_string(),
                            d,
                        ));
                    }
                }
                Some(_) => {}
                None => panic!(
                    "the event stream ended waiting for {state}; saw {:?}",
                    self.states()
                ),
            }
        }
    }

    /// The states seen and not yet waited for.
    pub fn states(&self) -> Vec<String> {
        self.seen.iter().map(|(_, s, _)| s.clone()).collect()
    }
}

/// A terminal session's screen, read on a thread of its own (so waiting on other things
/// never stalls the session's client), and a sender to type into it.
pub struct Screen {
    buf: Arc<Mutex<Vec<u8>>>,
    pub keys: crate::ws::Sender,
}

impl Screen {
    pub fn attach(d: &Daemon, id: &str) -> Self {
        let mut ws = crate::ws::connect(d.port, &format!("/ws/terminal/{id}"), &d.token);
        let keys = ws.sender();
        let buf = Arc::new(Mutex::new(Vec::new()));
        let b = buf.clone();
        std::thread::spawn(move || {
            while let Some(f) = ws.read_frame(Duration::from_secs(3600)) {
                match f {
                    Frame::Binary(data) => b.lock().unwrap().extend_from_slice(&data),
                    Frame::Close(_) => return,
                    _ => {}
                }
            }
        });
        Self { buf, keys }
    }

    /// The visible text so far, escape sequences and whitespace removed (Claude Code
    /// places words with cursor moves, not spaces).
    pub fn flat(&self) -> String {
        flatten(&self.buf.lock().unwrap())
    }

    pub fn len(&self) -> usize {
        self.buf.lock().unwrap().len()
    }

    /// Waits until the text after byte `from` holds `needle` (whitespace ignored).
    pub fn wait_after(&self, from: usize, needle: &str, timeout: Duration) {
        let needle: String = needle.chars().filter(|c| !c.is_whitespace()).collect();
        wait_until(timeout, &format!("{needle:?} on the screen"), || {
            let b = self.buf.lock().unwrap();
            flatten(&b[from.min(b.len())..])
                .contains(&needle)
                .then_some(())
        });
    }
}

/// Terminal output's text: escape sequences, control characters and whitespace removed.
pub fn flatten(bytes: &[u8]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0x1b => {
                i += 1;
                match bytes.get(i) {
                    Some(b'[') => {
                        i += 1;
                        while i < bytes.len() && !(0x40..=0x7e).contains(&bytes[i]) {
                            i += 1;
                        }
                        i += 1;
                    }
                    Some(b']') => {
                        while i < bytes.len() && bytes[i] != 0x07 && bytes[i] != 0x1b {
                            i += 1;
                        }
                        i += 1;
                    }
                    _ => i += 1,
                }
            }
            c if c <= b' ' || c == 0x7f => i += 1,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).to_string()
}
