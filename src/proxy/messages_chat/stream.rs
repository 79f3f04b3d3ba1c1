//! A streamed chat completion (SSE `data:` chunks) → Anthropic's Messages event stream,
//! event by event as the chunks arrive: `message_start` with the first chunk; reasoning →
//! a thinking block (closed with a signature that carries the reasoning back, see
//! `thinking`); text → a text block; each tool call → a `tool_use` block whose arguments
//! go out as `input_json_delta`s piece by piece; the finish reason closes the open block
//! at once (Claude Code can start the tool before the usage chunk arrives); `[DONE]` or
//! the end of the body → `message_delta` (stop reason, usage) and `message_stop`.
//!
//! Parallel calls arrive one after the other (every provider seen streams a call whole
//! before the next): a call's block closes when the next one starts. A piece for a call
//! already closed cannot be sent any more and is dropped with a warning.

use serde_json::json;
use serde_json::value::RawValue;

use super::thinking;
use super::wire::{self, AnthropicUsage, BlockDelta, Completion, Usage};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Open {
    None,
    Text(usize),
    Thinking(usize),
    Tool(usize),
}

#[derive(Debug)]
struct Call {
    provider_index: Option<u64>,
    id: String,
    name: String,
    /// Arguments received before the block could start.
    pending: String,
    block: Option<usize>,
}

#[derive(Debug)]
pub struct Stream {
    model: String,
    line: Vec<u8>,
    started: bool,
    done: bool,
    id: String,
    next_block: usize,
    open: Open,
    field: &'static str,
    details: Vec<serde_json::Value>,
    calls: Vec<Call>,
    finish: Option<String>,
    usage: Option<Usage>,
}

impl Stream {
    /// `model`: the one asked for, named when the provider names none.
    pub fn new(model: String) -> Self {
        Self {
            model,
            line: Vec::new(),
            started: false,
            done: false,
            id: String::new(),
            next_block: 0,
            open: Open::None,
            field: "reasoning_content",
            details: Vec::new(),
            calls: Vec::new(),
            finish: None,
            usage: None,
        }
    }

