//! A local Anthropic-compatible upstream the tests run and script: it records every
//! request (path, headers, body) and answers `POST /v1/messages` with a fixed reply and
//! fixed token counts, streamed as SSE when the request asks for `"stream": true`. It
//! also answers OpenAI's Responses API (`POST …/responses`, what Codex CLI speaks) and
//! Chat Completions (`POST …/chat/completions`) with the same reply and counts.
//!
//! Per case, a script can also answer an error status (429, 529, …; in the API's own
//! error shape), wait before the response, pause between SSE events, or break the
//! connection after some events. On Chat Completions it can also stream reasoning
//! before the answer (`reasoning_content`, as DeepSeek names it) and several tool calls
//! at once, their arguments in small pieces.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Debug, Clone)]
pub struct Script {
    pub reply: String,
    pub model: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
    /// The part of the output tokens that was reasoning (Responses and Chat Completions).
    pub reasoning_output_tokens: u64,
    /// Answer every messages request with this status and an Anthropic error body.
    pub status: Option<u16>,
    /// Wait this long before the response head.
    pub delay: std::time::Duration,
    /// Wait this long after the first SSE event before the rest.
    pub event_gap: std::time::Duration,
    /// Close the connection after this many SSE events.
    pub break_after_events: Option<usize>,
    /// Answer with a call of this tool (name, JSON arguments) until the conversation
    /// holds a tool result, then with the reply, when the request offers a tool of that
    /// name (Claude Code's side requests do not).
    pub tool_call: Option<(String, String)>,
    /// Extra response headers (e.g. Anthropic's rate-limit headers) on every answer.
    pub headers: Vec<(String, String)>,
    /// Calls made together with `tool_call` in the same answer (Chat Completions).
    pub more_tool_calls: Vec<(String, String)>,
    /// Reasoning streamed (as `reasoning_content` deltas of a few characters) before the
    /// answer, on Chat Completions.
    pub reasoning: Option<String>,
    /// The message of a scripted error status (else `scripted CODE`).
    pub error_message: Option<String>,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            reply: "Hello from the test upstream.".into(),
            model: None,
            input_tokens: 1234,
            output_tokens: 56,
            cache_creation_input_tokens: 7,
            cache_read_input_tokens: 89,
            reasoning_output_tokens: 0,
            status: None,
            delay: std::time::Duration::ZERO,
            event_gap: std::time::Duration::ZERO,
            break_after_events: None,
            tool_call: None,
            headers: Vec::new(),
            more_tool_calls: Vec::new(),
            reasoning: None,
            error_message: None,
        }
    }
}

pub struct Upstream {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    pub script: Arc<Mutex<Script>>,
}

impl Upstream {
    pub fn start(script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script));
        let (r, s) = (requests.clone(), script.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (r, s) = (r.clone(), s.clone());
                std::thread::spawn(move || serve(stream, r, s));
            }
        });
        Self {
            port,
            requests,
            script,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn set_script(&self, script: Script) {
        *self.script.lock().unwrap() = script;
    }

    /// The bytes this upstream answers to `body` on `path` (the same as it would send).
    pub fn expected(&self, path: &str, body: &Value) -> (u16, Vec<u8>) {
        let req = Recorded {
            method: "POST".into(),
            path: path.into(),
            headers: HashMap::new(),
            body: body.to_string().into_bytes(),
        };
        let (status, _, events) = respond(&req, &self.script.lock().unwrap());
        let code = status.split_whitespace().next().unwrap().parse().unwrap();
        (code, events.concat())
    }

    /// The Responses API requests (Codex CLI's turns).
    pub fn responses(&self) -> Vec<Recorded> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/responses"))
            .cloned()
            .collect()
    }

    /// The Chat Completions requests.
    pub fn chats(&self) -> Vec<Recorded> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/chat/completions"))
            .cloned()
            .collect()
    }

    pub fn messages(&self) -> Vec<Recorded> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| {
                r.method == "POST"
                    && r.path.starts_with("/v1/messages")
                    && !r.path.contains("count_tokens")
            })
            .cloned()
            .collect()
    }
}

