//! `AppState`: the one shared handle every handler receives.
//!
//! It is cheap to clone (an `Arc` inside) and holds resources — configuration and
//! catalogue of the moment, paths, store, event bus, token, log tail — and the long-lived
//! components built on them: the proxies' supervisor, the terminal sessions, the
//! profiles' use cases, and the meter (blocks, reports, budgets, status line). Components get only the resources they need, never this handle.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use serde::Serialize;

pub use crate::activity::Activity;
use crate::agents::detect::Detector;
use crate::auth::share::ShareLinks;
use crate::auth::{SessionTokens, StatusKeys, Token, UsageTokens};
use crate::config::Config;
use crate::events::EventBus;
use crate::inspector::Inspector;
use crate::logging::LogTail;
use crate::meter::Meter;
use crate::metrics::ScrapeCache;
use crate::metrics::imports::ImportStats;
use crate::metrics::requests::RequestStats;
use crate::paths::{Env, Paths};
use crate::profiles::plan::StorePlans;
use crate::profiles::{Profiles, Resources};
use crate::pty::Terminals;
use crate::registry::{Catalogue, SyncState};
use crate::setup::SharedSetup;
use crate::shared::Shared;
use crate::store::Store;
use crate::supervisor::{self, Supervisor};
use crate::sync::Syncer;

/// Where the daemon's listening sockets came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Systemd,
    Launchd,
    Bound,
}

impl Activation {
    pub fn is_socket_activated(self) -> bool {
        self != Activation::Bound
    }

