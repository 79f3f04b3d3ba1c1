//! The plan a proxy child runs from: its profile, local token, upstream targets (with
//! their real keys), model aliases, timeouts, and where to report usage.
//!
//! The daemon builds it (`crate::profiles::plan`) from the profile, the catalogue and the
//! secrets table, and hands it to the child as the first line of the child's standard
//! input, a pipe only the daemon holds ([`read`], [`encode`]): no secret is ever on a
//! command line or in the environment, where `/proc/PID/cmdline` and `environ` (and
//! `ps e`) would show it to every process of the user. `Debug` redacts every credential.

use std::collections::BTreeMap;
use std::time::Duration;

use std::io::BufRead;

use serde::{Deserialize, Serialize};

use crate::config::ProxyConfig;

/// The longest plan line the child reads (keys and fallbacks fit many times over).
const MAX_PLAN_BYTES: u64 = 1024 * 1024;

#[derive(Clone, Serialize, Deserialize)]
pub struct Plan {
    pub profile: String,
    pub agent: String,
    /// The token the agent presents (x-api-key or bearer).
    pub local_token: String,
    /// The primary target first, then the fallbacks in order.
    pub targets: Vec<Target>,
    /// Requested model → model sent upstream.
    #[serde(default)]
    pub model_aliases: BTreeMap<String, String>,
    pub timeouts: Timeouts,
    /// Where `POST /api/usage/record` lives, and the token for it: a usage token that
    /// records this profile's usage and can do nothing else (never the daemon's own).
    #[serde(default)]
    pub daemon_url: Option<String>,
    #[serde(default)]
    pub daemon_token: Option<String>,
    /// Exit when standard input closes after the plan: the daemon holds the other end of
    /// the pipe, so a daemon that dies (even by SIGKILL) takes its proxies with it.
    #[serde(default)]
    pub exit_on_stdin_eof: bool,
    /// A budget's hard stop in force at start; later changes come as control lines on
    /// the same pipe (`crate::proxy::control`).
    #[serde(default)]
    pub stop: Option<super::control::Stop>,
    /// Routing by scenario: the first rule a request matches picks its target and model.
    #[serde(default)]
    pub routes: Vec<RouteRule>,
    /// How the targets' keys take turns (cool-downs, skipping a key near its limit).
    #[serde(default)]
    pub pool: PoolSettings,
    /// What the proxy keeps of each request for the inspector.
    #[serde(default)]
    pub inspector: InspectorSettings,
    /// How long each of the proxy's threads polls for events before it sleeps, while its waits
    /// are short (`proxy.busy_poll_us`; 0: never; see `crate::proxy::busy_poll`).
    #[serde(default)]
    pub busy_poll_us: u64,
    /// How many threads serve the agents' connections (`proxy.threads`; 0: one per
    /// CPU, at most 4; see `crate::proxy::workers`).
    #[serde(default)]
    pub threads: u32,
}

/// What a request is, as a routing rule names it (see `crate::proxy::route`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// Claude Code's background requests, on its small fast model (a `haiku` model).
    Background,
    /// Extended thinking (Anthropic's `thinking`) or reasoning (OpenAI's `reasoning`).
    Thinking,
    /// A request estimated over `threshold_tokens`.
    LongContext,
    /// A request that offers a web search tool.
    WebSearch,
    /// A sub-agent's request: its system prompt carries `<clown-route>TAG</clown-route>`.
    Subagent,
}

impl Scenario {
    pub fn label(self) -> &'static str {
        match self {
            Scenario::Background => "background",
            Scenario::Thinking => "thinking",
            Scenario::LongContext => "long_context",
            Scenario::WebSearch => "web_search",
            Scenario::Subagent => "subagent",
        }
    }
}

/// One routing rule: requests of scenario `when` go to the targets of `provider_id`
/// (default: the profile's own provider) with `model` (default: as they would).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    pub when: Scenario,
    /// `long_context` only: the estimated input tokens above which it matches (60,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_tokens: Option<u64>,
    /// `subagent` only: the tag it matches (any tag when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// The long-context threshold when a rule names none (claude-code-router's default).
pub const LONG_CONTEXT_TOKENS: u64 = 60_000;

/// How a profile's keys take turns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoolSettings {
    /// A key whose rate-limit window is used this much (0–1, Anthropic's
    /// `anthropic-ratelimit-unified-*-utilization`) gets no new conversation until the
    /// window resets.
    pub skip_utilization: f64,
    /// The cool-down after a 429, 529 or 5xx when the answer names no reset time.
    pub cooldown_secs: u64,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            skip_utilization: 0.95,
            cooldown_secs: 30,
        }
    }
}

/// The request inspector: how many requests the daemon keeps per profile, and whether
/// bodies are captured (redacted, each cut at `body_limit` bytes).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InspectorSettings {
    pub keep: usize,
    pub capture_bodies: bool,
    pub body_limit: usize,
}

impl Default for InspectorSettings {
    fn default() -> Self {
        Self {
            keep: 100,
            capture_bodies: false,
            body_limit: 16 * 1024,
        }
    }
}

