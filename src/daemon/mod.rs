//! The daemon's lifecycle: `run(options, listeners, shutdown)`.
//!
//! Start-up order: directories, data-directory lock, store (with migrations), token,
//! the terminal sessions an earlier daemon left (taken back from their holders), router,
//! accept loops, then READY=1, then the enabled proxies. Shutdown (signal, idle exit or
//! the caller's future): STOPPING=1, stop the proxies and, together, end every terminal
//! session — or, for a restart (`POST /api/daemon/restart`, or any stop under a service
//! manager that keeps the sessions' lifelines in its descriptor store), let go of them
//! for the next daemon — stop accepting, let in-flight requests finish (bounded), flush
//! the store, return — within 5 s.
//! `main` and the tests both drive this function.

pub mod activation;
mod lock;
pub mod notify;
mod serve;
pub mod signals;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{mpsc, watch};

use crate::app::{AppState, AppStateParts};
use crate::auth::Token;
use crate::config::Config;
use crate::events::EventBus;
use crate::logging::{FilterHandle, LogTail};
use crate::paths::{Env, Paths};
use crate::store::Store;
use activation::Listeners;
use signals::Command;

/// How long in-flight requests get to finish at shutdown, once proxies and sessions have
/// ended: the whole shutdown stays within 5 s.
const DRAIN_TIMEOUT: Duration = Duration::from_millis(1500);

pub struct DaemonOptions {
    pub config: Config,
    pub config_path: PathBuf,
    pub paths: Paths,
    pub env: Env,
    /// `--listen` flags, re-applied over the file on reload.
    pub listen_flags: Vec<String>,
    pub log_tail: LogTail,
    pub log_filter: Option<FilterHandle>,
    /// Whether to install Unix signal handlers (off when a test drives shutdown).
    pub handle_signals: bool,
}

