//! The catalogue's data model: agents, providers and prices, as the JSON files hold them,
//! and the validation a catalogue must pass before it is served.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentManifest {
    pub id: String,
    pub name: String,
    pub binary: String,
    pub npm_package: String,
    pub version_args: Vec<String>,
    pub version_regex: String,
    pub profile_strategy: String,
    /// Which built-in launch code prepares its files: `claude`, `codex` or `env`.
    pub launcher: String,
    /// API the agent speaks: `anthropic` or `openai`.
    pub protocol: String,
    pub home_env: Option<String>,
    pub base_url_env: Option<String>,
    pub api_key_env: Option<String>,
    pub model_env: Option<String>,
    #[serde(default)]
    pub extra_env: BTreeMap<String, String>,
    pub supports_hooks: bool,
    pub default_model: String,
    pub supported_models: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub endpoints: BTreeMap<String, String>,
    pub default_endpoint: String,
    pub models: Vec<String>,
    pub default_model: String,
    #[serde(default)]
    pub any_model: bool,
    pub key_env: String,
    /// `x-api-key` or `bearer`.
    pub auth_scheme: String,
    #[serde(default = "yes")]
    pub requires_key: bool,
}

fn yes() -> bool {
    true
}

impl Provider {
    /// Whether the endpoint serves OpenAI's Responses API (`/responses`), the only API
    /// current Codex CLI speaks: OpenAI itself. OpenAI-compatible providers are taken to
    /// serve Chat Completions only; the proxy translates for them.
    pub fn serves_responses(&self) -> bool {
        self.kind == "openai"
    }

    /// `anthropic` for anthropic and anthropic-compatible, else `openai`.
    pub fn protocol(&self) -> &'static str {
        if self.kind.starts_with("anthropic") {
            "anthropic"
        } else {
            "openai"
        }
    }

    pub fn offers_model(&self, model: &str) -> bool {
        self.any_model || self.models.iter().any(|m| m == model)
    }
}

/// USD per million tokens, per token kind.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    pub cache_write: f64,
    pub cache_read: f64,
    /// Cache writes with a one-hour lifetime; Anthropic bills them at twice the input price,
    /// which is the default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_1h: Option<f64>,
    /// Prices of a whole request whose context is over 200,000 tokens
    /// (`tokens::LONG_CONTEXT`), for the models that have them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub above_200k: Option<TierPrice>,
}

/// The four prices of a long-context tier (USD per million tokens).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierPrice {
    pub input: f64,
    pub output: f64,
    pub cache_write: f64,
    pub cache_read: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentsFile {
    pub version: u32,
    pub agents: Vec<AgentManifest>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvidersFile {
    pub version: u32,
    pub providers: Vec<Provider>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricingFile {
    pub version: u32,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub unit: Option<String>,
    pub models: BTreeMap<String, Price>,
}

/// A complete catalogue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalogue {
    pub agents: Vec<AgentManifest>,
    pub providers: Vec<Provider>,
    pub prices: BTreeMap<String, Price>,
}

const ID_CHARS: &str = "abcdefghijklmnopqrstuvwxyz0123456789-_.";

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| ID_CHARS.contains(c))
}

fn valid_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

impl Catalogue {
    pub fn agent(&self, id: &str) -> Option<&AgentManifest> {
        self.agents.iter().find(|a| a.id == id)
    }

