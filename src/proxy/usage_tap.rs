//! Reads token usage out of a response on the side, chunk by chunk, without holding the
//! response back.
//!
//! Server-sent events are scanned line by line and only `data:` lines that mention
//! `"usage"` are parsed: Anthropic's `message_start` (`message.usage`, `message.model`)
//! and `message_delta` (`usage`, cumulative), OpenAI chat chunks (`usage`, with
//! `stream_options.include_usage`) and the Responses API's `response.completed`
//! (`response.usage`). A JSON body is kept (up to a cap) and parsed at the end. A response
//! without a `usage` object (errors, `count_tokens`, model lists) yields nothing.

use serde::Deserialize;

/// Largest JSON body kept for parsing; past it the response is forwarded untapped.
const MAX_JSON: usize = 16 * 1024 * 1024;
/// Longest SSE line kept; a longer one (a huge text delta) is skipped.
const MAX_LINE: usize = 1024 * 1024;

use crate::tokens::Tokens;

/// The fields of a usage object in any of the three formats; the rest is skipped
/// without being built (this runs on every response).
#[derive(Debug, Default, Deserialize)]
struct RawUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation: Option<CacheCreation>,
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    prompt_tokens_details: Option<Cached>,
    input_tokens_details: Option<Cached>,
}

#[derive(Debug, Default, Deserialize)]
struct CacheCreation {
    ephemeral_1h_input_tokens: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
struct Cached {
    cached_tokens: Option<u64>,
}

/// A message, an SSE event's `message` or `response`, or a whole JSON body.
#[derive(Debug, Default, Deserialize)]
struct Holder {
    #[serde(rename = "type")]
    kind: Option<String>,
    model: Option<String>,
    usage: Option<RawUsage>,
    message: Option<Box<Holder>>,
    response: Option<Box<Holder>>,
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
    usage: Tokens,
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
            usage: Tokens::default(),
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
    pub fn finish(&mut self) -> Option<(Option<String>, Tokens)> {
        match self.format {
            Format::Json if !self.overflow => {
                let body = std::mem::take(&mut self.buf);
                if let Ok(h) = serde_json::from_slice::<Holder>(&body) {
                    self.take(h);
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
        let text = text.trim();
        // Most events are text deltas: only those naming a usage, or a model we do not
        // know yet (OpenAI chat chunks name it on every chunk), are parsed.
        if !text.contains("\"usage\"") && (self.model.is_some() || !text.contains("\"model\"")) {
            return;
        }
        if let Ok(h) = serde_json::from_str::<Holder>(text) {
            match h.kind.as_deref() {
                Some("message_start") => {
                    if let Some(m) = h.message {
                        self.take(*m);
                    }
                }
                Some(t) if t.starts_with("response.") => {
                    if let Some(r) = h.response {
                        self.take(*r);
                    }
                }
                _ => self.take(h),
            }
        }
    }

    fn take(&mut self, h: Holder) {
        if let Some(m) = h.model.filter(|m| !m.is_empty()) {
            self.model = Some(m);
        }
        if let Some(u) = h.usage {
            self.apply(u);
        }
    }

    /// Applies a usage object of any of the three formats; fields present overwrite
    /// (Anthropic's `message_delta` counts are cumulative).
    fn apply(&mut self, u: RawUsage) {
        if let Some(prompt) = u.prompt_tokens {
            // OpenAI chat: cached tokens are part of prompt_tokens.
            let cached = u
                .prompt_tokens_details
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0);
            self.usage.input_tokens = prompt.saturating_sub(cached);
            self.usage.cache_read_input_tokens = cached;
            self.usage.output_tokens = u.completion_tokens.unwrap_or(0);
        } else if let Some(details) = u.input_tokens_details {
            // OpenAI Responses: likewise, under other names.
            let cached = details.cached_tokens.unwrap_or(0);
            self.usage.input_tokens = u.input_tokens.unwrap_or(0).saturating_sub(cached);
            self.usage.cache_read_input_tokens = cached;
            self.usage.output_tokens = u.output_tokens.unwrap_or(0);
        } else {
            let fields = [
                (u.input_tokens, &mut self.usage.input_tokens),
                (u.output_tokens, &mut self.usage.output_tokens),
                (
                    u.cache_creation_input_tokens,
                    &mut self.usage.cache_creation_input_tokens,
                ),
                (
                    u.cache_read_input_tokens,
                    &mut self.usage.cache_read_input_tokens,
                ),
            ];
            let one_hour = u.cache_creation.and_then(|c| c.ephemeral_1h_input_tokens);
            let mut any = false;
            if let Some(v) = one_hour {
                self.usage.cache_creation_1h_input_tokens = v;
            }
            for (v, slot) in fields {
                if let Some(v) = v {
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

    fn run(ct: &str, chunks: &[&[u8]]) -> Option<(Option<String>, Tokens)> {
        let mut tap = UsageTap::for_response(Some(ct), None).unwrap();
        for c in chunks {
            tap.feed(c);
        }
        tap.finish()
    }

    const ANTHROPIC_SSE: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-x\",\"usage\":{\"input_tokens\":10,\"output_tokens\":1,\"cache_creation_input_tokens\":3,\"cache_read_input_tokens\":4,\"cache_creation\":{\"ephemeral_5m_input_tokens\":1,\"ephemeral_1h_input_tokens\":2}}}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"hi\"}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":42}}\n\n";

    #[test]
    fn anthropic_stream_in_any_chunking() {
        let want = Tokens {
            input_tokens: 10,
            output_tokens: 42,
            cache_creation_input_tokens: 3,
            cache_read_input_tokens: 4,
            cache_creation_1h_input_tokens: 2,
            ..Default::default()
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
