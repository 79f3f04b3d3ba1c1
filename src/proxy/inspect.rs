//! What the proxy keeps of each request for the inspector: the routing decision, the key
//! (its label and hint), target, model, status, timings, tokens, earlier attempts, the
//! error the agent got, and — only when the profile opts in — the request and response
//! bodies, each cut at the profile's `body_limit`. Everything textual goes through
//! [`Redactor`] first: the plan's keys and local token, and anything shaped like a key
//! or a credential field, never leave the child.
//!
//! A request's [`Entry`] is filled while it runs; the response body (`body.rs`) hands it
//! the bytes it forwards and finishes it with the usage, then it goes to the reporter.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use regex_lite::Regex;

use super::plan::Plan;
use super::pool::Pool;
use super::report::Reporter;
use crate::requests::{Attempt, InspectedRequest};
use crate::tokens::Tokens;

/// The error body kept whether or not bodies are captured.
const ERROR_LIMIT: usize = 4096;
const REDACTED: &str = "[redacted]";

/// Removes secrets from texts the inspector keeps.
pub struct Redactor {
    secrets: Vec<String>,
}

fn patterns() -> &'static [(Regex, &'static str)] {
    static P: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    P.get_or_init(|| {
        [
            // Keys by their look: Anthropic's, OpenAI's and most providers' `sk-…`,
            // Google's `AIza…`, xAI's `xai-…`.
            (r"\b(sk|xai)-[A-Za-z0-9_\-]{12,}", REDACTED),
            (r"\bAIza[0-9A-Za-z_\-]{20,}", REDACTED),
            (r"(?i)\bbearer\s+[A-Za-z0-9._~+/\-]{8,}=*", "Bearer [redacted]"),
            // Credential fields in JSON.
            (
                r#"(?i)"(api[_-]?key|x-api-key|authorization|access_token|refresh_token|id_token|password|secret|client_secret|token)"\s*:\s*"[^"]*""#,
                r#""$1":"[redacted]""#,
            ),
        ]
        .into_iter()
        .filter_map(|(p, r)| Regex::new(p).ok().map(|re| (re, r)))
        .collect()
    })
}

impl Redactor {
    pub fn new(plan: &Plan) -> Self {
        let mut secrets: Vec<String> = plan
            .targets
            .iter()
            .filter_map(|t| t.key.clone())
            .chain([plan.local_token.clone()])
            .chain(plan.daemon_token.clone())
            .filter(|s| s.len() >= 6)
            .collect();
        // The longest first, so a key that contains another is removed whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), REDACTED);
            }
        }
        for (re, with) in patterns() {
            if re.is_match(&out) {
                out = re.replace_all(&out, *with).into_owned();
            }
        }
        out
    }

    /// `bytes` as text, redacted and cut at `limit` bytes.
    pub fn text(&self, bytes: &[u8], limit: usize) -> String {
        let cut = bytes.len() > limit;
        let mut end = limit.min(bytes.len());
        let mut text = String::from_utf8_lossy(&bytes[..end]);
        // Not in the middle of a character.
        while cut && end > 0 && text.ends_with('\u{fffd}') {
            end -= 1;
            text = String::from_utf8_lossy(&bytes[..end]);
        }
        let mut out = self.redact(&text);
        if cut {
            out.push_str(&format!("…[cut: {} bytes in all]", bytes.len()));
        }
        out
    }
}

/// A request being inspected.
pub struct Entry {
    pub record: InspectedRequest,
    started: Instant,
    redactor: Arc<Redactor>,
    reporter: Reporter,
    pool: Arc<Pool>,
    member: Option<usize>,
    /// The response bytes kept: all of them up to the cap when capturing, else only an
    /// error's.
    kept: Vec<u8>,
    limit: usize,
    capture: bool,
    /// The answer is an event stream.
    streamed: bool,
    /// The daemon keeps requests of this profile (`inspector.keep` above 0).
    kept_by_daemon: bool,
}

