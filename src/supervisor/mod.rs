//! The daemon's side of the per-profile proxies (DESIGN §11): one [`runner`] task per
//! profile that has had a proxy, reached through its command channel; statuses read from
//! each runner's watch channel.
//!
//! It gets narrow inputs ([`Context`]): where plans come from ([`PlanSource`]), the event
//! bus, the configuration, the state directory for logs, the daemon's environment for the
//! child, where the child reports usage and the usage tokens it reports with (a new one
//! at every start, never the daemon's own token), and the budget stops in force
//! ([`Stops`], a watch channel: each runner passes its profile's on to the child). It
//! never sees the daemon's whole state.
//!
//! [`start`] (plan, port, spawn, health), [`child`] (the process), [`backoff`],
//! [`logfile`] and [`status`] serve the runner. The map only holds handles (taken
//! briefly, never across an await). At shutdown every proxy is stopped and every runner
//! joined ([`Supervisor::shutdown`]), so no process is left behind.

pub mod backoff;
pub mod child;
pub mod logfile;
mod runner;
mod start;
pub mod status;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use crate::auth::UsageTokens;
use crate::config::Config;
use crate::events::EventBus;
use crate::paths::Env;
use crate::proxy::control::Stop;
use crate::proxy::plan::Plan;
use crate::shared::Shared;
use runner::{Cmd, Runner};
pub use status::{ProxyStatus, State};

/// A proxy's plan and the port its settings fix, if any.
pub struct Planned {
    pub plan: Plan,
    pub fixed_port: Option<u16>,
}

pub enum PlanFailure {
    /// Starting again cannot help (the profile is gone, the plan is invalid).
    Fatal(String),
    /// Counts as a crash: restarted after a delay.
    Retry(String),
}

/// Where a proxy's plan comes from: asked at every start, so a restart sees the current
/// settings and keys.
pub trait PlanSource: Send + Sync + 'static {
    fn plan<'a>(
        &'a self,
        alias: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Planned, PlanFailure>> + Send + 'a>>;
}

/// What the supervisor works with.
pub struct Context {
    pub plans: Arc<dyn PlanSource>,
    pub events: EventBus,
    pub config: Shared<Config>,
    /// Proxy logs go to `<state_dir>/proxy/<alias>.log`.
    pub state_dir: PathBuf,
    /// The daemon's environment, from which the child's is taken.
    pub env: Env,
    /// Where the child posts usage, and the tokens it posts with: each start issues
    /// the profile a new one that can only record that profile's usage.
    pub daemon_url: Option<String>,
    pub usage_tokens: UsageTokens,
    /// The budget stops in force, by profile: handed to a proxy in its plan and, when
    /// they change, as a control line to the running child.
    pub stops: watch::Receiver<Stops>,
}

/// The budgets' hard stops in force, by profile.
pub type Stops = Arc<std::collections::BTreeMap<String, Stop>>;

#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("Proxy for '{alias}' is already {state}")]
    AlreadyActive { alias: String, state: String },
    #[error("the daemon is shutting down")]
    ShuttingDown,
}

struct Handle {
    cmds: mpsc::Sender<Cmd>,
    status: watch::Receiver<ProxyStatus>,
    task: tokio::task::JoinHandle<()>,
}

type Procs = Mutex<HashMap<String, Handle>>;

pub struct Supervisor {
    ctx: Arc<Context>,
    procs: Arc<Procs>,
    closing: AtomicBool,
}

fn lock(procs: &Procs) -> std::sync::MutexGuard<'_, HashMap<String, Handle>> {
    procs.lock().unwrap_or_else(|p| p.into_inner())
}

/// Ports held by active proxies other than `alias`'s.
fn ports_held_by_others(procs: &Weak<Procs>, alias: &str) -> HashSet<u16> {
    let Some(procs) = procs.upgrade() else {
        return HashSet::new();
    };
    lock(&procs)
        .iter()
        .filter(|(a, _)| a.as_str() != alias)
        .filter_map(|(_, h)| {
            let s = h.status.borrow();
            s.status.is_active().then_some(s.port).flatten()
        })
        .collect()
}

