//! A fast, allocation-free reader for the few fields usage needs from one line of a
//! Claude Code transcript, without building a JSON tree.
//!
//! It walks the top-level object and the `message` object properly (strings, escapes,
//! nesting), skipping every other value with `memchr` over string bodies, so the large
//! `content` arrays cost little more than a memory scan. Only the small `usage` object is
//! handed to serde. Any structural error makes the line malformed.

use serde::Deserialize;

use crate::tokens::Tokens;

/// `message.usage` as Claude Code writes it.
#[derive(Debug, Default, Deserialize)]
struct RawUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_creation_input_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: u64,
    /// Split of the cache writes by lifetime, when Claude Code recorded it.
    #[serde(default)]
    cache_creation: Option<CacheCreation>,
}

#[derive(Debug, Default, Deserialize)]
struct CacheCreation {
    #[serde(default)]
    ephemeral_1h_input_tokens: u64,
}

impl From<RawUsage> for Tokens {
    fn from(u: RawUsage) -> Self {
        Tokens {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cache_creation_input_tokens: u.cache_creation_input_tokens,
            cache_read_input_tokens: u.cache_read_input_tokens,
            cache_creation_1h_input_tokens: u
                .cache_creation
                .map(|c| c.ephemeral_1h_input_tokens)
                .unwrap_or(0),
            reasoning_output_tokens: 0,
        }
    }
}

/// The fields of an assistant line that usage accounting reads. Strings are raw JSON
/// string bodies (escapes not decoded; ids and timestamps never contain any).
#[derive(Debug, Default, PartialEq)]
pub struct Line<'a> {
    pub message_id: Option<&'a [u8]>,
    pub request_id: Option<&'a [u8]>,
    pub model: Option<&'a [u8]>,
    pub timestamp: Option<&'a [u8]>,
    pub session_id: Option<&'a [u8]>,
    pub is_sidechain: bool,
    pub usage: Option<Tokens>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Malformed;

const MAX_DEPTH: usize = 256;

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn ws(&mut self) {
        while let Some(c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Result<(), Malformed> {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(Malformed)
        }
    }

    /// A string at the cursor; returns its raw body.
    fn string(&mut self) -> Result<&'a [u8], Malformed> {
        self.eat(b'"')?;
        let start = self.i;
        loop {
            let rest = self.b.get(self.i..).ok_or(Malformed)?;
            let k = memchr::memchr2(b'"', b'\\', rest).ok_or(Malformed)?;
            self.i += k;
            if self.b[self.i] == b'"' {
                let body = &self.b[start..self.i];
                self.i += 1;
                return Ok(body);
            }
            self.i += 2; // a backslash and the character it escapes
        }
    }

    fn skip_value(&mut self, depth: usize) -> Result<(), Malformed> {
        if depth > MAX_DEPTH {
            return Err(Malformed);
        }
        self.ws();
        match self.peek().ok_or(Malformed)? {
            b'"' => self.string().map(|_| ()),
            b'{' => self.object(|c, _| c.skip_value(depth + 1)),
            b'[' => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return Err(Malformed),
                    }
                }
            }
            _ => {
                let start = self.i;
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                        break;
                    }
                    self.i += 1;
                }
                if self.i == start {
                    Err(Malformed)
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Iterates an object's members, calling `f(key)` with the cursor at the value; `f`
    /// must consume the value.
    fn object(
        &mut self,
        mut f: impl FnMut(&mut Self, &'a [u8]) -> Result<(), Malformed>,
    ) -> Result<(), Malformed> {
        self.eat(b'{')?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            let key = self.string()?;
            self.eat(b':')?;
            self.ws();
            f(self, key)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(Malformed),
            }
        }
    }

    fn string_or_null(&mut self) -> Result<Option<&'a [u8]>, Malformed> {
        if self.peek() == Some(b'"') {
            self.string().map(Some)
        } else {
            self.skip_value(1).map(|_| None)
        }
    }
}

