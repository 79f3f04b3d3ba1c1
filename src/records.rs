//! The usage records clown keeps: one event per model response, one session per agent
//! run. Plain data shared by the proxy child (which reports events), the API (which
//! receives them) and the store (which keeps them); it imports nothing but [`Tokens`].
//!
//! On the wire an event's counts are flat fields (`input_tokens`, …), as
//! `POST /api/usage/record` documents them; in the code they are one [`Tokens`].

use serde::{Deserialize, Serialize};

use crate::tokens::Tokens;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "WireEvent", into = "WireEvent")]
pub struct UsageEvent {
    pub profile: String,
    pub agent: Option<String>,
    pub provider: Option<String>,
    pub model: String,
    /// Unix seconds; defaults to now when recorded.
    pub ts: Option<i64>,
    pub tokens: Tokens,
    pub source: String,
    pub session_id: Option<String>,
    pub dedupe_key: Option<String>,
}

/// The event as `POST /api/usage/record` takes and gives it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEvent {
    profile: String,
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    provider: Option<String>,
    model: String,
    #[serde(default)]
    ts: Option<i64>,
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_creation_input_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: u64,
    /// The part of `cache_creation_input_tokens` written with a one-hour lifetime.
    #[serde(default)]
    cache_creation_1h_input_tokens: u64,
    source: String,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    dedupe_key: Option<String>,
}

impl From<WireEvent> for UsageEvent {
    fn from(w: WireEvent) -> Self {
        Self {
            profile: w.profile,
            agent: w.agent,
            provider: w.provider,
            model: w.model,
            ts: w.ts,
            tokens: Tokens {
                input_tokens: w.input_tokens,
                output_tokens: w.output_tokens,
                cache_creation_input_tokens: w.cache_creation_input_tokens,
                cache_read_input_tokens: w.cache_read_input_tokens,
                cache_creation_1h_input_tokens: w.cache_creation_1h_input_tokens,
            },
            source: w.source,
            session_id: w.session_id,
            dedupe_key: w.dedupe_key,
        }
    }
}

impl From<UsageEvent> for WireEvent {
    fn from(e: UsageEvent) -> Self {
        Self {
            profile: e.profile,
            agent: e.agent,
            provider: e.provider,
            model: e.model,
            ts: e.ts,
            input_tokens: e.tokens.input_tokens,
            output_tokens: e.tokens.output_tokens,
            cache_creation_input_tokens: e.tokens.cache_creation_input_tokens,
            cache_read_input_tokens: e.tokens.cache_read_input_tokens,
            cache_creation_1h_input_tokens: e.tokens.cache_creation_1h_input_tokens,
            source: e.source,
            session_id: e.session_id,
            dedupe_key: e.dedupe_key,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageSession {
    pub profile: String,
    /// Unix seconds.
    pub started_at: i64,
    #[serde(default)]
    pub ended_at: Option<i64>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    pub source: String,
    #[serde(default)]
    pub session_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shape_is_flat_and_strict() {
        let json = r#"{"profile":"p","model":"m","input_tokens":3,"cache_creation_1h_input_tokens":1,"source":"proxy"}"#;
        let e: UsageEvent = serde_json::from_str(json).unwrap();
        assert_eq!(e.tokens.input_tokens, 3);
        assert_eq!(e.tokens.cache_creation_1h_input_tokens, 1);
        let back = serde_json::to_value(&e).unwrap();
        assert_eq!(back["input_tokens"], 3);
        assert!(back.get("tokens").is_none());
        let typo = r#"{"profile":"p","model":"m","input_tokns":3,"source":"proxy"}"#;
        assert!(serde_json::from_str::<UsageEvent>(typo).is_err());
    }
}
