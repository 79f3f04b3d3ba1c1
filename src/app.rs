//! `AppState`: the one shared handle every handler receives.
//!
//! It is cheap to clone (an `Arc` inside) and exposes methods rather than public fields,
//! so components change their internals without touching the handlers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use crate::agents::detect::Detector;
use crate::auth::Token;
use crate::config::Config;
use crate::daemon::activation::Activation;
use crate::events::EventBus;
use crate::logging::LogTail;
use crate::paths::{Env, Paths};
use crate::proxy::Supervisor;
use crate::pty::Terminals;
use crate::registry::{Catalogue, SyncState};
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: RwLock<Arc<Config>>,
    paths: Paths,
    store: Store,
    events: EventBus,
    token: Token,
    log_tail: LogTail,
    started: Instant,
    activation: Activation,
    local_addrs: Vec<SocketAddr>,
    profiles_count: AtomicUsize,
    proxies: Supervisor,
    activity: Activity,
    shutdown: tokio::sync::watch::Sender<bool>,
    catalogue: RwLock<Arc<Catalogue>>,
    sync_state: RwLock<SyncState>,
    sync_lock: tokio::sync::Mutex<()>,
    import_lock: tokio::sync::Mutex<()>,
    detector: Detector,
    env: Env,
    terminals: Terminals,
}

/// Open connections and the moment the last one closed, for idle exit.
#[derive(Default)]
pub struct Activity {
    open: AtomicUsize,
    last_close: RwLock<Option<Instant>>,
}

impl Activity {
    pub fn opened(&self) {
        self.open.fetch_add(1, Ordering::SeqCst);
    }

    pub fn closed(&self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
        *self.last_close.write().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }

    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// When the daemon last did anything for a client (or `since` if never).
    pub fn last_active(&self, since: Instant) -> Instant {
        self.last_close
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .unwrap_or(since)
    }
}

pub struct AppStateParts {
    pub config: Config,
    pub paths: Paths,
    pub store: Store,
    pub events: EventBus,
    pub token: Token,
    pub log_tail: LogTail,
    pub activation: Activation,
    pub local_addrs: Vec<SocketAddr>,
    /// The daemon's environment (PATH for detection, the base of launch environments).
    pub env: Env,
}

impl AppState {
    pub fn new(parts: AppStateParts) -> Result<Self, crate::store::StoreError> {
        let profiles = parts.store.count_profiles()?;
        let (catalogue, sync_state) = crate::registry::load(&parts.paths);
        let terminals = Terminals::start(parts.store.clone(), parts.events.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                config: RwLock::new(Arc::new(parts.config)),
                paths: parts.paths,
                store: parts.store,
                events: parts.events,
                token: parts.token,
                log_tail: parts.log_tail,
                started: Instant::now(),
                activation: parts.activation,
                local_addrs: parts.local_addrs,
                profiles_count: AtomicUsize::new(profiles),
                proxies: Supervisor::default(),
                activity: Activity::default(),
                shutdown: tokio::sync::watch::Sender::new(false),
                catalogue: RwLock::new(Arc::new(catalogue)),
                sync_state: RwLock::new(sync_state),
                sync_lock: tokio::sync::Mutex::new(()),
                import_lock: tokio::sync::Mutex::new(()),
                detector: Detector::default(),
                env: parts.env,
                terminals,
            }),
        })
    }

    pub fn config(&self) -> Arc<Config> {
        self.inner
            .config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_config(&self, config: Config) {
        *self.inner.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
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

    pub fn profiles_count(&self) -> usize {
        self.inner.profiles_count.load(Ordering::Relaxed)
    }

    pub fn adjust_profiles_count(&self, delta: isize) {
        if delta >= 0 {
            self.inner
                .profiles_count
                .fetch_add(delta as usize, Ordering::Relaxed);
        } else {
            self.inner
                .profiles_count
                .fetch_sub(delta.unsigned_abs(), Ordering::Relaxed);
        }
    }

    /// Proxies starting, running or waiting to restart.
    pub fn active_proxies(&self) -> usize {
        self.inner.proxies.active_count()
    }

    /// The per-profile proxies' supervisor.
    pub fn proxies(&self) -> &Supervisor {
        &self.inner.proxies
    }

    pub fn activity(&self) -> &Activity {
        &self.inner.activity
    }

    pub fn catalogue(&self) -> Arc<Catalogue> {
        self.inner
            .catalogue
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_catalogue(&self, catalogue: Catalogue, state: SyncState) {
        *self
            .inner
            .catalogue
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(catalogue);
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
    pub fn import_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.inner.import_lock
    }

    pub fn detector(&self) -> &Detector {
        &self.inner.detector
    }

    pub fn env(&self) -> &Env {
        &self.inner.env
    }

    /// Where agent binaries are looked for: PATH, `~/.local/bin`, then configured dirs.
    pub fn agent_search_dirs(&self) -> Vec<std::path::PathBuf> {
        let mut extra = vec![self.paths().home.join(".local/bin")];
        extra.extend(self.config().agents.extra_paths.iter().cloned());
        crate::agents::detect::search_dirs(self.env().get("PATH").map(String::as_str), &extra)
    }

    /// The terminal sessions (DESIGN §12).
    pub fn terminals(&self) -> &Terminals {
        &self.inner.terminals
    }

    /// Whether a terminal session or proxy runs for `alias` (deleting it then needs force).
    pub fn profile_in_use(&self, alias: &str) -> bool {
        self.terminals().profile_in_use(alias) || self.proxies().is_active(alias)
    }

    /// Stops the terminal sessions and proxy of `alias` (before a forced delete).
    pub async fn stop_profile_work(&self, alias: &str) {
        self.terminals().stop_profile(alias).await;
        self.proxies().remove(alias).await;
    }

    /// Resolves (changes) when the daemon begins shutting down; long-lived connections
    /// watch it to close cleanly.
    pub fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    pub fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// Whether anything long-lived runs (sessions, proxies); idle exit waits for none.
    pub fn has_running_work(&self) -> bool {
        self.active_proxies() > 0 || self.terminals().running() > 0
    }
}
