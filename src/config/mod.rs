//! The daemon's configuration: one serde struct with defaults.
//!
//! Precedence is defaults < config file < `CLOWN_*` environment < command-line flags.
//! Loading never writes anything; a missing file means "all defaults", a file that does
//! not parse (or names an unknown key) is an error that names the file and the problem.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::paths::Env;

mod usage;
pub use usage::{MetricsConfig, SyncConfig, UsageConfig, redact_url};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8765";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Addresses to bind when no socket is inherited from the service manager.
    pub listen: Vec<String>,
    /// Extra names accepted in the `Host` header (besides loopback names).
    pub allowed_hosts: Vec<String>,
    /// Extra exact origins (`scheme://host:port`) accepted in the `Origin` header.
    pub allowed_origins: Vec<String>,
    /// When socket-activated, exit after this many idle seconds (0 = never).
    pub idle_exit_secs: u64,
    /// `tracing` filter, e.g. `info` or `clown=debug`.
    pub log: String,
    pub registry: RegistryConfig,
    pub agents: AgentsConfig,
    pub terminal: TerminalConfig,
    pub proxy: ProxyConfig,
    pub metrics: MetricsConfig,
    pub sync: SyncConfig,
    pub usage: UsageConfig,
    pub notifications: NotificationsConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryConfig {
    /// Git repository holding a newer catalogue; empty disables sync.
    pub url: String,
    /// Branch to follow.
    pub channel: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentsConfig {
    /// Directories searched for agent binaries besides `PATH`.
    pub extra_paths: Vec<PathBuf>,
    /// Also search the PATH of the user's login shell (`$SHELL -l -c`, read once).
    pub login_shell: bool,
}

impl Default for AgentsConfig {
    fn default() -> Self {
        Self {
            extra_paths: Vec::new(),
            login_shell: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TerminalConfig {
    pub max_sessions: usize,
    pub scrollback_bytes: usize,
    /// How long a session's output must be quiet, after a key answered a prompt or a line
    /// was submitted, before the screen decides whether it waits (agents' hooks say so
    /// sooner).
    pub quiet_ms: u64,
}

/// Where a session's change into a waiting state is announced besides the event stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationsConfig {
    pub webhooks: Vec<WebhookConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `http://` or `https://` URL the notification is POSTed to.
    pub url: String,
    /// `json` (a JSON object describing the change) or `ntfy` (text body, `Title`,
    /// `Priority` and `Tags` headers, as ntfy.sh takes them).
    #[serde(default = "default_webhook_format")]
    pub format: String,
    /// Profiles whose sessions it is for (empty: every profile).
    #[serde(default)]
    pub profiles: Vec<String>,
    /// Which states it is sent for (default: needs_input, turn_finished, rate_limited,
    /// errored).
    #[serde(default = "default_webhook_states")]
    pub states: Vec<String>,
}

fn default_webhook_format() -> String {
    "json".into()
}

fn default_webhook_states() -> Vec<String> {
    ["needs_input", "turn_finished", "rate_limited", "errored"]
        .map(String::from)
        .to_vec()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyConfig {
    /// Inclusive port range proxies are given ports from.
    pub port_range: (u16, u16),
    /// Upstream connect timeout.
    pub connect_timeout_ms: u64,
    /// How long the upstream may take to send its response headers.
    pub response_timeout_ms: u64,
    /// How long a response body may go without a byte before it is cut.
    pub idle_timeout_ms: u64,
    /// First restart delay after a crash; doubles per crash up to `restart_max_ms`.
    pub restart_initial_ms: u64,
    pub restart_max_ms: u64,
    /// A proxy up this long is healthy again: the delay starts over.
    pub healthy_reset_secs: u64,
    /// More restarts than this within `restart_window_secs` and the proxy is `failed`.
    pub max_restarts: u32,
    pub restart_window_secs: u64,
    /// How long a new proxy may take to answer `/health`.
    pub startup_timeout_ms: u64,
    /// Between SIGTERM and SIGKILL when a proxy is stopped.
    pub stop_grace_ms: u64,
    /// How often a running proxy is asked `/health`; three unanswered in a row (each
    /// given up to 2 s) and it is killed and restarted.
    pub health_interval_ms: u64,
    /// How long a proxy's thread polls for the next event before it sleeps, while its
    /// waits are that short (0: never; at most 1000). It saves each hop of a quick
    /// exchange a wake-up (`crate::proxy::busy_poll`).
    pub busy_poll_us: u64,
    /// How many threads each proxy serves its agents' connections on (0: one per CPU, at
    /// most 4; at most 64). A connection stays on its thread; a new one goes to the
    /// thread with the fewest open (`crate::proxy::workers`).
    pub threads: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: vec![DEFAULT_LISTEN.to_string()],
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            idle_exit_secs: 0,
            log: "info".to_string(),
            registry: RegistryConfig::default(),
            agents: AgentsConfig::default(),
            terminal: TerminalConfig::default(),
            proxy: ProxyConfig::default(),
            metrics: MetricsConfig::default(),
            sync: SyncConfig::default(),
            usage: UsageConfig::default(),
            notifications: NotificationsConfig::default(),
        }
    }
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            channel: "stable".to_string(),
        }
    }
}