/// Largest `keep` and `body_limit` a profile may ask for.
pub const MAX_KEEP: usize = 10_000;
pub const MAX_BODY_LIMIT: usize = 256 * 1024;

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub provider: String,
    /// `anthropic` or `openai`: how `/v1/...` maps onto `base_url`.
    pub protocol: String,
    pub base_url: String,
    /// `x-api-key`, `bearer`, or `oauth` (a subscription token: bearer plus the OAuth
    /// beta, see `crate::proxy::oauth`).
    pub auth_scheme: String,
    #[serde(default)]
    pub key: Option<String>,
    /// Send this model upstream whatever the agent asked for.
    #[serde(default)]
    pub model: Option<String>,
    /// The provider serves Chat Completions but not the Responses API: `/v1/responses`
    /// requests are translated (see `responses_chat`).
    #[serde(default)]
    pub responses_via_chat: bool,
    /// The provider serves Chat Completions and the agent speaks Anthropic's Messages:
    /// `/v1/messages` requests are translated (see `messages_chat`).
    #[serde(default)]
    pub messages_via_chat: bool,
    /// The pool key this target uses (its label; none for the profile's own key), and
    /// the key's last four characters: what the inspector and the pool's state show.
    #[serde(default)]
    pub key_label: Option<String>,
    #[serde(default)]
    pub key_hint: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Timeouts {
    pub connect_ms: u64,
    pub response_ms: u64,
    pub idle_ms: u64,
}

impl Timeouts {
    pub fn from_config(c: &ProxyConfig) -> Self {
        Self {
            connect_ms: c.connect_timeout_ms,
            response_ms: c.response_timeout_ms,
            idle_ms: c.idle_timeout_ms,
        }
    }

    pub fn connect(&self) -> Duration {
        Duration::from_millis(self.connect_ms)
    }

    pub fn response(&self) -> Duration {
        Duration::from_millis(self.response_ms)
    }

    pub fn idle(&self) -> Duration {
        Duration::from_millis(self.idle_ms)
    }
}

/// The plan as the one line the daemon writes to the child's standard input.
pub fn encode(plan: &Plan) -> serde_json::Result<Vec<u8>> {
    let mut line = serde_json::to_vec(plan)?;
    line.push(b'\n');
    Ok(line)
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("no plan on standard input")]
    Missing,
    #[error("cannot read the plan from standard input: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid proxy plan: {0}")]
    Invalid(#[from] serde_json::Error),
}

/// Reads the plan: the first line of `input` (at most 1 MiB). The rest of the stream is
/// left unread (under the daemon, nothing more comes until the pipe closes).
pub fn read(input: impl BufRead) -> Result<Plan, ReadError> {
    let mut line = Vec::new();
    input.take(MAX_PLAN_BYTES).read_until(b'\n', &mut line)?;
    if line.iter().all(u8::is_ascii_whitespace) {
        return Err(ReadError::Missing);
    }
    let plan = serde_json::from_slice(&line);
    // The line holds the keys: not left behind in freed memory longer than needed.
    line.iter_mut().for_each(|b| *b = 0);
    Ok(plan?)
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("profile", &self.profile)
            .field("targets", &self.targets)
            .field("model_aliases", &self.model_aliases)
            .field("timeouts", &self.timeouts)
            .field("daemon_url", &self.daemon_url)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("auth_scheme", &self.auth_scheme)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("responses_via_chat", &self.responses_via_chat)
            .field("messages_via_chat", &self.messages_via_chat)
            .field("key_label", &self.key_label)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            profile: "p".into(),
            agent: "claude".into(),
            local_token: "local".into(),
            targets: vec![Target {
                provider: "anthropic".into(),
                protocol: "anthropic".into(),
                base_url: "http://127.0.0.1:1".into(),
                auth_scheme: "x-api-key".into(),
                key: Some("sk-secret".into()),
                model: None,
                responses_via_chat: false,
                messages_via_chat: false,
                key_label: None,
                key_hint: None,
            }],
            model_aliases: BTreeMap::new(),
            timeouts: Timeouts {
                connect_ms: 1,
                response_ms: 2,
                idle_ms: 3,
            },
            daemon_url: None,
            daemon_token: None,
            exit_on_stdin_eof: true,
            stop: None,
            routes: Vec::new(),
            pool: PoolSettings::default(),
            inspector: InspectorSettings::default(),
            busy_poll_us: 0,
            threads: 0,
        }
    }

    #[test]
    fn the_plan_is_one_line_and_reads_back() {
        let line = encode(&plan()).unwrap();
        assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
        let mut input = line.clone();
        input.extend_from_slice(b"what follows is not read\n");
        let back = read(&input[..]).unwrap();
        assert_eq!(back.targets[0].key.as_deref(), Some("sk-secret"));
        assert!(!format!("{back:?}").contains("sk-secret"));
    }

    #[test]
    fn no_plan_or_a_bad_one_is_an_error() {
        assert!(matches!(read(&b""[..]), Err(ReadError::Missing)));
        assert!(matches!(read(&b"\n"[..]), Err(ReadError::Missing)));
        assert!(matches!(read(&b"{nope\n"[..]), Err(ReadError::Invalid(_))));
    }
}
