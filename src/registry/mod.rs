//! The registry (DESIGN §8): the catalogue of agents, providers and model prices.
//!
//! A built-in copy is compiled in, so everything works offline. A synced copy (from a git
//! repository, see [`sync`]) replaces it when present and valid. Users add or override
//! entries with files of the same format in `<config dir>/registry/` (`agents.json`,
//! `providers.json`, `pricing.json`); a bad user file is logged and skipped, never fatal.

pub mod model;
pub mod sync;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use model::{AgentManifest, Catalogue, Price, Provider, TierPrice};
use model::{AgentsFile, PricingFile, ProvidersFile};

use crate::paths::Paths;

const BUILTIN_AGENTS: &str = include_str!("builtin/agents.json");
const BUILTIN_PROVIDERS: &str = include_str!("builtin/providers.json");
const BUILTIN_PRICING: &str = include_str!("builtin/pricing.json");

pub const AGENTS_FILE: &str = "agents.json";
pub const PROVIDERS_FILE: &str = "providers.json";
pub const PRICING_FILE: &str = "pricing.json";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("invalid catalogue: {}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error("no registry URL is configured (set registry.url in the config file)")]
    NotConfigured,
    #[error("git failed to {action}: {message}")]
    Git {
        action: &'static str,
        message: String,
    },
    #[error("cannot update the registry cache {path}: {source}")]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn parse<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<T, RegistryError> {
    serde_json::from_str(text).map_err(|e| RegistryError::Parse {
        file: file.to_string(),
        message: e.to_string(),
    })
}

fn from_texts(agents: &str, providers: &str, pricing: &str) -> Result<Catalogue, RegistryError> {
    let agents: AgentsFile = parse(AGENTS_FILE, agents)?;
    let providers: ProvidersFile = parse(PROVIDERS_FILE, providers)?;
    let pricing: PricingFile = parse(PRICING_FILE, pricing)?;
    let catalogue = Catalogue {
        agents: agents.agents,
        providers: providers.providers,
        prices: pricing.models,
    };
    let problems = catalogue.problems();
    if problems.is_empty() {
        Ok(catalogue)
    } else {
        Err(RegistryError::Invalid(problems))
    }
}

/// The compiled-in catalogue.
pub fn builtin() -> Catalogue {
    // The built-in files are checked by a unit test; failing here is a build defect.
    from_texts(BUILTIN_AGENTS, BUILTIN_PROVIDERS, BUILTIN_PRICING).unwrap_or_default()
}

fn read(path: &Path) -> Result<String, RegistryError> {
    std::fs::read_to_string(path).map_err(|source| RegistryError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// A complete catalogue from a directory holding the three files.
pub fn from_dir(dir: &Path) -> Result<Catalogue, RegistryError> {
    from_texts(
        &read(&dir.join(AGENTS_FILE))?,
        &read(&dir.join(PROVIDERS_FILE))?,
        &read(&dir.join(PRICING_FILE))?,
    )
}

/// What the last sync left behind (`<cache>/registry/state.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncState {
    pub url: String,
    pub channel: String,
    pub commit: Option<String>,
    pub last_sync: Option<String>,
}

pub fn cache_dir(paths: &Paths) -> PathBuf {
    paths.cache_dir.join("registry")
}

pub fn user_dir(paths: &Paths) -> PathBuf {
    paths.config_dir.join("registry")
}

/// Loads the catalogue to serve: the synced copy when present and valid, else the
/// built-in one; then the user's own files over it.
pub fn load(paths: &Paths) -> (Catalogue, SyncState) {
    let cache = cache_dir(paths);
    let state: SyncState = std::fs::read_to_string(cache.join("state.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let synced = match state.commit {
        Some(_) => from_dir(&cache.join("current"))
            .map_err(|e| tracing::warn!("ignoring the synced registry copy: {e}"))
            .ok(),
        None => None,
    };
    let cached = synced.is_some();
    let mut catalogue = synced.unwrap_or_else(builtin);
    overlay_user_files(&mut catalogue, &user_dir(paths));
    let state = if cached {
        state
    } else {
        SyncState {
            commit: None,
            ..state
        }
    };
    (catalogue, state)
}

/// Adds the user's entries; each file is optional and is skipped whole when invalid.
pub fn overlay_user_files(catalogue: &mut Catalogue, dir: &Path) {
    let load = |name: &str| -> Option<String> { std::fs::read_to_string(dir.join(name)).ok() };
    let mut agents = Vec::new();
    let mut providers = Vec::new();
    let mut prices = BTreeMap::new();
    if let Some(text) = load(AGENTS_FILE) {
        match parse::<AgentsFile>(AGENTS_FILE, &text) {
            Ok(f) => agents = f.agents,
            Err(e) => tracing::warn!(
                "skipping user registry file {}: {e}",
                dir.join(AGENTS_FILE).display()
            ),
        }
    }
    if let Some(text) = load(PROVIDERS_FILE) {
        match parse::<ProvidersFile>(PROVIDERS_FILE, &text) {
            Ok(f) => providers = f.providers,
            Err(e) => tracing::warn!(
                "skipping user registry file {}: {e}",
                dir.join(PROVIDERS_FILE).display()
            ),
        }
    }
    if let Some(text) = load(PRICING_FILE) {
        match parse::<PricingFile>(PRICING_FILE, &text) {
            Ok(f) => prices = f.models,
            Err(e) => tracing::warn!(
                "skipping user registry file {}: {e}",
                dir.join(PRICING_FILE).display()
            ),
        }
    }
    if agents.is_empty() && providers.is_empty() && prices.is_empty() {
        return;
    }
    let mut candidate = catalogue.clone();
    candidate.overlay(agents, providers, prices);
    let problems = candidate.problems();
    if problems.is_empty() {
        *catalogue = candidate;
    } else {
        tracing::warn!(
            "skipping user registry files in {}: {}",
            dir.display(),
            problems.join("; ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_is_valid_and_complete() {
        let c = from_texts(BUILTIN_AGENTS, BUILTIN_PROVIDERS, BUILTIN_PRICING).unwrap();
        for id in [
            "claude", "codex", "gemini", "qwen", "grok", "droid", "opencode",
        ] {
            assert!(c.agent(id).is_some(), "agent {id}");
        }
        for id in [
            "anthropic",
            "minimax",
            "zai",
            "zhipu",
            "moonshot",
            "deepseek",
            "openrouter",
            "openai",
        ] {
            assert!(c.provider(id).is_some(), "provider {id}");
        }
        let minimax = c.provider("minimax").unwrap();
        assert_eq!(
            minimax.endpoints["international"],
            "https://api.minimax.io/anthropic"
        );
        assert_eq!(
            minimax.endpoints["china"],
            "https://api.minimaxi.com/anthropic"
        );
        for p in &c.providers {
            for m in &p.models {
                assert!(c.price(m).is_some(), "price for {m} of {}", p.id);
            }
        }
        for a in &c.agents {
            for m in &a.supported_models {
                assert!(c.price(m).is_some(), "price for {m} of agent {}", a.id);
            }
        }
        let sonnet = c.price("claude-sonnet-4").unwrap();
        assert_eq!(
            (
                sonnet.input,
                sonnet.output,
                sonnet.cache_write,
                sonnet.cache_read
            ),
            (3.0, 15.0, 3.75, 0.30)
        );
    }

    #[test]
    fn problems_name_the_entry() {
        let mut c = builtin();
        c.providers[0].default_endpoint = "nowhere".into();
        let p = c.problems();
        assert!(p.iter().any(|m| m.contains("nowhere")), "{p:?}");
    }
}