impl Default for TerminalConfig {
    fn default() -> Self {
        Self {
            max_sessions: 32,
            scrollback_bytes: 1024 * 1024,
            quiet_ms: 5000,
        }
    }
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            port_range: (18100, 18999),
            connect_timeout_ms: 10_000,
            response_timeout_ms: 600_000,
            idle_timeout_ms: 300_000,
            restart_initial_ms: 500,
            restart_max_ms: 30_000,
            healthy_reset_secs: 60,
            max_restarts: 5,
            restart_window_secs: 120,
            startup_timeout_ms: 10_000,
            stop_grace_ms: 3_000,
            health_interval_ms: 5_000,
            busy_poll_us: 100,
            threads: 0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid listen address '{addr}': expected IP:PORT, e.g. 127.0.0.1:8765")]
    Listen { addr: String },
    #[error("invalid config: {0}")]
    Invalid(String),
}

impl Config {
    /// Reads `path` over the defaults. A missing file is not an error.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            // toml's message spans several lines (with a source excerpt); keep it on one.
            message: one_line(&e.to_string()),
        })?;
        config.validate().map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(config)
    }

    /// Applies `CLOWN_LISTEN` (comma-separated) and `CLOWN_LOG`.
    pub fn apply_env(&mut self, env: &Env) {
        if let Some(listen) = env.get("CLOWN_LISTEN").filter(|s| !s.trim().is_empty()) {
            self.listen = listen.split(',').map(|s| s.trim().to_string()).collect();
        }
        if let Some(log) = env.get("CLOWN_LOG").filter(|s| !s.trim().is_empty()) {
            self.log = log.clone();
        }
    }

    /// Full load: file, then environment, then the `--listen` flags.
    pub fn load(path: &Path, env: &Env, listen_flags: &[String]) -> Result<Self, ConfigError> {
        let mut config = Self::from_file(path)?;
        config.apply_env(env);
        if !listen_flags.is_empty() {
            config.listen = listen_flags.to_vec();
        }
        config.listen_addrs()?;
        Ok(config)
    }

    /// The parsed listen addresses.
    pub fn listen_addrs(&self) -> Result<Vec<SocketAddr>, ConfigError> {
        if self.listen.is_empty() {
            return Err(ConfigError::Invalid(
                "'listen' must name at least one address".into(),
            ));
        }
        self.listen
            .iter()
            .map(|a| {
                a.parse::<SocketAddr>()
                    .map_err(|_| ConfigError::Listen { addr: a.clone() })
            })
            .collect()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addrs()?;
        let (lo, hi) = self.proxy.port_range;
        if lo == 0 || lo > hi {
            return Err(ConfigError::Invalid(format!(
                "proxy.port_range [{lo}, {hi}] must be a non-empty range of non-zero ports"
            )));
        }
        let p = &self.proxy;
        if p.restart_initial_ms == 0 || p.restart_max_ms < p.restart_initial_ms {
            return Err(ConfigError::Invalid(
                "proxy.restart_initial_ms must be non-zero and at most proxy.restart_max_ms".into(),
            ));
        }
        for (name, v) in [
            ("connect_timeout_ms", p.connect_timeout_ms),
            ("response_timeout_ms", p.response_timeout_ms),
            ("idle_timeout_ms", p.idle_timeout_ms),
            ("startup_timeout_ms", p.startup_timeout_ms),
            ("health_interval_ms", p.health_interval_ms),
        ] {
            if v == 0 {
                return Err(ConfigError::Invalid(format!(
                    "proxy.{name} must be non-zero"
                )));
            }
        }
        if p.busy_poll_us > 1000 {
            return Err(ConfigError::Invalid(format!(
                "proxy.busy_poll_us is {}: at most 1000 (0 turns it off)",
                p.busy_poll_us
            )));
        }
        if p.threads > 64 {
            return Err(ConfigError::Invalid(format!(
                "proxy.threads is {}: at most 64 (0: one per CPU, at most 4)",
                p.threads
            )));
        }
        if let Some(p) = &self.metrics.token_file
            && !p.is_absolute()
        {
            return Err(ConfigError::Invalid(format!(
                "metrics.token_file '{}' must be an absolute path",
                p.display()
            )));
        }
        let sync = &self.sync;
        if sync.batch == 0 || sync.batch > 50_000 || sync.interval_ms == 0 || sync.retry_max_ms == 0
        {
            return Err(ConfigError::Invalid(
                "sync.batch must be 1-50000 and sync.interval_ms, sync.retry_max_ms non-zero"
                    .into(),
            ));
        }
        if self.terminal.max_sessions == 0 {
            return Err(ConfigError::Invalid(
                "terminal.max_sessions must be at least 1".into(),
            ));
        }
        for hook in &self.notifications.webhooks {
            if !(hook.url.starts_with("http://") || hook.url.starts_with("https://")) {
                return Err(ConfigError::Invalid(format!(
                    "notifications.webhooks url '{}' must start with http:// or https://",
                    hook.url
                )));
            }
            if !["json", "ntfy"].contains(&hook.format.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "notifications.webhooks format '{}' must be json or ntfy",
                    hook.format
                )));
            }
            if let Some(bad) = hook
                .states
                .iter()
                .find(|s| !crate::attention::Attention::parse(s).is_some_and(|a| a.waiting()))
            {
                return Err(ConfigError::Invalid(format!(
                    "notifications.webhooks state '{bad}' must be one of needs_input, turn_finished, rate_limited, errored"
                )));
            }
        }
        for origin in &self.allowed_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://"))
                || origin.ends_with('/')
            {
                return Err(ConfigError::Invalid(format!(
                    "allowed_origins entry '{origin}' must look like http://host:port"
                )));
            }
        }
        Ok(())
    }
}