/// Reads `line`. `Ok` with `usage: None` when the line has no `message.usage`.
pub fn parse_line(line: &[u8]) -> Result<Line<'_>, Malformed> {
    let mut c = Cursor { b: line, i: 0 };
    let mut out = Line::default();
    let mut nested = Line::default();
    c.object(|c, key| {
        match key {
            b"message" if c.peek() == Some(b'{') => message(c, &mut out)?,
            // A sub-agent's response can be recorded only inside a progress line:
            // `{"type":"progress","data":{"message":{"message":{…usage…},"requestId":…}}}`.
            b"data" if c.peek() == Some(b'{') => c.object(|c, key| match key {
                b"message" if c.peek() == Some(b'{') => c.object(|c, key| match key {
                    b"message" if c.peek() == Some(b'{') => message(c, &mut nested),
                    b"requestId" => c.string_or_null().map(|v| nested.request_id = v),
                    b"timestamp" => c.string_or_null().map(|v| nested.timestamp = v),
                    _ => c.skip_value(1),
                }),
                _ => c.skip_value(1),
            })?,
            b"requestId" => out.request_id = c.string_or_null()?,
            b"timestamp" => out.timestamp = c.string_or_null()?,
            b"sessionId" => out.session_id = c.string_or_null()?,
            b"isSidechain" => {
                let start = c.i;
                c.skip_value(1)?;
                out.is_sidechain = &c.b[start..c.i] == b"true";
            }
            _ => c.skip_value(1)?,
        }
        Ok(())
    })?;
    c.ws();
    if c.i != line.len() {
        return Err(Malformed);
    }
    if out.usage.is_none() && nested.usage.is_some() {
        nested.session_id = out.session_id;
        nested.is_sidechain = true;
        nested.timestamp = nested.timestamp.or(out.timestamp);
        return Ok(nested);
    }
    Ok(out)
}

/// The `message` object: id, model and the usage (handed to serde).
fn message<'a>(c: &mut Cursor<'a>, out: &mut Line<'a>) -> Result<(), Malformed> {
    c.object(|c, key| match key {
        b"id" => c.string_or_null().map(|v| out.message_id = v),
        b"model" => c.string_or_null().map(|v| out.model = v),
        b"usage" if c.peek() == Some(b'{') => {
            let start = c.i;
            c.skip_value(1)?;
            let raw: RawUsage = serde_json::from_slice(&c.b[start..c.i]).map_err(|_| Malformed)?;
            out.usage = Some(raw.into());
            Ok(())
        }
        _ => c.skip_value(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_assistant_line() {
        let line = br#"{"parentUuid":"p","isSidechain":true,"sessionId":"s-1","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4","content":[{"type":"text","text":"a \"usage\":{ trap \\"},{"type":"tool_use","input":{"usage":{"input_tokens":999}}}],"usage":{"input_tokens":10,"cache_creation_input_tokens":2,"cache_read_input_tokens":3,"output_tokens":4,"service_tier":"standard","server_tool_use":{"web_search_requests":0}}},"requestId":"req_1","type":"assistant","timestamp":"2026-01-08T10:30:00.123Z"}"#;
        let l = parse_line(line).unwrap();
        assert_eq!(l.message_id, Some(&b"msg_1"[..]));
        assert_eq!(l.request_id, Some(&b"req_1"[..]));
        assert_eq!(l.model, Some(&b"claude-sonnet-4"[..]));
        assert_eq!(l.session_id, Some(&b"s-1"[..]));
        assert!(l.is_sidechain);
        assert_eq!(l.timestamp, Some(&b"2026-01-08T10:30:00.123Z"[..]));
        assert_eq!(
            l.usage,
            Some(Tokens {
                input_tokens: 10,
                output_tokens: 4,
                cache_creation_input_tokens: 2,
                cache_read_input_tokens: 3,
                cache_creation_1h_input_tokens: 0,
                reasoning_output_tokens: 0,
            })
        );
    }

    #[test]
    fn rejects_broken_lines() {
        for bad in [
            &br#"{"message":{"usage":{"input_tokens":1}}"#[..],
            br#"{"message":{"usage":{"input_tokens":"x"}}}"#,
            br#"{"a":"unterminated}"#,
            br#"{"a":1} trailing"#,
            b"",
        ] {
            assert_eq!(
                parse_line(bad),
                Err(Malformed),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(1000), "]".repeat(1000));
        assert_eq!(parse_line(deep.as_bytes()), Err(Malformed));
    }

    #[test]
    fn usage_nested_in_a_progress_line() {
        let line = br#"{"sessionId":"s-2","type":"progress","data":{"type":"agent_progress","message":{"type":"assistant","timestamp":"2026-01-08T10:30:00Z","requestId":"req_9","message":{"model":"claude-haiku-4-5","id":"msg_9","content":[{"type":"text","text":"x"}],"usage":{"input_tokens":7,"output_tokens":8}}}},"timestamp":"2026-01-08T10:31:00Z"}"#;
        let l = parse_line(line).unwrap();
        assert_eq!(l.message_id, Some(&b"msg_9"[..]));
        assert_eq!(l.request_id, Some(&b"req_9"[..]));
        assert_eq!(l.model, Some(&b"claude-haiku-4-5"[..]));
        assert_eq!(l.session_id, Some(&b"s-2"[..]));
        assert_eq!(l.timestamp, Some(&b"2026-01-08T10:30:00Z"[..]));
        assert_eq!(l.usage.map(|u| u.input_tokens + u.output_tokens), Some(15));
    }

    #[test]
    fn lines_without_usage() {
        let l = parse_line(br#"{"type":"user","message":{"role":"user","content":"hi"}}"#).unwrap();
        assert_eq!(l.usage, None);
    }
}
