//! Reads token usage out of a response on the side, chunk by chunk, without holding the
//! response back.
//!
//! Server-sent events are scanned line by line and only `data:` lines that mention
//! `"usage"` are parsed: Anthropic's `message_start` (`message.usage`, `message.model`)
//! and `message_delta` (`usage`, cumulative), OpenAI chat chunks (`usage`, with
//! `stream_options.include_usage`) and the Responses API's `response.completed`
//! (`response.usage`). A JSON body is kept (up to a cap) and parsed at the end. A response
//! without a `usage` object (errors, `count_tokens`, model lists) yields nothing.

use serde_json::Value;

/// Largest JSON body kept for parsing; past it the response is forwarded untapped.
const MAX_JSON: usize = 16 * 1024 * 1024;
/// Longest SSE line kept; a longer one (a huge text delta) is skipped.
const MAX_LINE: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    Sse,
    Json,
}

#[derive(Debug)]
pub struct UsageTap {
    format: Format,
    buf: Vec<u8>,
    overflow: bool,
    usage: Usage,
    seen_usage: bool,
    model: Option<String>,
}

impl UsageTap {
    /// A tap for a response of this content type, or None when there is nothing to read
    /// (an encoded body, or neither SSE nor JSON).
    pub fn for_response(
        content_type: Option<&str>,
        content_encoding: Option<&str>,
    ) -> Option<Self> {
        if content_encoding.is_some_and(|e| !e.eq_ignore_ascii_case("identity")) {
            return None;
        }
        let ct = content_type.unwrap_or_default().to_ascii_lowercase();
        let format = if ct.starts_with("text/event-stream") {
            Format::Sse
        } else if ct.starts_with("application/json") || ct.is_empty() {
            Format::Json
        } else {
            return None;
        };
        Some(Self {
            format,
            buf: Vec::new(),
            overflow: false,
            usage: Usage::default(),
            seen_usage: false,
            model: None,
        })
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        match self.format {
            Format::Json => {
                if self.overflow || self.buf.len() + chunk.len() > MAX_JSON {
                    self.overflow = true;
                    self.buf = Vec::new();
                } else {
                    self.buf.extend_from_slice(chunk);
                }
            }
            Format::Sse => {
                let mut rest = chunk;
                while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
                    if self.overflow {
                        // The tail of a line too long to keep.
                    } else if self.buf.is_empty() {
                        self.line(&rest[..nl]);
                    } else {
                        let mut line = std::mem::take(&mut self.buf);
                        line.extend_from_slice(&rest[..nl]);
                        self.line(&line);
                        line.clear();
                        self.buf = line;
                    }
                    self.overflow = false;
                    rest = &rest[nl + 1..];
                }
                if self.buf.len() + rest.len() > MAX_LINE {
                    self.overflow = true;
                    self.buf.clear();
                } else if !self.overflow {
                    self.buf.extend_from_slice(rest);
                }
            }
        }
    }

    /// The model the response named and the usage it reported, if it reported any.
    pub fn finish(&mut self) -> Option<(Option<String>, Usage)> {
        match self.format {
            Format::Json if !self.overflow => {
                let body = std::mem::take(&mut self.buf);
                if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                    self.take_model(&v["model"]);
                    self.apply(&v["usage"]);
                }
            }
            Format::Sse if !self.overflow && !self.buf.is_empty() => {
                let line = std::mem::take(&mut self.buf);
                self.line(&line);
            }
            _ => {}
        }
        self.seen_usage.then(|| (self.model.clone(), self.usage))
    }

    fn line(&mut self, line: &[u8]) {
        let Some(data) = line.strip_prefix(b"data:") else {
            return;
        };
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        if !text.contains("\"usage\"") {
            if self.model.is_none() && text.contains("\"model\"") {
                // OpenAI chat chunks name the model on every chunk.
                if let Ok(v) = serde_json::from_str::<Value>(text.trim()) {
                    self.take_model(&v["model"]);
                }
            }
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(text.trim()) else {
            return;
        };
        match v["type"].as_str() {
            Some("message_start") => {
                self.take_model(&v["message"]["model"]);
                self.apply(&v["message"]["usage"]);
            }
            Some(t) if t.starts_with("response.") => {
                self.take_model(&v["response"]["model"]);
                self.apply(&v["response"]["usage"]);
            }
            _ => {
                self.take_model(&v["model"]);
                self.apply(&v["usage"]);
            }
        }
    }

    fn take_model(&mut self, v: &Value) {
        if let Some(m) = v.as_str().filter(|m| !m.is_empty()) {
            self.model = Some(m.to_string());
        }
    }

    /// Applies a `usage` object of any of the three formats; fields present overwrite
    /// (Anthropic's `message_delta` counts are cumulative).
    fn apply(&mut self, u: &Value) {
        let Some(obj) = u.as_object() else {
            return;
        };
        let n = |k: &str| obj.get(k).and_then(Value::as_u64);
        if let Some(prompt) = n("prompt_tokens") {
            // OpenAI chat: cached tokens are part of prompt_tokens.
            let cached = u["prompt_tokens_details"]["cached_tokens"]
                .as_u64()
                .unwrap_or(0);
            self.usage.input_tokens = prompt.saturating_sub(cached);
            self.usage.cache_read_input_tokens = cached;
            self.usage.output_tokens = n("completion_tokens").unwrap_or(0);
        } else if obj.contains_key("input_tokens_details") {
            // OpenAI Responses: likewise, under other names.
            let cached = u["input_tokens_details"]["cached_tokens"]
                .as_u64()
                .unwrap_or(0);
            self.usage.input_tokens = n("input_tokens").unwrap_or(0).saturating_sub(cached);
            self.usage.cache_read_input_tokens = cached;
            self.usage.output_tokens = n("output_tokens").unwrap_or(0);
        } else {
            let fields = [
                ("input_tokens", &mut self.usage.input_tokens),
                ("output_tokens", &mut self.usage.output_tokens),
                (
                    "cache_creation_input_tokens",
                    &mut self.usage.cache_creation_input_tokens,
                ),
                (
                    "cache_read_input_tokens",
                    &mut self.usage.cache_read_input_tokens,
                ),
            ];
            let mut any = false;
            for (k, slot) in fields {
                if let Some(v) = n(k) {
                    *slot = v;
                    any = true;
                }
            }
            if !any {
                return;
            }
        }
        self.seen_usage = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ct: &str, chunks: &[&[u8]]) -> Option<(Option<String>, Usage)> {
        let mut tap = UsageTap::for_response(Some(ct), None).unwrap();
        for c in chunks {
            tap.feed(c);
        }
        tap.finish()
    }

    const ANTHROPIC_SSE: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-x\",\"usage\":{\"input_tokens\":10,\"output_tokens\":1,\"cache_creation_input_tokens\":3,\"cache_read_input_tokens\":4}}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"hi\"}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":42}}\n\n";

    #[test]
    fn anthropic_stream_in_any_chunking() {
        let want = Usage {
            input_tokens: 10,
            output_tokens: 42,
            cache_creation_input_tokens: 3,
            cache_read_input_tokens: 4,
        };
        let bytes = ANTHROPIC_SSE.as_bytes();
        for size in [1, 2, 7, 64, bytes.len()] {
            let chunks: Vec<&[u8]> = bytes.chunks(size).collect();
            let got = run("text/event-stream; charset=utf-8", &chunks).unwrap();
            assert_eq!(got, (Some("claude-x".into()), want), "chunk size {size}");
        }
    }

    #[test]
    fn non_streaming_formats() {
        let anthropic = br#"{"model":"m1","usage":{"input_tokens":5,"output_tokens":6,"cache_creation_input_tokens":0,"cache_read_input_tokens":2}}"#;
        let (m, u) = run("application/json", &[&anthropic[..9], &anthropic[9..]]).unwrap();
        assert_eq!(m.as_deref(), Some("m1"));
        assert_eq!(
            (u.input_tokens, u.output_tokens, u.cache_read_input_tokens),
            (5, 6, 2)
        );
        let chat = br#"{"model":"gpt","usage":{"prompt_tokens":100,"completion_tokens":7,"prompt_tokens_details":{"cached_tokens":60}}}"#;
        let (_, u) = run("application/json", &[chat]).unwrap();
        assert_eq!(
            (u.input_tokens, u.cache_read_input_tokens, u.output_tokens),
            (40, 60, 7)
        );
        let responses = br#"{"model":"o","usage":{"input_tokens":50,"output_tokens":9,"input_tokens_details":{"cached_tokens":20}}}"#;
        let (_, u) = run("application/json", &[responses]).unwrap();
        assert_eq!(
            (u.input_tokens, u.cache_read_input_tokens, u.output_tokens),
            (30, 20, 9)
        );
        // count_tokens and errors carry no usage.
        assert_eq!(run("application/json", &[br#"{"input_tokens":12}"#]), None);
        assert_eq!(run("application/json", &[br#"{"type":"error"}"#]), None);
    }

    #[test]
    fn openai_streams() {
        let chat = "data: {\"object\":\"chat.completion.chunk\",\"model\":\"gpt-5\",\"choices\":[]}\n\ndata: {\"object\":\"chat.completion.chunk\",\"model\":\"gpt-5\",\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3}}\n\ndata: [DONE]\n\n";
        let (m, u) = run("text/event-stream", &[chat.as_bytes()]).unwrap();
        assert_eq!(m.as_deref(), Some("gpt-5"));
        assert_eq!((u.input_tokens, u.output_tokens), (9, 3));
        let resp = "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"model\":\"gpt-5-codex\",\"usage\":{\"input_tokens\":8,\"output_tokens\":2,\"input_tokens_details\":{\"cached_tokens\":5}}}}\n\n";
        let (m, u) = run("text/event-stream", &[resp.as_bytes()]).unwrap();
        assert_eq!(m.as_deref(), Some("gpt-5-codex"));
        assert_eq!((u.input_tokens, u.cache_read_input_tokens), (3, 5));
    }

    #[test]
    fn encoded_or_other_bodies_are_not_tapped() {
        assert!(UsageTap::for_response(Some("application/json"), Some("gzip")).is_none());
        assert!(UsageTap::for_response(Some("text/html"), None).is_none());
    }
}
