//! The usage records clown keeps: one event per model response, one session per agent
//! run. Plain data shared by the proxy child (which reports events), the API (which
//! receives them) and the store (which keeps them); it imports nothing but [`Tokens`].
//!
//! On the wire an event's counts are flat fields (`input_tokens`, …), as
//! `POST /api/usage/record` documents them; in the code they are one [`Tokens`].

pub mod budget;
mod requests;

pub use requests::{BUCKETS, Histogram, ProxyRequest, RequestCounts};

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::tokens::Tokens;

/// The largest token count one event may carry, per kind: far above any real response
/// or day (a million-token context is large), far below where sums could overflow.
pub const MAX_TOKENS: u64 = 1_000_000_000_000;
/// Timestamps must fall between 2000-01-01 and 2100-01-01 (Unix seconds).
pub const MIN_TS: i64 = 946_684_800;
pub const MAX_TS: i64 = 4_102_444_800;
/// Sources whose events each sum several requests (a Droid session, a day of Claude
/// Code's stats-cache): never one request over the long-context threshold, whatever
/// their totals.
pub const AGGREGATE_SOURCES: &[&str] = &["droid-log", "claude-stats"];

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

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(from = "WireEvent<'static>")]
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
    /// Through a proxy: the key that answered (its pool label, `primary` for the profile's
    /// own) and its last four characters.
    pub key_label: Option<String>,
    pub key_hint: Option<String>,
    /// How an imported event relates to others; never on the wire.
    pub links: Links,
}

/// What an import knows about an event besides its own key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Links {
    /// A key an earlier version stored the same response under: a stored event with it
    /// is this one (it is taken over, not counted again).
    pub supersedes: Option<String>,
    /// Events in one replay group are one response copied by the agent under another
    /// key; a `copy` is dropped when an original of its group is stored, and an
    /// original replaces the copies stored before it.
    pub replay: Option<Replay>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    pub group: String,
    pub copy: bool,
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
            ("key_label", &self.key_label),
            ("key_hint", &self.key_hint),
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

/// The event as `POST /api/usage/record` takes and gives it: read owned, written from a
/// borrowed event (a busy proxy writes thousands a second, and serde's `into` would copy
/// each one's strings first).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEvent<'a> {
    profile: Cow<'a, str>,
    #[serde(default)]
    agent: Option<Cow<'a, str>>,
    #[serde(default)]
    provider: Option<Cow<'a, str>>,
    model: Cow<'a, str>,
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
    /// The part of `output_tokens` that was reasoning.
    #[serde(default)]
    reasoning_output_tokens: u64,
    source: Cow<'a, str>,
    #[serde(default)]
    session_id: Option<Cow<'a, str>>,
    #[serde(default)]
    dedupe_key: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_label: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_hint: Option<Cow<'a, str>>,
}

impl From<WireEvent<'static>> for UsageEvent {
    fn from(w: WireEvent<'static>) -> Self {
        let own = |v: Option<Cow<'static, str>>| v.map(Cow::into_owned);
        Self {
            profile: w.profile.into_owned(),
            agent: own(w.agent),
            provider: own(w.provider),
            model: w.model.into_owned(),
            ts: w.ts,
            tokens: Tokens {
                input_tokens: w.input_tokens,
                output_tokens: w.output_tokens,
                cache_creation_input_tokens: w.cache_creation_input_tokens,
                cache_read_input_tokens: w.cache_read_input_tokens,
                cache_creation_1h_input_tokens: w.cache_creation_1h_input_tokens,
                reasoning_output_tokens: w.reasoning_output_tokens,
            },
            source: w.source.into_owned(),
            session_id: own(w.session_id),
            dedupe_key: own(w.dedupe_key),
            links: Links::default(),
            key_label: own(w.key_label),
            key_hint: own(w.key_hint),
        }
    }
}

impl Serialize for UsageEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        fn lend(v: &Option<String>) -> Option<Cow<'_, str>> {
            v.as_deref().map(Cow::Borrowed)
        }
        let t = &self.tokens;
        WireEvent {
            profile: Cow::Borrowed(&self.profile),
            agent: lend(&self.agent),
            provider: lend(&self.provider),
            model: Cow::Borrowed(&self.model),
            ts: self.ts,
            input_tokens: t.input_tokens,
            output_tokens: t.output_tokens,
            cache_creation_input_tokens: t.cache_creation_input_tokens,
            cache_read_input_tokens: t.cache_read_input_tokens,
            cache_creation_1h_input_tokens: t.cache_creation_1h_input_tokens,
            reasoning_output_tokens: t.reasoning_output_tokens,
            source: Cow::Borrowed(&self.source),
            session_id: lend(&self.session_id),
            dedupe_key: lend(&self.dedupe_key),
            key_label: lend(&self.key_label),
            key_hint: lend(&self.key_hint),
        }
        .serialize(s)
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

