//! The usage-related sections: `[metrics]` (Prometheus), `[sync]` (the shared
//! PostgreSQL database) and `[usage]` (following the agents' logs, retention).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `GET /metrics` (Prometheus). The daemon's token always opens it; a scraper can be given
/// a token of its own that opens nothing else.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// A file holding the read-only metrics token (what Prometheus's `credentials_file`
    /// names). Created with a random token (0600) when missing; unset: no such token.
    pub token_file: Option<PathBuf>,
}

/// The shared PostgreSQL database usage is pushed to (`[sync]`). Empty `url`: no sync.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    /// `postgres://user:password@host:port/db?sslmode=require` (or key=value form);
    /// `sslmode=require` verifies the server's certificate against the system's roots
    /// plus `ca_file`.
    pub url: String,
    /// Extra PEM certificates trusted for the database's TLS (a private CA).
    pub ca_file: Option<PathBuf>,
    /// How this machine is named in cross-machine reports (default: the host name).
    pub machine_name: String,
    /// Events per pushed batch.
    pub batch: usize,
    /// Longest wait between pushes when no new usage wakes the pusher.
    pub interval_ms: u64,
    /// Reconnect delays double up to this after the database went away.
    pub retry_max_ms: u64,
}

impl std::fmt::Debug for SyncConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncConfig")
            .field("url", &redact_url(&self.url))
            .field("ca_file", &self.ca_file)
            .field("machine_name", &self.machine_name)
            .field("batch", &self.batch)
            .field("interval_ms", &self.interval_ms)
            .field("retry_max_ms", &self.retry_max_ms)
            .finish()
    }
}

/// A database URL without its password (for logs and errors).
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.rsplit_once('@')
    {
        return match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_string(),
        };
    }
    // key=value form: drop the password's value.
    url.split_whitespace()
        .map(|kv| {
            if kv.starts_with("password=") {
                "password=***"
            } else {
                kv
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl SyncConfig {
    pub fn enabled(&self) -> bool {
        !self.url.trim().is_empty()
    }
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            ca_file: None,
            machine_name: String::new(),
            batch: 5_000,
            interval_ms: 5_000,
            retry_max_ms: 30_000,
        }
    }
}

/// `[usage]`: how agents' logs are followed and how long raw events are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsageConfig {
    /// Watch the profile homes and the agents' default homes and import what is written.
    pub watch: bool,
    /// Days raw usage events are kept before only their rollups remain (0: forever).
    pub retention_days: u32,
}

impl Default for UsageConfig {
    fn default() -> Self {
        Self {
            watch: true,
            retention_days: 90,
        }
    }
}