fn serve(stream: TcpStream, requests: Arc<Mutex<Vec<Recorded>>>, script: Arc<Mutex<Script>>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let Some(req) = read_request(&mut reader) else {
            return;
        };
        requests.lock().unwrap().push(req.clone());
        let script = script.lock().unwrap().clone();
        let (status, content_type, parts) = respond(&req, &script);
        if !script.delay.is_zero() {
            std::thread::sleep(script.delay);
        }
        let len: usize = parts.iter().map(Vec::len).sum();
        let extra: String = script
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect();
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len}\r\nrequest-id: req_test\r\n{extra}\r\n"
        );
        if writer.write_all(head.as_bytes()).is_err() {
            return;
        }
        for (i, part) in parts.iter().enumerate() {
            if script.break_after_events == Some(i) {
                let _ = writer.flush();
                let _ = writer.shutdown(std::net::Shutdown::Both);
                return;
            }
            if writer.write_all(part).is_err() || writer.flush().is_err() {
                return;
            }
            if i == 0 && !script.event_gap.is_zero() {
                std::thread::sleep(script.event_gap);
            }
        }
    }
}

fn read_request<R: BufRead>(reader: &mut R) -> Option<Recorded> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let headers = crate::helpers::read_headers(reader)?;
    let body = crate::helpers::read_body(reader, &headers)?.unwrap_or_default();
    Some(Recorded {
        method,
        path,
        headers,
        body,
    })
}

fn respond(req: &Recorded, s: &Script) -> (String, &'static str, Vec<Vec<u8>>) {
    if req.method == "POST" && req.path.ends_with("/responses") && s.status.is_none() {
        return respond_responses(req, s);
    }
    if req.method == "POST" && req.path.ends_with("/chat/completions") {
        if let Some(code) = s.status {
            // OpenAI's error shape (DeepSeek's, for a 402).
            let message = s
                .error_message
                .clone()
                .unwrap_or(format!("scripted {code}"));
            return (
                format!("{code} Scripted"),
                "application/json",
                vec![
                    json!({"error": {"message": message, "type": "unknown_error",
                                      "param": null, "code": "invalid_request_error"}})
                    .to_string()
                    .into_bytes(),
                ],
            );
        }
        return respond_chat(req, s);
    }
    if req.method != "POST" || !req.path.starts_with("/v1/messages") {
        return (
            "404 Not Found".into(),
            "application/json",
            vec![
                br#"{"type":"error","error":{"type":"not_found_error","message":"not found"}}"#
                    .to_vec(),
            ],
        );
    }
    if let Some(code) = s.status {
        let kind = match code {
            429 => "rate_limit_error",
            529 => "overloaded_error",
            _ => "api_error",
        };
        return (
            format!("{code} Scripted"),
            "application/json",
            vec![
                json!({"type": "error", "error": {"type": kind,
                    "message": s.error_message.clone().unwrap_or(format!("scripted {code}"))}})
                .to_string()
                .into_bytes(),
            ],
        );
    }
    let body = req.json();
    if req.path.starts_with("/v1/messages/count_tokens") {
        return (
            "200 OK".into(),
            "application/json",
            vec![
                json!({"input_tokens": s.input_tokens})
                    .to_string()
                    .into_bytes(),
            ],
        );
    }
    let model = s
        .model
        .clone()
        .or_else(|| body["model"].as_str().map(String::from))
        .unwrap_or_else(|| "claude-sonnet-4".into());
    let usage_start = json!({
        "input_tokens": s.input_tokens,
        "output_tokens": 1,
        "cache_creation_input_tokens": s.cache_creation_input_tokens,
        "cache_read_input_tokens": s.cache_read_input_tokens,
    });
    let answered = body["messages"].as_array().is_some_and(|m| {
        m.iter().any(|m| {
            m["content"]
                .as_array()
                .is_some_and(|c| c.iter().any(|b| b["type"] == "tool_result"))
        })
    });
    let offered = |name: &str| {
        body["tools"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["name"] == name))
    };
    // The answer's one content block: a tool call, or the reply.
    let (block, delta, stop, full) = match s
        .tool_call
        .as_ref()
        .filter(|(name, _)| !answered && offered(name))
    {
        Some((name, args)) => (
            json!({"type": "tool_use", "id": "toolu_test_1", "name": name, "input": {}}),
            json!({"type": "input_json_delta", "partial_json": args}),
            "tool_use",
            json!({"type": "tool_use", "id": "toolu_test_1", "name": name,
                   "input": serde_json::from_str::<Value>(args).unwrap()}),
        ),
        None => (
            json!({"type": "text", "text": ""}),
            json!({"type": "text_delta", "text": s.reply}),
            "end_turn",
            json!({"type": "text", "text": s.reply}),
        ),
    };
    if body["stream"] == json!(true) {
        let events = [
            (
                "message_start",
                json!({"type": "message_start", "message": {
                "id": "msg_test_1", "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage_start}}),
            ),
            (
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": block}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": delta}),
            ),
            (
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0}),
            ),
            (
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
                "usage": {"output_tokens": s.output_tokens}}),
            ),
            ("message_stop", json!({"type": "message_stop"})),
        ];
        let out = events
            .iter()
            .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n").into_bytes())
            .collect();
        return ("200 OK".into(), "text/event-stream", out);
    }
    let message = json!({
        "id": "msg_test_1", "type": "message", "role": "assistant", "model": model,
        "content": [full],
        "stop_reason": stop, "stop_sequence": null,
        "usage": {
            "input_tokens": s.input_tokens, "output_tokens": s.output_tokens,
            "cache_creation_input_tokens": s.cache_creation_input_tokens,
            "cache_read_input_tokens": s.cache_read_input_tokens,
        }
    });
    (
        "200 OK".into(),
        "application/json",
        vec![message.to_string().into_bytes()],
    )
}