/// Rate-limit headers a provider sent back, as the proxy saw them on one response: the
/// `anthropic-ratelimit-*` and `x-ratelimit-*` families, and `retry-after` (with the
/// status, a 429 says why). Names are lowercase. `POST /api/usage/record` takes these in
/// its `limits` list; the daemon keeps each distinct state (`limit_snapshots`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSnapshot {
    pub profile: String,
    pub provider: String,
    /// Unix seconds.
    pub ts: i64,
    pub http_status: u16,
    pub headers: std::collections::BTreeMap<String, String>,
}

/// Headers of one snapshot at most; values at most this long.
const MAX_LIMIT_HEADERS: usize = 64;
const MAX_LIMIT_VALUE: usize = 256;

/// Whether a response header belongs in a limits snapshot.
pub fn is_limit_header(name: &str) -> bool {
    name.starts_with("anthropic-ratelimit-")
        || name.starts_with("x-ratelimit-")
        || name == "retry-after"
}

impl LimitSnapshot {
    /// Names present and bounded, only limit headers (lowercase, bounded), the time
    /// between 2000 and 2100, a real HTTP status.
    pub fn validate(&self) -> Result<(), String> {
        check_text("profile", &self.profile, true)?;
        check_text("provider", &self.provider, true)?;
        check_ts("ts", self.ts)?;
        if !(100..=599).contains(&self.http_status) {
            return Err(format!(
                "http_status {} is not an HTTP status",
                self.http_status
            ));
        }
        if self.headers.is_empty() || self.headers.len() > MAX_LIMIT_HEADERS {
            return Err(format!(
                "headers must hold 1 to {MAX_LIMIT_HEADERS} entries"
            ));
        }
        for (name, value) in &self.headers {
            if !is_limit_header(name)
                || name.len() > 128
                || name.chars().any(|c| c.is_ascii_uppercase())
            {
                return Err(format!(
                    "header '{}' is not a lowercase rate-limit header",
                    name.chars().take(80).collect::<String>()
                ));
            }
            if value.len() > MAX_LIMIT_VALUE || value.chars().any(char::is_control) {
                return Err(format!(
                    "header '{name}' has a value over {MAX_LIMIT_VALUE} bytes or with control characters"
                ));
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
    fn limit_snapshots_hold_only_limit_headers() {
        let mut s = LimitSnapshot {
            profile: "p".into(),
            provider: "anthropic".into(),
            ts: 1_800_000_000,
            http_status: 200,
            headers: [(
                "anthropic-ratelimit-unified-status".to_string(),
                "allowed".to_string(),
            )]
            .into(),
        };
        assert!(s.validate().is_ok());
        s.headers.insert("set-cookie".into(), "x".into());
        assert!(s.validate().unwrap_err().contains("set-cookie"));
        s.headers.remove("set-cookie");
        s.http_status = 42;
        assert!(s.validate().is_err());
    }

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
    fn an_event_is_written_in_the_wire_order_and_read_back_whole() {
        let e = UsageEvent {
            profile: "p".into(),
            agent: Some("claude".into()),
            model: "m\"1".into(),
            ts: Some(1_800_000_000),
            tokens: Tokens {
                input_tokens: 1,
                output_tokens: 2,
                cache_creation_input_tokens: 3,
                cache_read_input_tokens: 4,
                cache_creation_1h_input_tokens: 5,
                reasoning_output_tokens: 6,
            },
            source: "proxy".into(),
            dedupe_key: Some("k".into()),
            key_hint: Some("…abcd".into()),
            ..UsageEvent::default()
        };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"profile":"p","agent":"claude","provider":null,"model":"m\"1","ts":1800000000,"input_tokens":1,"output_tokens":2,"cache_creation_input_tokens":3,"cache_read_input_tokens":4,"cache_creation_1h_input_tokens":5,"reasoning_output_tokens":6,"source":"proxy","session_id":null,"dedupe_key":"k","key_hint":"…abcd"}"#
        );
        assert_eq!(serde_json::from_str::<UsageEvent>(&json).unwrap(), e);
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