    pub fn provider(&self, id: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.id == id)
    }

    /// Every agent id, in catalogue order (for "known agents: …" messages).
    pub fn agent_ids(&self) -> Vec<&str> {
        self.agents.iter().map(|a| a.id.as_str()).collect()
    }

    /// Every provider id, in catalogue order.
    pub fn provider_ids(&self) -> Vec<&str> {
        self.providers.iter().map(|p| p.id.as_str()).collect()
    }

    pub fn price(&self, model: &str) -> Option<&Price> {
        self.prices.get(model)
    }

    /// Adds or replaces entries by id (user files over the base catalogue).
    pub fn overlay(
        &mut self,
        agents: Vec<AgentManifest>,
        providers: Vec<Provider>,
        prices: BTreeMap<String, Price>,
    ) {
        for a in agents {
            match self.agents.iter_mut().find(|x| x.id == a.id) {
                Some(slot) => *slot = a,
                None => self.agents.push(a),
            }
        }
        for p in providers {
            match self.providers.iter_mut().find(|x| x.id == p.id) {
                Some(slot) => *slot = p,
                None => self.providers.push(p),
            }
        }
        self.prices.extend(prices);
    }

    /// Every problem found, each naming the entry; empty when the catalogue is sound.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for a in &self.agents {
            let who = format!("agent '{}'", a.id);
            if !valid_id(&a.id) {
                out.push(format!(
                    "{who}: id must be lowercase letters, digits, '-', '_' or '.'"
                ));
            }
            if !seen.insert(("agent", a.id.clone())) {
                out.push(format!("{who}: duplicate id"));
            }
            if a.binary.is_empty() || a.binary.contains('/') {
                out.push(format!("{who}: binary must be a plain program name"));
            }
            if !["claude", "codex", "env"].contains(&a.launcher.as_str()) {
                out.push(format!("{who}: unknown launcher '{}'", a.launcher));
            }
            if !["anthropic", "openai"].contains(&a.protocol.as_str()) {
                out.push(format!("{who}: unknown protocol '{}'", a.protocol));
            }
            if regex_lite::Regex::new(&a.version_regex).is_err() {
                out.push(format!("{who}: version_regex does not compile"));
            }
            for env in [&a.home_env, &a.base_url_env, &a.api_key_env, &a.model_env]
                .into_iter()
                .flatten()
                .chain(a.extra_env.keys())
            {
                if !valid_env_name(env) {
                    out.push(format!(
                        "{who}: '{env}' is not an environment variable name"
                    ));
                }
            }
            if !a.supported_models.contains(&a.default_model) {
                out.push(format!(
                    "{who}: default_model '{}' is not in supported_models",
                    a.default_model
                ));
            }
        }
        for p in &self.providers {
            let who = format!("provider '{}'", p.id);
            if !valid_id(&p.id) {
                out.push(format!(
                    "{who}: id must be lowercase letters, digits, '-', '_' or '.'"
                ));
            }
            if !seen.insert(("provider", p.id.clone())) {
                out.push(format!("{who}: duplicate id"));
            }
            if ![
                "anthropic",
                "anthropic-compatible",
                "openai",
                "openai-compatible",
            ]
            .contains(&p.kind.as_str())
            {
                out.push(format!("{who}: unknown type '{}'", p.kind));
            }
            if !["x-api-key", "bearer"].contains(&p.auth_scheme.as_str()) {
                out.push(format!("{who}: unknown auth_scheme '{}'", p.auth_scheme));
            }
            if !p.endpoints.contains_key(&p.default_endpoint) {
                out.push(format!(
                    "{who}: default_endpoint '{}' is not an endpoint",
                    p.default_endpoint
                ));
            }
            for (name, url) in &p.endpoints {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    out.push(format!("{who}: endpoint '{name}' is not an http(s) URL"));
                }
            }
            if !p.models.contains(&p.default_model) && !p.any_model {
                out.push(format!(
                    "{who}: default_model '{}' is not in models",
                    p.default_model
                ));
            }
            if !valid_env_name(&p.key_env) {
                out.push(format!(
                    "{who}: key_env '{}' is not an environment variable name",
                    p.key_env
                ));
            }
        }
        for (model, price) in &self.prices {
            let all = [
                price.input,
                price.output,
                price.cache_write,
                price.cache_read,
            ];
            if all.iter().any(|v| !v.is_finite() || *v < 0.0) {
                out.push(format!(
                    "price of '{model}': every price must be a non-negative number"
                ));
            }
        }
        out
    }
}