/// OpenAI's Responses API: the reply as one assistant message, streamed as the API's
/// events (or one JSON object without `"stream": true`). As OpenAI counts them,
/// `input_tokens` includes the cached ones.
fn respond_responses(req: &Recorded, s: &Script) -> (String, &'static str, Vec<Vec<u8>>) {
    let body = req.json();
    let model = s
        .model
        .clone()
        .or_else(|| body["model"].as_str().map(String::from))
        .unwrap_or_else(|| "gpt-5".into());
    let usage = json!({
        "input_tokens": s.input_tokens + s.cache_read_input_tokens,
        "input_tokens_details": {"cached_tokens": s.cache_read_input_tokens},
        "output_tokens": s.output_tokens,
        "output_tokens_details": {"reasoning_tokens": s.reasoning_output_tokens},
        "total_tokens": s.input_tokens + s.cache_read_input_tokens + s.output_tokens,
    });
    let item = json!({"type": "message", "id": "msg_test_1", "role": "assistant", "status": "completed",
                      "content": [{"type": "output_text", "text": s.reply, "annotations": []}]});
    let response = |status: &str, output: Value, usage: Value| {
        json!({"id": "resp_test_1", "object": "response", "status": status, "model": model,
               "output": output, "usage": usage})
    };
    if body["stream"] != json!(true) {
        let done = response("completed", json!([item]), usage);
        return (
            "200 OK".into(),
            "application/json",
            vec![done.to_string().into_bytes()],
        );
    }
    let events = [
        json!({"type": "response.created", "sequence_number": 0,
               "response": response("in_progress", json!([]), Value::Null)}),
        json!({"type": "response.output_item.added", "sequence_number": 1, "output_index": 0,
               "item": {"type": "message", "id": "msg_test_1", "role": "assistant", "status": "in_progress", "content": []}}),
        json!({"type": "response.output_text.delta", "sequence_number": 2, "item_id": "msg_test_1",
               "output_index": 0, "content_index": 0, "delta": s.reply}),
        json!({"type": "response.output_item.done", "sequence_number": 3, "output_index": 0, "item": item}),
        json!({"type": "response.completed", "sequence_number": 4,
               "response": response("completed", json!([item]), usage)}),
    ];
    let out = events
        .iter()
        .map(|e| {
            format!(
                "event: {}\ndata: {e}\n\n",
                e["type"].as_str().unwrap_or_default()
            )
            .into_bytes()
        })
        .collect();
    ("200 OK".into(), "text/event-stream", out)
}

