//! The plan a proxy child runs from: its profile, local token, upstream targets (with
//! their real keys), model aliases, timeouts, and where to report usage.
//!
//! The daemon builds it (`crate::profiles::plan`) from the profile, the catalogue and the
//! secrets table, and hands it to the child as JSON in one environment variable,
//! [`PLAN_ENV`], so no secret ever appears on a command line. `Debug` redacts every
//! credential.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::ProxyConfig;

/// The environment variable that carries the plan to the child.
pub const PLAN_ENV: &str = "CLOWN_PROXY_PLAN";

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
    /// Where `POST /api/usage/record` lives, and the daemon's token for it.
    #[serde(default)]
    pub daemon_url: Option<String>,
    #[serde(default)]
    pub daemon_token: Option<String>,
    /// Exit when standard input closes: the daemon holds the other end of a pipe, so a
    /// daemon that dies (even by SIGKILL) takes its proxies with it.
    #[serde(default)]
    pub exit_on_stdin_eof: bool,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub provider: String,
    /// `anthropic` or `openai`: how `/v1/...` maps onto `base_url`.
    pub protocol: String,
    pub base_url: String,
    /// `x-api-key` or `bearer`.
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
            .finish()
    }
}