impl Supervisor {
    pub fn new(ctx: Context) -> Self {
        Self {
            ctx: Arc::new(ctx),
            procs: Arc::new(Mutex::new(HashMap::new())),
            closing: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Handle>> {
        lock(&self.procs)
    }

    /// Where a proxy's log lives.
    pub fn log_path(&self, alias: &str) -> PathBuf {
        logfile::path(&self.ctx.state_dir, alias)
    }

    /// The runner of `alias`, created (idle, stopped) on first use.
    fn handle(&self, alias: &str) -> Option<(mpsc::Sender<Cmd>, watch::Receiver<ProxyStatus>)> {
        let mut procs = self.lock();
        // Checked under the lock, so nothing is added after `shutdown` drained the map.
        if self.closing.load(Ordering::SeqCst) {
            return None;
        }
        let h = procs.entry(alias.to_string()).or_insert_with(|| {
            let (cmd_tx, cmd_rx) = mpsc::channel(8);
            let (status_tx, status_rx) = watch::channel(ProxyStatus::stopped(alias));
            let runner = Runner::new(
                alias.to_string(),
                self.ctx.clone(),
                Arc::downgrade(&self.procs),
                status_tx,
                cmd_rx,
            );
            Handle {
                cmds: cmd_tx,
                status: status_rx,
                task: tokio::spawn(runner.run()),
            }
        });
        Some((h.cmds.clone(), h.status.clone()))
    }

    /// Starts the proxy of `alias` and waits until it runs, waits to retry, or failed.
    pub async fn start(&self, alias: &str) -> Result<ProxyStatus, SupervisorError> {
        let (cmds, mut status) = self.handle(alias).ok_or(SupervisorError::ShuttingDown)?;
        let (tx, rx) = oneshot::channel();
        if cmds.send(Cmd::Start(tx)).await.is_err() {
            return Err(SupervisorError::ShuttingDown);
        }
        let started = rx.await.map_err(|_| SupervisorError::ShuttingDown)?;
        if !started {
            let current = status.borrow().clone();
            return Err(SupervisorError::AlreadyActive {
                alias: alias.to_string(),
                state: match current.status {
                    State::Running => format!("running on port {}", current.port.unwrap_or(0)),
                    other => format!("{other:?}").to_lowercase(),
                },
            });
        }
        let limit = Duration::from_millis(self.ctx.config.get().proxy.startup_timeout_ms + 2_000);
        let _ = tokio::time::timeout(limit, status.wait_for(|s| s.status != State::Starting)).await;
        let now = status.borrow().clone();
        Ok(now)
    }

    /// Stops the proxy of `alias` (a no-op when it is not active).
    pub async fn stop(&self, alias: &str) -> ProxyStatus {
        let found = {
            let procs = self.lock();
            procs.get(alias).map(|h| (h.cmds.clone(), h.status.clone()))
        };
        let Some((cmds, status)) = found else {
            return ProxyStatus::stopped(alias);
        };
        let (tx, rx) = oneshot::channel();
        if cmds.send(Cmd::Stop(tx)).await.is_ok() {
            let _ = rx.await;
        }
        status.borrow().clone()
    }

    /// Restarts the proxy of `alias` if it is active (to apply new settings).
    pub async fn restart(&self, alias: &str) {
        let cmds = self.lock().get(alias).map(|h| h.cmds.clone());
        if let Some(cmds) = cmds {
            let (tx, rx) = oneshot::channel();
            if cmds.send(Cmd::Restart(tx)).await.is_ok() {
                let _ = rx.await;
            }
        }
    }

    /// Stops the proxy of `alias` and forgets it (its profile is being deleted).
    pub async fn remove(&self, alias: &str) {
        self.stop(alias).await;
        self.ctx.usage_tokens.revoke(alias);
        let handle = self.lock().remove(alias);
        if let Some(h) = handle {
            drop(h.cmds);
            let _ = h.task.await;
        }
    }

    /// Waits (bounded) while the proxy of `alias` is in one of the `passing` states;
    /// returns its status then.
    pub async fn wait_while(
        &self,
        alias: &str,
        passing: &[State],
        limit: Duration,
    ) -> Option<ProxyStatus> {
        let mut rx = self.lock().get(alias).map(|h| h.status.clone())?;
        let _ = tokio::time::timeout(limit, rx.wait_for(|s| !passing.contains(&s.status))).await;
        let now = rx.borrow().clone();
        Some(now)
    }

    pub fn status(&self, alias: &str) -> Option<ProxyStatus> {
        self.lock().get(alias).map(|h| h.status.borrow().clone())
    }

    pub fn statuses(&self) -> Vec<ProxyStatus> {
        let mut all: Vec<ProxyStatus> = self
            .lock()
            .values()
            .map(|h| h.status.borrow().clone())
            .collect();
        all.sort_by(|a, b| a.profile.cmp(&b.profile));
        all
    }

    pub fn is_active(&self, alias: &str) -> bool {
        self.status(alias).is_some_and(|s| s.status.is_active())
    }

    pub fn active_count(&self) -> usize {
        self.lock()
            .values()
            .filter(|h| h.status.borrow().status.is_active())
            .count()
    }

    /// Stops every proxy and joins every runner; no new start is accepted after this.
    pub async fn shutdown(&self) {
        let handles: Vec<(String, Handle)> = {
            let mut procs = self.lock();
            self.closing.store(true, Ordering::SeqCst);
            procs.drain().collect()
        };
        let stops = handles.iter().map(|(_, h)| {
            let cmds = h.cmds.clone();
            async move {
                let (tx, rx) = oneshot::channel();
                if cmds.send(Cmd::Stop(tx)).await.is_ok() {
                    let _ = rx.await;
                }
            }
        });
        futures_util::future::join_all(stops).await;
        for (alias, h) in handles {
            drop(h.cmds);
            if tokio::time::timeout(Duration::from_secs(5), h.task)
                .await
                .is_err()
            {
                tracing::warn!("the supervisor of '{alias}' did not end");
            }
        }
    }
}