impl Entry {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        plan: &Plan,
        id: u64,
        method: &str,
        path: &str,
        route: String,
        rule: Option<usize>,
        redactor: Arc<Redactor>,
        reporter: Reporter,
        pool: Arc<Pool>,
        request_body: &[u8],
    ) -> Self {
        let capture = plan.inspector.capture_bodies;
        let limit = plan.inspector.body_limit;
        let record = InspectedRequest {
            profile: plan.profile.clone(),
            id,
            at_ms: super::pool::now_ms(),
            method: method.to_string(),
            path: path.to_string(),
            route,
            rule,
            target: plan
                .targets
                .first()
                .map(|t| t.provider.clone())
                .unwrap_or_default(),
            status: 502,
            request_body: capture.then(|| redactor.text(request_body, limit)),
            ..InspectedRequest::default()
        };
        Self {
            record,
            started: Instant::now(),
            redactor,
            reporter,
            pool,
            member: None,
            kept: Vec::new(),
            limit,
            capture,
            streamed: false,
            kept_by_daemon: plan.inspector.keep > 0,
        }
    }

    /// The member about to answer.
    pub fn answering(
        &mut self,
        member: usize,
        target: &str,
        model: Option<&str>,
        hint: Option<&str>,
        status: u16,
    ) {
        self.member = Some(member);
        self.record.key = Some(self.pool.key(member).to_string());
        self.record.key_hint = hint.map(str::to_string);
        self.record.target = target.to_string();
        self.record.model = model.map(str::to_string);
        self.record.status = status;
    }

    /// The answer is an event stream (its rate counts from its first byte).
    pub fn streamed(&mut self, yes: bool) {
        self.streamed = yes;
    }

    /// An attempt that failed before the answer.
    pub fn failed(&mut self, member: usize, target: &str, status: u16, error: &str) {
        self.record.attempts.push(Attempt {
            key: Some(self.pool.key(member).to_string()),
            target: target.to_string(),
            status,
            error: self.redactor.text(error.as_bytes(), ERROR_LIMIT),
        });
    }

    /// Response bytes as the agent gets them.
    pub fn see(&mut self, data: &[u8]) {
        let limit = if self.capture {
            self.limit
        } else if self.record.status >= 400 {
            ERROR_LIMIT
        } else {
            return;
        };
        let room = (limit + 1).saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&data[..room.min(data.len())]);
    }

    /// The answer ended: timings, tokens, the kept bytes; off to the reporter.
    pub fn done(
        mut self,
        ttfb_ms: Option<f64>,
        tokens: Option<&Tokens>,
        model: Option<&str>,
        ended: Instant,
    ) {
        let r = &mut self.record;
        r.duration_ms = ended.duration_since(self.started).as_secs_f64() * 1000.0;
        r.ttfb_ms = ttfb_ms;
        if let Some(m) = model {
            r.model = Some(m.to_string());
        }
        if let Some(t) = tokens {
            r.input_tokens = t.input_tokens;
            r.output_tokens = t.output_tokens;
            r.cache_read_input_tokens = t.cache_read_input_tokens;
            r.cache_creation_input_tokens = t.cache_creation_input_tokens;
            // A stream's rate after its first byte; a whole answer's over all of it.
            let streaming_ms = if self.streamed {
                r.duration_ms - ttfb_ms.unwrap_or(0.0)
            } else {
                r.duration_ms
            };
            if t.output_tokens > 0 && streaming_ms > 0.0 {
                r.tokens_per_sec = Some(t.output_tokens as f64 * 1000.0 / streaming_ms);
            }
            if let Some(m) = self.member {
                self.pool.tokens(m, t.input_tokens, t.output_tokens);
            }
        }
        if !self.kept.is_empty() {
            let limit = if self.capture {
                self.limit
            } else {
                ERROR_LIMIT
            };
            let text = self.redactor.text(&self.kept, limit);
            if r.status >= 400 {
                r.error = Some(self.redactor.text(&self.kept, ERROR_LIMIT));
            }
            if self.capture {
                r.response_body = Some(text);
            }
        }
        self.send();
    }

    /// Answered by the proxy itself (an error, or a local answer).
    pub fn local(mut self, status: u16, body: &str) {
        self.record.status = status;
        self.record.duration_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        if status >= 400 {
            self.record.error = Some(self.redactor.text(body.as_bytes(), ERROR_LIMIT));
        }
        if self.capture {
            self.record.response_body = Some(self.redactor.text(body.as_bytes(), self.limit));
        }
        self.send();
    }

    fn send(self) {
        if self.kept_by_daemon {
            self.reporter.inspected(self.record);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_tokens_and_credential_fields_are_redacted() {
        let r = Redactor {
            secrets: vec!["local-token-123".into(), "plain-secret-key".into()],
        };
        let text = r#"{"x-api-key":"abc","note":"plain-secret-key and local-token-123","k":"sk-ant-api03-AAAABBBBCCCCDDDD","h":"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.x"}"#;
        let out = r.redact(text);
        for s in [
            "abc\"",
            "plain-secret-key",
            "local-token-123",
            "AAAABBBBCCCC",
            "eyJhbGci",
        ] {
            assert!(!out.contains(s), "{s} left in {out}");
        }
        assert!(out.contains("\"note\""));
        let cut = r.text("héllo wörld".as_bytes(), 2);
        assert!(
            cut.starts_with('h') && cut.contains("[cut: 13 bytes in all]"),
            "{cut}"
        );
    }
}