/// `text` in pieces of at most `n` characters.
fn pieces(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(n).map(|c| c.iter().collect()).collect()
}

/// Chat Completions: the reply as the assistant's message, streamed as chunks (the usage
/// in a last chunk when `stream_options.include_usage` asks for it, as OpenAI does) or
/// one completion object. `prompt_tokens` includes the cached ones.
fn respond_chat(req: &Recorded, s: &Script) -> (String, &'static str, Vec<Vec<u8>>) {
    let body = req.json();
    let model = s
        .model
        .clone()
        .or_else(|| body["model"].as_str().map(String::from))
        .unwrap_or_else(|| "gpt-4o".into());
    let usage = json!({
        "prompt_tokens": s.input_tokens + s.cache_read_input_tokens,
        "completion_tokens": s.output_tokens,
        "total_tokens": s.input_tokens + s.cache_read_input_tokens + s.output_tokens,
        "prompt_tokens_details": {"cached_tokens": s.cache_read_input_tokens},
    });
    let answered = body["messages"]
        .as_array()
        .is_some_and(|m| m.iter().any(|m| m["role"] == "tool"));
    // The answer: tool calls (each call's arguments streamed in pieces of a few bytes, as
    // real providers stream them, one call after the other) or the reply, after the
    // reasoning if any.
    let offered = |name: &str| {
        body["tools"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["function"]["name"] == name))
    };
    let calls: Vec<&(String, String)> = match s
        .tool_call
        .as_ref()
        .filter(|(name, _)| !answered && offered(name))
    {
        Some(first) => std::iter::once(first).chain(&s.more_tool_calls).collect(),
        None => Vec::new(),
    };
    let mut deltas = vec![json!({"role": "assistant", "content": ""})];
    if let Some(r) = &s.reasoning {
        for piece in pieces(r, 5) {
            deltas.push(json!({"reasoning_content": piece}));
        }
    }
    let (message, finish) = if calls.is_empty() {
        deltas.push(json!({"content": s.reply}));
        (json!({"role": "assistant", "content": s.reply}), "stop")
    } else {
        let mut whole = Vec::new();
        for (n, (name, args)) in calls.iter().enumerate() {
            let id = format!("call_test_{}", n + 1);
            deltas.push(
                json!({"tool_calls": [{"index": n, "id": id, "type": "function",
                                              "function": {"name": name, "arguments": ""}}]}),
            );
            for piece in pieces(args, 4) {
                deltas
                    .push(json!({"tool_calls": [{"index": n, "function": {"arguments": piece}}]}));
            }
            whole.push(json!({"id": id, "type": "function", "function": {"name": name, "arguments": args}}));
        }
        (
            json!({"role": "assistant", "content": null, "tool_calls": whole}),
            "tool_calls",
        )
    };
    let mut message = message;
    if let Some(r) = &s.reasoning {
        message["reasoning_content"] = json!(r);
    }
    if body["stream"] != json!(true) {
        let done = json!({"id": "chatcmpl-test", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage});
        return (
            "200 OK".into(),
            "application/json",
            vec![done.to_string().into_bytes()],
        );
    }
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-test", "object": "chat.completion.chunk", "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut chunks: Vec<Value> = deltas.into_iter().map(|d| chunk(d, Value::Null)).collect();
    chunks.push(chunk(json!({}), json!(finish)));
    if body["stream_options"]["include_usage"] == json!(true) {
        chunks.push(
            json!({"id": "chatcmpl-test", "object": "chat.completion.chunk", "model": model,
                           "choices": [], "usage": usage}),
        );
    }
    let mut out: Vec<Vec<u8>> = chunks
        .iter()
        .map(|c| format!("data: {c}\n\n").into_bytes())
        .collect();
    out.push(b"data: [DONE]\n\n".to_vec());
    ("200 OK".into(), "text/event-stream", out)
}