/// Runs the daemon until a shutdown signal, idle exit, or `shutdown` resolves.
pub async fn run(
    opts: DaemonOptions,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let paths = opts.paths.clone();
    secure_files(&paths)?;
    let _lock = lock::DataLock::acquire(&paths.lock_file())?;
    let store = Store::open(&paths.db_file())?;
    let token = Token::load_or_create(&paths.token_file())
        .with_context(|| format!("cannot create token file {}", paths.token_file().display()))?;

    let metrics_token = load_metrics_token(&opts.config)?;
    let events = EventBus::new();
    opts.log_tail.attach_bus(events.clone());
    let mut listeners = listeners;
    // The CLI's own way in: a socket only this user can connect to.
    let socket_file = paths.socket_file();
    match listeners.bind_unix(&socket_file) {
        Ok(true) => tracing::info!("listening on {}", socket_file.display()),
        Ok(false) => {}
        Err(e) => tracing::warn!(
            "cannot listen on {}: {e}; the CLI will use TCP after checking who listens there",
            socket_file.display()
        ),
    }
    raise_fd_limit();
    let local_addrs = listeners.local_addrs();
    for addr in local_addrs.iter().filter(|a| !a.ip().is_loopback()) {
        tracing::warn!(
            "listening on {addr}, which other machines can reach: only the token protects the API there"
        );
    }
    let activation = listeners.activation;
    let state = AppState::new(AppStateParts {
        config: opts.config.clone(),
        config_path: opts.config_path.clone(),
        paths: paths.clone(),
        store: store.clone(),
        events,
        token,
        log_tail: opts.log_tail.clone(),
        activation,
        local_addrs: local_addrs.clone(),
        env: opts.env.clone(),
        metrics_token,
    })?;
    let lifelines = std::mem::take(&mut listeners.stored);
    let restored = state
        .terminals()
        .restore(
            lifelines,
            Duration::from_millis(state.config().terminal.quiet_ms),
        )
        .await;
    if restored != Default::default() {
        tracing::info!(
            "terminal sessions from before: {} taken back, {} ended meanwhile, {} interrupted",
            restored.adopted,
            restored.ended,
            restored.interrupted
        );
    }
    let router = crate::http::router(state.clone());

    let mut signals = if opts.handle_signals {
        Some(signals::listen().context("cannot install signal handlers")?)
    } else {
        None
    };

    let (drain_tx, mut drain_rx) = mpsc::channel::<()>(1);
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = serve::Shared::new(router, state.clone(), drain_tx.clone(), stop_rx);
    let mut loops = Vec::new();
    for socket in listeners.sockets {
        let listener =
            tokio::net::TcpListener::from_std(socket).context("cannot register listener")?;
        loops.push(serve::spawn_accept_loop(
            serve::Listener::Tcp(listener),
            shared.clone(),
        ));
    }
    for socket in listeners.unix {
        let listener =
            tokio::net::UnixListener::from_std(socket).context("cannot register listener")?;
        loops.push(serve::spawn_accept_loop(
            serve::Listener::Unix(listener),
            shared.clone(),
        ));
    }
    drop(shared);
    let addrs: Vec<String> = local_addrs.iter().map(|a| a.to_string()).collect();
    tracing::info!(
        "listening on {} ({} sockets), pid {}",
        addrs.join(", "),
        activation.label(),
        std::process::id()
    );
    notify::ready(&format!("Listening on {}", addrs.join(", ")));

    // The login shell's PATH, read once in the background so detection finds it ready.
    {
        let state = state.clone();
        tokio::spawn(async move { state.profiles().prefetch_agent_paths().await });
    }
    // Budgets are evaluated from the start, so a proxy restored next gets its stop.
    state.meter().start();
    // Proxies report usage to the daemon, so they start once it listens.
    let restoring = {
        let state = state.clone();
        tokio::spawn(async move { state.profiles().restore_proxies().await })
    };

    // Agents' usage logs, followed live; raw events pruned once a day.
    if state.config().usage.watch {
        crate::watch::start(crate::watch::Context {
            store: store.clone(),
            bus: state.events().clone(),
            env: opts.env.clone(),
            user_home: paths.home.clone(),
            import_lock: state.import_lock().clone(),
        });
    }
    let pruning = tokio::spawn(prune_daily(state.clone()));

    if let Some(interval) = notify::watchdog_interval(&opts.env) {
        tokio::spawn(watchdog(interval));
    }

    tokio::pin!(shutdown);
    let idle_check = Duration::from_secs(1);
    loop {
        let cmd = tokio::select! {
            _ = &mut shutdown => Command::Shutdown,
            _ = state.restart_requested() => Command::Shutdown,
            Some(cmd) = recv(&mut signals) => cmd,
            _ = tokio::time::sleep(idle_check) => {
                if idle_expired(&state) {
                    tracing::info!("idle for {}s with nothing running; exiting", state.config().idle_exit_secs);
                    Command::Shutdown
                } else {
                    continue;
                }
            }
        };
        match cmd {
            Command::Shutdown => break,
            Command::Reload => reload(&opts, &state),
        }
    }

    tracing::info!("shutting down");
    notify::stopping();
    // Proxies and sessions end together (each bounded by its grace: a proxy 3 s, a
    // session 1 s after SIGHUP and 2 s after SIGTERM), while the daemon still accepts
    // the proxies' last usage reports; then the connections drain.
    restoring.abort();
    pruning.abort();
    if state.keeps_sessions() {
        let (_, kept) = tokio::join!(state.proxies().shutdown(), state.terminals().detach_all());
        notify::status(&format!("Restarting; {kept} terminal session(s) kept"));
    } else {
        tokio::join!(
            state.proxies().shutdown(),
            state.terminals().shutdown(state.store())
        );
    }
    let _ = stop_tx.send(true);
    state.begin_shutdown();
    for l in loops {
        let _ = l.await;
    }
    drop(drain_tx);
    if tokio::time::timeout(DRAIN_TIMEOUT, drain_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not finish within {DRAIN_TIMEOUT:?}; closing them");
    }
    store.flush().context("cannot flush the database")?;
    tracing::info!("stopped");
    Ok(())
}