    pub fn label(self) -> &'static str {
        match self {
            Activation::Systemd => "systemd-inherited",
            Activation::Launchd => "launchd-inherited",
            Activation::Bound => "bound",
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Shared<Config>,
    paths: Paths,
    store: Store,
    events: EventBus,
    token: Token,
    usage_tokens: UsageTokens,
    status_keys: StatusKeys,
    shares: ShareLinks,
    meter: Meter,
    log_tail: LogTail,
    started: Instant,
    activation: Activation,
    local_addrs: Vec<SocketAddr>,
    proxies: Arc<Supervisor>,
    activity: Activity,
    shutdown: tokio::sync::watch::Sender<bool>,
    catalogue: Shared<Catalogue>,
    sync_state: RwLock<SyncState>,
    sync_lock: tokio::sync::Mutex<()>,
    import_lock: Arc<tokio::sync::Mutex<()>>,
    detector: Arc<Detector>,
    env: Env,
    terminals: Terminals,
    profiles: Profiles,
    setup: Arc<SharedSetup>,
    agents_prefix: crate::agents::install::Prefix,
    installer: crate::agents::install::Installer,
    metrics_token: RwLock<Option<Arc<Token>>>,
    request_stats: RequestStats,
    inspector: Arc<Inspector>,
    import_stats: ImportStats,
    metrics_cache: Arc<ScrapeCache>,
    syncer: Arc<Syncer>,
    /// Set when a restart was asked for: sessions are kept for the next daemon.
    restart: std::sync::atomic::AtomicBool,
    restart_notify: tokio::sync::Notify,
    /// Whether the service manager keeps the sessions' lifelines (then every stop of this
    /// daemon lets go of them; the service's stop ends them).
    fdstore: bool,
}

pub struct AppStateParts {
    pub config: Config,
    /// The file the configuration came from (or would).
    pub config_path: std::path::PathBuf,
    pub paths: Paths,
    pub store: Store,
    pub events: EventBus,
    pub token: Token,
    pub log_tail: LogTail,
    pub activation: Activation,
    pub local_addrs: Vec<SocketAddr>,
    /// The daemon's environment (PATH for detection, the base of launch environments).
    pub env: Env,
    /// The read-only token of `GET /metrics`, when configured.
    pub metrics_token: Option<Token>,
}

/// The daemon's own URL for the proxies' usage reports (a wildcard address is reached
/// through loopback).
fn daemon_url(local_addrs: &[SocketAddr]) -> Option<String> {
    let addr = local_addrs.first()?;
    let ip = match addr.ip() {
        ip if !ip.is_unspecified() => ip,
        std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
    };
    Some(format!(
        "http://{}",
        std::net::SocketAddr::new(ip, addr.port())
    ))
}

impl AppState {
    pub fn new(parts: AppStateParts) -> Result<Self, crate::store::StoreError> {
        let (catalogue, sync_state) = crate::registry::load(&parts.paths);
        let catalogue = Shared::new(catalogue);
        let config = Shared::new(parts.config);
        let fdstore = crate::pty::holder::fdstore::available(&parts.env);
        let terminals = Terminals::start(crate::pty::session::Context {
            events: parts.events.clone(),
            store: parts.store.clone(),
            dir: parts.paths.state_dir.join("sessions"),
            exe: crate::paths::clown_exe().unwrap_or_else(|_| "clown".into()),
            fdstore,
        });
        let usage_tokens = UsageTokens::default();
        let status_keys = StatusKeys::new(&parts.token);
        let (stops_tx, stops_rx) = tokio::sync::watch::channel(supervisor::Stops::default());
        let meter = Meter::new(
            parts.store.clone(),
            catalogue.clone(),
            parts.events.clone(),
            stops_tx,
        );
        let inspector = Arc::new(Inspector::default());
        let proxies = Arc::new(Supervisor::new(supervisor::Context {
            plans: Arc::new(StorePlans {
                store: parts.store.clone(),
                catalogue: catalogue.clone(),
                config: config.clone(),
                inspector: inspector.clone(),
            }),
            events: parts.events.clone(),
            config: config.clone(),
            state_dir: parts.paths.state_dir.clone(),
            env: parts.env.clone(),
            daemon_url: daemon_url(&parts.local_addrs),
            usage_tokens: usage_tokens.clone(),
            stops: stops_rx,
        }));
        crate::webhooks::spawn(crate::webhooks::Context {
            config: config.clone(),
            terminals: terminals.clone(),
            events: parts.events.clone(),
            daemon_url: daemon_url(&parts.local_addrs),
        });
        let detector = Arc::new(Detector::default());
        let agent_paths = Arc::new(crate::agents::search::AgentPaths::new(
            parts.env.clone(),
            parts.paths.home.clone(),
        ));
        let setup = Arc::new(SharedSetup::new(
            parts.store.clone(),
            parts.events.clone(),
            parts.paths.home.clone(),
            parts.paths.data_dir.clone(),
            parts.env.clone(),
        ));
        let agents_prefix = crate::agents::install::Prefix::new(&parts.paths.data_dir);
        let syncer = Syncer::start(crate::sync::Context {
            store: parts.store.clone(),
            config: config.clone(),
            events: parts.events.clone(),
        })?;
        let profiles = Profiles::new(Resources {
            status_keys: status_keys.clone(),
            agents_bin: agents_prefix.bin_dir(),
            setup: setup.clone(),
            store: parts.store.clone(),
            catalogue: catalogue.clone(),
            config: config.clone(),
            events: parts.events.clone(),
            proxies: proxies.clone(),
            terminals: terminals.clone(),
            detector: detector.clone(),
            agent_paths,
            config_file: parts.config_path.clone(),
            env: parts.env.clone(),
            home: parts.paths.home.clone(),
            daemon_url: daemon_url(&parts.local_addrs),
            clown_dirs: vec![
                parts.paths.data_dir.clone(),
                parts.paths.state_dir.clone(),
                parts.paths.config_dir.clone(),
                parts.paths.cache_dir.clone(),
            ],
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                paths: parts.paths,
                store: parts.store,
                events: parts.events,
                token: parts.token,
                usage_tokens,
                status_keys,
                shares: ShareLinks::default(),
                meter,
                log_tail: parts.log_tail,
                started: Instant::now(),
                activation: parts.activation,
                local_addrs: parts.local_addrs,
                proxies,
                activity: Activity::default(),
                shutdown: tokio::sync::watch::Sender::new(false),
                catalogue,
                sync_state: RwLock::new(sync_state),
                sync_lock: tokio::sync::Mutex::new(()),
                import_lock: Arc::new(tokio::sync::Mutex::new(())),
                detector,
                env: parts.env,
                terminals,
                profiles,
                setup,
                agents_prefix,
                installer: Default::default(),
                metrics_token: RwLock::new(parts.metrics_token.map(Arc::new)),
                request_stats: RequestStats::default(),
                inspector,
                import_stats: ImportStats::default(),
                metrics_cache: Arc::default(),
                syncer,
                restart: std::sync::atomic::AtomicBool::new(false),
                restart_notify: tokio::sync::Notify::new(),
                fdstore,
            }),
        })
    }

    /// The read-only token of `GET /metrics`, if one is configured.
    pub fn metrics_token(&self) -> Option<Arc<Token>> {
        self.inner
            .metrics_token
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_metrics_token(&self, token: Option<Token>) {
        *self
            .inner
            .metrics_token
            .write()
            .unwrap_or_else(|p| p.into_inner()) = token.map(Arc::new);
    }

    /// The proxies' requests, as they report them (for `/metrics`).
    pub fn request_stats(&self) -> &RequestStats {
        &self.inner.request_stats
    }

    /// The proxies' recent requests and key pools.
    pub fn inspector(&self) -> &Inspector {
        &self.inner.inspector
    }

    /// The Claude import's progress (for `/metrics`).
    pub fn import_stats(&self) -> &ImportStats {
        &self.inner.import_stats
    }

    /// The usage metrics rendered so far (each scrape renders only what changed).
    pub fn metrics_cache(&self) -> Arc<ScrapeCache> {
        self.inner.metrics_cache.clone()
    }

    /// The push to the shared database, and its reads.
    pub fn syncer(&self) -> &Syncer {
        &self.inner.syncer
    }

    pub fn config(&self) -> Arc<Config> {
        self.inner.config.get()
    }

    pub fn set_config(&self, config: Config) {
        self.inner.config.set(config);
    }

    pub fn paths(&self) -> &Paths {
        &self.inner.paths
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn events(&self) -> &EventBus {
        &self.inner.events
    }

    pub fn token(&self) -> &Token {
        &self.inner.token
    }

    /// The proxies' usage tokens (each can only record its profile's usage).
    pub fn usage_tokens(&self) -> &UsageTokens {
        &self.inner.usage_tokens
    }

    /// Status-line tokens (each good for one profile's status line).
    pub fn status_keys(&self) -> &StatusKeys {
        &self.inner.status_keys
    }

    /// The terminal sessions' read-only share links.
    pub fn shares(&self) -> &ShareLinks {
        &self.inner.shares
    }

    /// Blocks, reports, limits, budgets and the status line.
    pub fn meter(&self) -> &Meter {
        &self.inner.meter
    }

    /// The terminal sessions' hook tokens (each can only report its session's hooks).
    pub fn session_tokens(&self) -> &SessionTokens {
        self.inner.terminals.tokens()
    }

    pub fn log_tail(&self) -> &LogTail {
        &self.inner.log_tail
    }

    pub fn uptime_secs(&self) -> u64 {
        self.inner.started.elapsed().as_secs()
    }

    pub fn started(&self) -> Instant {
        self.inner.started
    }

    pub fn activation(&self) -> Activation {
        self.inner.activation
    }

    /// The addresses actually being served (inherited or bound).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.inner.local_addrs
    }

    /// Proxies starting, running or waiting to restart.
    pub fn active_proxies(&self) -> usize {
        self.inner.proxies.active_count()
    }

    /// The per-profile proxies' supervisor.
    pub fn proxies(&self) -> &Supervisor {
        &self.inner.proxies
    }

    /// The profiles and their use cases.
    pub fn profiles(&self) -> &Profiles {
        &self.inner.profiles
    }

    /// Where clown installs agents, and the installs running.
    pub fn agents_prefix(&self) -> &crate::agents::install::Prefix {
        &self.inner.agents_prefix
    }

    pub fn installer(&self) -> &crate::agents::install::Installer {
        &self.inner.installer
    }

    /// The shared setup projected into every profile home.
    pub fn setup(&self) -> &SharedSetup {
        &self.inner.setup
    }

    pub fn activity(&self) -> &Activity {
        &self.inner.activity
    }

    pub fn catalogue(&self) -> Arc<Catalogue> {
        self.inner.catalogue.get()
    }

    pub fn set_catalogue(&self, catalogue: Catalogue, state: SyncState) {
        self.inner.catalogue.set(catalogue);
        *self
            .inner
            .sync_state
            .write()
            .unwrap_or_else(|p| p.into_inner()) = state;
    }

    pub fn sync_state(&self) -> SyncState {
        self.inner
            .sync_state
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Held while a registry sync runs, so two syncs never interleave.
    pub fn sync_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.inner.sync_lock
    }

    /// Held while a Claude import runs, so two imports never interleave.
    pub fn import_lock(&self) -> &Arc<tokio::sync::Mutex<()>> {
        &self.inner.import_lock
    }

    pub fn detector(&self) -> &Detector {
        &self.inner.detector
    }

    pub fn env(&self) -> &Env {
        &self.inner.env
    }

    /// The terminal sessions (DESIGN §12).
    pub fn terminals(&self) -> &Terminals {
        &self.inner.terminals
    }

    /// Resolves (changes) when the daemon begins shutting down; long-lived connections
    /// watch it to close cleanly.
    pub fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    pub fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// Asks the daemon to exit keeping its terminal sessions (their holders wait for the
    /// next daemon).
    pub fn request_restart(&self) {
        self.inner.restart.store(true, Ordering::SeqCst);
        self.inner.restart_notify.notify_one();
    }

    /// Resolves when a restart was asked for.
    pub async fn restart_requested(&self) {
        self.inner.restart_notify.notified().await;
    }

    /// Whether this daemon's exit lets its sessions live on: a restart was asked for, or
    /// the service manager keeps their lifelines (its own stop then ends them).
    pub fn keeps_sessions(&self) -> bool {
        self.inner.fdstore || self.inner.restart.load(Ordering::SeqCst)
    }

    /// Whether anything long-lived runs (sessions, proxies); idle exit waits for none.
    pub fn has_running_work(&self) -> bool {
        self.active_proxies() > 0 || self.terminals().running() > 0
    }
}
