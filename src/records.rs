//! The usage records clown keeps: one event per model response, one session per agent
//! run. Plain data shared by the proxy child (which reports events), the API (which
//! receives them) and the store (which keeps them); it imports nothing but [`Tokens`].
//!
//! On the wire an event's counts are flat fields (`input_tokens`, …), as
//! `POST /api/usage/record` documents them; in the code they are one [`Tokens`].

use serde::{Deserialize, Serialize};

use crate::tokens::Tokens;

/// The largest token count one event may carry, per kind: far above any real response
/// or day (a million-token context is large), far below where sums could overflow.
pub const MAX_TOKENS: u64 = 1_000_000_000_000;
/// Timestamps must fall between 2000-01-01 and 2100-01-01 (Unix seconds).
pub const MIN_TS: i64 = 946_684_800;
pub const MAX_TS: i64 = 4_102_444_800;
/// Longest profile, model, source or id string.
const MAX_TEXT: usize = 512;

fn check_text(what: &str, value: &str, required: bool) -> Result<(), String> {
    if required && value.is_empty() {
        return Err(format!("{what} must not be empty"));
    }
    if value.len() > MAX_TEXT {
        return Err(format!("{what} is longer than {MAX_TEXT} bytes"));
    }
    Ok(())
}

fn check_ts(what: &str, ts: i64) -> Result<(), String> {
    if (MIN_TS..=MAX_TS).contains(&ts) {
        Ok(())
    } else {
        Err(format!(
            "{what} {ts} is not a Unix time in seconds between 2000 and 2100"
        ))
    }
}

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

impl UsageEvent {
    /// Whether the event is one clown keeps: names present and bounded, counts at most
    /// [`MAX_TOKENS`], the time (if given) between 2000 and 2100. Every entry checks this
    /// (the API, the proxy before it reports, the imports), so no count wraps a sum.
    pub fn validate(&self) -> Result<(), String> {
        check_text("profile", &self.profile, true)?;
        check_text("model", &self.model, true)?;
        check_text("source", &self.source, true)?;
        for (what, v) in [
            ("agent", &self.agent),
            ("provider", &self.provider),
            ("session_id", &self.session_id),
            ("dedupe_key", &self.dedupe_key),
        ] {
            check_text(what, v.as_deref().unwrap_or_default(), false)?;
        }
        if self.tokens.max_count() > MAX_TOKENS {
            return Err(format!(
                "a token count is over the maximum of {MAX_TOKENS} per event"
            ));
        }
        if let Some(ts) = self.ts {
            check_ts("ts", ts)?;
        }
        Ok(())
    }
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

impl UsageSession {
    /// Names present and bounded, times between 2000 and 2100, the end not before the start.
    pub fn validate(&self) -> Result<(), String> {
        check_text("profile", &self.profile, true)?;
        check_text("source", &self.source, true)?;
        check_text(
            "session_id",
            self.session_id.as_deref().unwrap_or_default(),
            false,
        )?;
        check_ts("started_at", self.started_at)?;
        if let Some(end) = self.ended_at {
            check_ts("ended_at", end)?;
            if end < self.started_at {
                return Err("ended_at is before started_at".into());
            }
        }
        Ok(())
    }
}

/// How one of a profile's requests ended, as its proxy saw it: what the attention
/// states of the profile's sessions learn from the proxy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestStatus {
    pub profile: String,
    /// The HTTP status the agent got.
    pub status: u16,
    /// `ok`, `rate_limited` (a 429, or a subscription window exhausted) or `failed`
    /// (a 5xx, an unreachable upstream).
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl RequestStatus {
    pub fn validate(&self) -> Result<(), String> {
        check_text("profile", &self.profile, true)?;
        check_text(
            "message",
            self.message.as_deref().unwrap_or_default(),
            false,
        )?;
        if !["ok", "rate_limited", "failed"].contains(&self.outcome.as_str()) {
            return Err(format!(
                "outcome '{}' must be ok, rate_limited or failed",
                self.outcome
            ));
        }
        Ok(())
    }
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

    #[test]
    fn bounds() {
        let ok = UsageEvent {
            profile: "p".into(),
            model: "m".into(),
            source: "s".into(),
            ts: Some(1_800_000_000),
            ..Default::default()
        };
        assert!(ok.validate().is_ok());
        let mut big = ok.clone();
        big.tokens.output_tokens = MAX_TOKENS + 1;
        assert!(big.validate().unwrap_err().contains("maximum"));
        let mut early = ok.clone();
        early.ts = Some(-5);
        assert!(early.validate().unwrap_err().contains("2000"));
        let mut empty = ok;
        empty.model.clear();
        assert!(empty.validate().unwrap_err().contains("model"));
        let s = UsageSession {
            profile: "p".into(),
            source: "s".into(),
            started_at: 1_800_000_000,
            ended_at: Some(1_700_000_000),
            ..Default::default()
        };
        assert!(s.validate().unwrap_err().contains("before"));
    }
}
