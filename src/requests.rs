//! What a proxy reports of each request for the inspector ([`InspectedRequest`]) and of
//! its key pool ([`PoolState`]): plain types the proxy child sends in its usage batches
//! and the daemon keeps in memory (`crate::inspector`). No field ever holds a key: keys
//! appear as hints (`…abcd`), bodies and error texts are redacted by the child.

use serde::{Deserialize, Serialize};

/// Longest error text and captured body the daemon accepts (the child cuts them first).
pub const MAX_BODY: usize = 256 * 1024;
const MAX_SHORT: usize = 512;

/// One request an agent made through the proxy, as the inspector shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectedRequest {
    pub profile: String,
    /// Increasing within one run of the proxy.
    pub id: u64,
    /// When the request arrived, Unix milliseconds.
    pub at_ms: i64,
    pub method: String,
    pub path: String,
    /// The routing decision: `default`, or the rule's scenario (`background`, …).
    pub route: String,
    /// The index of the rule that matched, if one did.
    #[serde(default)]
    pub rule: Option<usize>,
    /// Whether the conversation's earlier key was kept.
    #[serde(default)]
    pub sticky: bool,
    /// The key that answered: its pool label (`primary` for the profile's own key) and
    /// last four characters.
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub key_hint: Option<String>,
    /// The provider that answered (or the last one tried).
    pub target: String,
    #[serde(default)]
    pub model: Option<String>,
    /// The status the agent got.
    pub status: u16,
    #[serde(default)]
    pub ttfb_ms: Option<f64>,
    pub duration_ms: f64,
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_read_input_tokens: u64,
    #[serde(default)]
    pub cache_creation_input_tokens: u64,
    /// Output tokens per second after the first byte.
    #[serde(default)]
    pub tokens_per_sec: Option<f64>,
    /// Earlier attempts of this request (a key that answered 429, a target down).
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    /// The error the agent got (status ≥ 400), redacted and cut.
    #[serde(default)]
    pub error: Option<String>,
    /// The request and response bodies, when the profile captures them (redacted, cut).
    #[serde(default)]
    pub request_body: Option<String>,
    #[serde(default)]
    pub response_body: Option<String>,
}

/// A failed attempt before the answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attempt {
    #[serde(default)]
    pub key: Option<String>,
    pub target: String,
    pub status: u16,
    pub error: String,
}

/// A profile's key pool as its proxy sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolState {
    pub profile: String,
    /// When the proxy took this view, Unix milliseconds.
    pub at_ms: i64,
    pub members: Vec<PoolMember>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolMember {
    /// The key's label (`primary` for the profile's own key).
    pub key: String,
    #[serde(default)]
    pub key_hint: Option<String>,
    pub target: String,
    #[serde(default)]
    pub model: Option<String>,
    /// `ready`, `cooling` (failed: not tried until `until`) or `skipped` (its window is
    /// over the threshold: no new conversation until `until`).
    pub state: String,
    /// Unix milliseconds.
    #[serde(default)]
    pub until_ms: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
    /// The highest utilisation (0–1) of its rate-limit windows in the last answer.
    #[serde(default)]
    pub utilization: Option<f64>,
    #[serde(default)]
    pub last_status: Option<u16>,
    pub requests: u64,
    pub failures: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

fn short(what: &str, v: &str) -> Result<(), String> {
    if v.len() > MAX_SHORT {
        return Err(format!("{what} is longer than {MAX_SHORT} bytes"));
    }
    Ok(())
}

fn long(what: &str, v: &Option<String>) -> Result<(), String> {
    if v.as_ref().is_some_and(|v| v.len() > MAX_BODY) {
        return Err(format!("{what} is longer than {MAX_BODY} bytes"));
    }
    Ok(())
}

fn duration(what: &str, v: Option<f64>) -> Result<(), String> {
    match v {
        Some(v) if !(v.is_finite() && (0.0..=86_400_000.0).contains(&v)) => {
            Err(format!("{what} must be between 0 and 86400000"))
        }
        _ => Ok(()),
    }
}

impl InspectedRequest {
    /// Bounded texts and numbers: a hostile batch cannot grow the daemon's memory much.
    pub fn validate(&self) -> Result<(), String> {
        for (what, v) in [
            ("profile", &self.profile),
            ("method", &self.method),
            ("path", &self.path),
            ("route", &self.route),
            ("target", &self.target),
        ] {
            short(what, v)?;
        }
        for (what, v) in [
            ("key", &self.key),
            ("key_hint", &self.key_hint),
            ("model", &self.model),
        ] {
            short(what, v.as_deref().unwrap_or_default())?;
        }
        long("error", &self.error)?;
        long("request_body", &self.request_body)?;
        long("response_body", &self.response_body)?;
        duration("ttfb_ms", self.ttfb_ms)?;
        duration("duration_ms", Some(self.duration_ms))?;
        if self.attempts.len() > 64 {
            return Err("at most 64 attempts".into());
        }
        for a in &self.attempts {
            short("attempts.target", &a.target)?;
            short("attempts.key", a.key.as_deref().unwrap_or_default())?;
            if a.error.len() > 4096 {
                return Err("attempts.error is longer than 4096 bytes".into());
            }
        }
        let counts = [
            self.input_tokens,
            self.output_tokens,
            self.cache_read_input_tokens,
            self.cache_creation_input_tokens,
        ];
        if counts.iter().any(|n| *n > 1_000_000_000_000) {
            return Err("token counts must be at most 10^12".into());
        }
        if !(100..=599).contains(&self.status) {
            return Err(format!("status {} is not an HTTP status", self.status));
        }
        Ok(())
    }

    /// The entry without its captured bodies (what events carry).
    pub fn summary(&self) -> Self {
        Self {
            request_body: None,
            response_body: None,
            ..self.clone()
        }
    }
}

impl PoolState {
    pub fn validate(&self) -> Result<(), String> {
        short("profile", &self.profile)?;
        if self.members.len() > 256 {
            return Err("at most 256 pool members".into());
        }
        for m in &self.members {
            short("key", &m.key)?;
            short("target", &m.target)?;
            short("state", &m.state)?;
            short("reason", m.reason.as_deref().unwrap_or_default())?;
            short("model", m.model.as_deref().unwrap_or_default())?;
            short("key_hint", m.key_hint.as_deref().unwrap_or_default())?;
        }
        Ok(())
    }

    /// The same members in the same states (counters aside): nothing to announce.
    pub fn same_states(&self, other: &PoolState) -> bool {
        self.members.len() == other.members.len()
            && self
                .members
                .iter()
                .zip(&other.members)
                .all(|(a, b)| a.key == b.key && a.state == b.state && a.until_ms == b.until_ms)
    }
}