    pub fn feed(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = data;
        while let Some(nl) = memchr::memchr(b'\n', rest) {
            if self.line.is_empty() {
                self.on_line(&rest[..nl], &mut out);
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&rest[..nl]);
                self.on_line(&line, &mut out);
                line.clear();
                self.line = line;
            }
            rest = &rest[nl + 1..];
        }
        self.line.extend_from_slice(rest);
        out
    }

    /// The upstream body ended: whatever is left, and the end of the message.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.on_line(&line, &mut out);
        }
        if self.started {
            self.complete(&mut out);
        }
        out
    }

    fn on_line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(data) = line.strip_prefix(b"data:") else {
            return;
        };
        let data = data.strip_prefix(b" ").unwrap_or(data);
        if self.done {
            return;
        }
        if data == b"[DONE]" {
            if self.started {
                self.complete(out);
            }
            return;
        }
        let Ok(chunk) = serde_json::from_slice::<Completion>(data) else {
            return;
        };
        if !self.started {
            self.start(&chunk, out);
        }
        if let Some(err) = chunk.error {
            self.done = true;
            let message = super::error::message_of(err.get().as_bytes());
            wire::event(
                out,
                "error",
                &json!({"type": "error", "error": {"type": "api_error", "message": message}}),
            );
            return;
        }
        if let Some(u) = chunk.usage {
            self.usage = Some(u);
        }
        for choice in &chunk.choices {
            if let Some(d) = &choice.delta {
                self.on_delta(d, out);
            }
            if let Some(f) = wire::text(&choice.finish_reason) {
                self.finish = Some(f.to_string());
                self.close(out);
            }
        }
    }

    fn start(&mut self, chunk: &Completion, out: &mut Vec<u8>) {
        self.started = true;
        self.id = chunk
            .id
            .as_ref()
            .map_or_else(|| "chat".to_string(), |s| s.as_str().to_string());
        if let Some(m) = chunk.model.as_ref().filter(|m| !m.as_str().is_empty()) {
            self.model = m.as_str().to_string();
        }
        let message = json!({"id": format!("msg_{}", self.id), "type": "message",
            "role": "assistant", "model": self.model, "content": [], "stop_reason": null,
            "stop_sequence": null, "usage": {"input_tokens": 0, "output_tokens": 0}});
        wire::event(
            out,
            "message_start",
            &json!({"type": "message_start", "message": message}),
        );
    }

    fn on_delta(&mut self, d: &wire::Delta, out: &mut Vec<u8>) {
        let (reasoning, field) = match (wire::text(&d.reasoning_content), wire::text(&d.reasoning))
        {
            (Some(r), _) => (Some(r), "reasoning_content"),
            (None, Some(r)) => (Some(r), "reasoning"),
            _ => (None, self.field),
        };
        for item in &d.reasoning_details {
            merge_detail(&mut self.details, item);
        }
        let from_details;
        let reasoning = match reasoning {
            Some(r) => Some(r),
            None if !d.reasoning_details.is_empty() => {
                from_details = details_text(&d.reasoning_details);
                Some(from_details.as_str()).filter(|t| !t.is_empty())
            }
            None => None,
        };
        if let Some(r) = reasoning {
            self.field = field;
            let index = match self.open {
                Open::Thinking(i) => i,
                _ => {
                    self.close(out);
                    let i = self.begin(
                        out,
                        json!({"type": "thinking", "thinking": "", "signature": ""}),
                    );
                    self.open = Open::Thinking(i);
                    i
                }
            };
            wire::delta(out, index, BlockDelta::Thinking { thinking: r });
        }
        if let Some(text) = wire::text(&d.content) {
            let index = match self.open {
                Open::Text(i) => i,
                _ => {
                    self.close(out);
                    let i = self.begin(out, json!({"type": "text", "text": ""}));
                    self.open = Open::Text(i);
                    i
                }
            };
            wire::delta(out, index, BlockDelta::Text { text });
        }
        for piece in &d.tool_calls {
            self.on_call(piece, out);
        }
    }

    fn on_call(&mut self, piece: &wire::CallPiece, out: &mut Vec<u8>) {
        let id = wire::text(&piece.id);
        let found = match (piece.index, id) {
            (Some(i), id) => self
                .calls
                .iter()
                .rposition(|c| c.provider_index == Some(i) && id.is_none_or(|id| c.id == id)),
            (None, Some(id)) => self.calls.iter().rposition(|c| c.id == id),
            (None, None) => self.calls.len().checked_sub(1),
        };
        let slot = match found {
            Some(s) => s,
            None => {
                if self.calls.len() >= 128 {
                    return;
                }
                let n = self.calls.len();
                self.calls.push(Call {
                    provider_index: piece.index,
                    id: id.map_or_else(|| format!("call_{}_{n}", self.id), str::to_string),
                    name: String::new(),
                    pending: String::new(),
                    block: None,
                });
                n
            }
        };
        let f = piece.function.as_ref();
        let call = &mut self.calls[slot];
        if let Some(name) = f.and_then(|f| wire::text(&f.name))
            && call.block.is_none()
        {
            call.name.push_str(name);
        }
        if let Some(args) = f.and_then(|f| wire::text(&f.arguments)) {
            call.pending.push_str(args);
        }
        match (call.block, self.open) {
            (None, _) if !call.name.is_empty() => {
                self.close(out);
                let call = &self.calls[slot];
                let block =
                    json!({"type": "tool_use", "id": call.id, "name": call.name, "input": {}});
                let i = self.begin(out, block);
                self.calls[slot].block = Some(i);
                self.open = Open::Tool(slot);
                self.flush_args(slot, out);
            }
            (Some(_), Open::Tool(s)) if s == slot => self.flush_args(slot, out),
            (Some(_), _) => {
                let call = &mut self.calls[slot];
                if !call.pending.is_empty() {
                    tracing::warn!(
                        "arguments of tool call {} came after its block closed; dropped",
                        call.id
                    );
                    call.pending.clear();
                }
            }
            _ => {}
        }
    }

    fn flush_args(&mut self, slot: usize, out: &mut Vec<u8>) {
        let call = &mut self.calls[slot];
        if let (Some(i), false) = (call.block, call.pending.is_empty()) {
            wire::delta(
                out,
                i,
                BlockDelta::InputJson {
                    partial_json: &call.pending,
                },
            );
            call.pending.clear();
        }
    }

    /// Starts a content block; returns its index.
    fn begin(&mut self, out: &mut Vec<u8>, block: serde_json::Value) -> usize {
        let index = self.next_block;
        self.next_block += 1;
        wire::event(
            out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        );
        index
    }

    /// Closes the open block (a thinking block with its signature first).
    fn close(&mut self, out: &mut Vec<u8>) {
        let index = match self.open {
            Open::None => return,
            Open::Thinking(i) => {
                let signature = thinking::sign(self.field, &self.details);
                self.details.clear();
                wire::delta(
                    out,
                    i,
                    BlockDelta::Signature {
                        signature: &signature,
                    },
                );
                i
            }
            Open::Text(i) => i,
            Open::Tool(slot) => match self.calls[slot].block {
                Some(i) => i,
                None => return,
            },
        };
        self.open = Open::None;
        wire::block_stop(out, index);
    }

    fn complete(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.done = true;
        self.close(out);
        let calls = self.calls.iter().any(|c| c.block.is_some());
        let stop = wire::stop_reason(self.finish.as_deref(), calls);
        let usage = AnthropicUsage::from(self.usage.unwrap_or_default());
        wire::event(
            out,
            "message_delta",
            &json!({"type": "message_delta",
                    "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": usage}),
        );
        wire::event(out, "message_stop", &json!({"type": "message_stop"}));
    }
}

/// Adds a streamed `reasoning_details` item: a piece of the item before it (same type and
/// index) is appended to it, as the provider wants the whole items back.
fn merge_detail(details: &mut Vec<serde_json::Value>, item: &RawValue) {
    let Ok(serde_json::Value::Object(new)) = serde_json::from_str(item.get()) else {
        return;
    };
    if let Some(serde_json::Value::Object(last)) = details.last_mut()
        && last.get("type") == new.get("type")
        && last.get("index") == new.get("index")
    {
        for (k, v) in new {
            match (last.get_mut(&k), v) {
                (Some(serde_json::Value::String(a)), serde_json::Value::String(b))
                    if matches!(k.as_str(), "text" | "summary" | "data") =>
                {
                    a.push_str(&b)
                }
                (_, v) => {
                    last.insert(k, v);
                }
            }
        }
        return;
    }
    if details.len() < 1024 {
        details.push(serde_json::Value::Object(new));
    }
}

/// The readable text of `reasoning_details` items (OpenRouter and MiniMax send text and
/// summaries there; encrypted items have none).
pub fn details_text(items: &[&RawValue]) -> String {
    let mut out = String::new();
    for item in items {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(item.get())
            && let Some(t) = v["text"].as_str().or_else(|| v["summary"].as_str())
        {
            out.push_str(t);
        }
    }
    out
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