fn one_line(s: &str) -> String {
    let first = s.lines().next().unwrap_or_default().trim();
    // toml puts the actual complaint on the last line of its report.
    let last = s
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim();
    if first == last {
        first.to_string()
    } else {
        format!("{first} {last}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_defaults() {
        let c = Config::from_file(Path::new("/nonexistent/clown.toml")).unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn precedence_file_env_flags() {
        let dir = std::env::temp_dir().join(format!("clown-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("config.toml");
        std::fs::write(&file, "listen = [\"127.0.0.1:1\"]\nlog = \"debug\"\n").unwrap();
        let mut env = Env::new();
        let c = Config::load(&file, &env, &[]).unwrap();
        assert_eq!(c.listen, vec!["127.0.0.1:1"]);
        env.insert("CLOWN_LISTEN".into(), "127.0.0.1:2, 127.0.0.1:3".into());
        let c = Config::load(&file, &env, &[]).unwrap();
        assert_eq!(c.listen, vec!["127.0.0.1:2", "127.0.0.1:3"]);
        let c = Config::load(&file, &env, &["127.0.0.1:4".into()]).unwrap();
        assert_eq!(c.listen, vec!["127.0.0.1:4"]);
        assert_eq!(c.log, "debug");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn errors_are_one_line_and_name_the_file() {
        let dir = std::env::temp_dir().join(format!("clown-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("config.toml");
        std::fs::write(&file, "listen = [\n").unwrap();
        let e = Config::from_file(&file).unwrap_err().to_string();
        assert!(e.contains("config.toml"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        std::fs::write(&file, "lisen = []\n").unwrap();
        let e = Config::from_file(&file).unwrap_err().to_string();
        assert!(e.contains("lisen"), "{e}");
        std::fs::write(&file, "listen = [\"nonsense\"]\n").unwrap();
        let e = Config::from_file(&file).unwrap_err().to_string();
        assert!(e.contains("nonsense"), "{e}");
        std::fs::write(&file, "[proxy]\nbusy_poll_us = 5000\n").unwrap();
        let e = Config::from_file(&file).unwrap_err().to_string();
        assert!(e.contains("busy_poll_us is 5000: at most 1000"), "{e}");
        std::fs::write(&file, "[proxy]\nbusy_poll_us = 0\n").unwrap();
        assert_eq!(Config::from_file(&file).unwrap().proxy.busy_poll_us, 0);
        std::fs::write(&file, "[proxy]\nthreads = 65\n").unwrap();
        let e = Config::from_file(&file).unwrap_err().to_string();
        assert!(e.contains("proxy.threads is 65: at most 64"), "{e}");
        std::fs::write(&file, "[proxy]\nthreads = 2\n").unwrap();
        assert_eq!(Config::from_file(&file).unwrap().proxy.threads, 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://clown:s3cret@db.lan:5432/usage?sslmode=require"),
            "postgres://clown:***@db.lan:5432/usage?sslmode=require"
        );
        assert_eq!(
            redact_url("host=db user=clown password=s3cret"),
            "host=db user=clown password=***"
        );
        let c = SyncConfig {
            url: "postgres://u:s3cret@h/d".into(),
            ..Default::default()
        };
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