/// Drops raw usage events past the retention at start and then once a day (one
/// wake-up a day); the rollups keep every total.
async fn prune_daily(state: AppState) {
    loop {
        let days = state.config().usage.retention_days;
        match crate::usage::retention::prune(state.store(), days).await {
            Ok(p) if p.events > 0 => tracing::info!(
                "dropped {} usage events older than {days} days (their totals stay in the rollups)",
                p.events
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!("pruning old usage events failed: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(86_400)).await;
    }
}

/// Private from here on: files 0600 and directories 0700 whatever the umask; the data
/// and state directories must be ours (tightened if others could read them), and files
/// an earlier version or umask left readable are tightened.
fn secure_files(paths: &Paths) -> anyhow::Result<()> {
    crate::paths::private_umask();
    for dir in [&paths.data_dir, &paths.state_dir] {
        if crate::paths::secure_dir(dir)? {
            tracing::warn!(
                "{} was readable or writable by others; it is now 0700",
                dir.display()
            );
        }
    }
    let db = paths.db_file();
    let mut files = vec![
        paths.lock_file(),
        paths.token_file(),
        paths.daemon_log(),
        db.with_extension("db-wal"),
        db.with_extension("db-shm"),
    ];
    files.push(db);
    for file in files {
        crate::paths::tighten_file(&file)
            .with_context(|| format!("cannot make {} private", file.display()))?;
    }
    Ok(())
}

/// Raises the soft limit of open files to the hard one (systemd starts services with a
/// soft limit of 1,024): clients, sessions and proxies each hold descriptors.
fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => {
            if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                tracing::warn!("cannot raise the open-file limit from {soft} to {hard}: {e}");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("cannot read the open-file limit: {e}"),
    }
}

async fn recv(signals: &mut Option<tokio::sync::mpsc::Receiver<Command>>) -> Option<Command> {
    match signals {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

fn idle_expired(state: &AppState) -> bool {
    let secs = state.config().idle_exit_secs;
    secs > 0
        && state.activation().is_socket_activated()
        && state.activity().open_connections() == 0
        && !state.has_running_work()
        && state.activity().last_active(state.started()).elapsed() >= Duration::from_secs(secs)
}

/// The metrics token of `[metrics] token_file`, created when missing.
fn load_metrics_token(config: &Config) -> anyhow::Result<Option<Token>> {
    let Some(path) = &config.metrics.token_file else {
        return Ok(None);
    };
    crate::auth::metrics_token(path)
        .map(Some)
        .with_context(|| format!("cannot read or create the metrics token {}", path.display()))
}

/// SIGHUP: re-read the config file; on error keep the old one and say why.
fn reload(opts: &DaemonOptions, state: &AppState) {
    notify::reloading();
    match Config::load(&opts.config_path, &opts.env, &opts.listen_flags) {
        Ok(new) => {
            if new.listen != state.config().listen
                && state.activation() == activation::Activation::Bound
            {
                tracing::warn!("'listen' changed; it takes effect at the next restart");
            }
            if let Some(handle) = &opts.log_filter {
                let _ = handle.reload(crate::logging::parse_filter(&new.log));
            }
            match load_metrics_token(&new) {
                Ok(token) => state.set_metrics_token(token),
                Err(e) => tracing::error!("keeping the previous metrics token: {e:#}"),
            }
            state.set_config(new);
            state.syncer().nudge();
            let (catalogue, sync_state) = crate::registry::load(&opts.paths);
            state.set_catalogue(catalogue, sync_state);
            tracing::info!("configuration reloaded from {}", opts.config_path.display());
            notify::ready("Configuration reloaded");
        }
        Err(e) => {
            tracing::error!("reload failed, keeping the previous configuration: {e}");
            notify::ready(&format!("Reload failed: {e}"));
        }
    }
}

/// Pings the watchdog at half its interval, from a task on the runtime: if the runtime
/// stalls, the pings stop and the service manager restarts us.
async fn watchdog(interval: Duration) {
    let mut tick = tokio::time::interval(interval / 2);
    loop {
        tick.tick().await;
        notify::watchdog();
    }
}
