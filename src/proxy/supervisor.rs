//! The daemon's side of the proxies: one [`Runner`] task per profile that has had a proxy,
//! reached through its command channel; statuses read from each runner's watch channel.
//!
//! The map only holds handles (taken briefly, never across an await). At daemon start the
//! proxies of profiles with the proxy enabled are started ([`Supervisor::restore`]); at
//! shutdown every proxy is stopped and every runner joined ([`Supervisor::shutdown`]), so
//! no process is left behind.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::runner::{Cmd, Runner};
use super::status::{ProxyStatus, State};
use crate::app::AppState;
use crate::profiles::proxy_settings;
use crate::store::profiles as db;

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

#[derive(Default)]
pub struct Supervisor {
    procs: Mutex<HashMap<String, Handle>>,
    closing: AtomicBool,
}

impl Supervisor {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Handle>> {
        self.procs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The runner of `alias`, created (idle, stopped) on first use.
    fn handle(
        &self,
        state: &AppState,
        alias: &str,
    ) -> Option<(mpsc::Sender<Cmd>, watch::Receiver<ProxyStatus>)> {
        let mut procs = self.lock();
        // Checked under the lock, so nothing is added after `shutdown` drained the map.
        if self.closing.load(Ordering::SeqCst) {
            return None;
        }
        let h = procs.entry(alias.to_string()).or_insert_with(|| {
            let (cmd_tx, cmd_rx) = mpsc::channel(8);
            let (status_tx, status_rx) = watch::channel(ProxyStatus::stopped(alias));
            let runner = Runner::new(alias.to_string(), state.clone(), status_tx, cmd_rx);
            Handle {
                cmds: cmd_tx,
                status: status_rx,
                task: tokio::spawn(runner.run()),
            }
        });
        Some((h.cmds.clone(), h.status.clone()))
    }

    /// Starts the proxy of `alias` and waits until it runs, waits to retry, or failed.
    pub async fn start(
        &self,
        state: &AppState,
        alias: &str,
    ) -> Result<ProxyStatus, SupervisorError> {
        let (cmds, mut status) = self
            .handle(state, alias)
            .ok_or(SupervisorError::ShuttingDown)?;
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
        let limit = Duration::from_millis(state.config().proxy.startup_timeout_ms + 2_000);
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

    /// Ports held by active proxies other than `alias`'s.
    pub fn ports_held_by_others(&self, alias: &str) -> HashSet<u16> {
        self.lock()
            .iter()
            .filter(|(a, _)| a.as_str() != alias)
            .filter_map(|(_, h)| {
                let s = h.status.borrow();
                s.status.is_active().then_some(s.port).flatten()
            })
            .collect()
    }

    /// Starts the proxies of every profile that has the proxy enabled.
    pub async fn restore(&self, state: &AppState) {
        let rows = match state.store().call(|c| db::list(c, None)).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!("cannot list profiles to restore their proxies: {e}");
                return;
            }
        };
        for row in rows.iter().filter(|r| proxy_settings(r).enabled) {
            match self.start(state, &row.alias).await {
                Ok(s) => tracing::info!(
                    "proxy for '{}' {:?} on port {}",
                    row.alias,
                    s.status,
                    s.port.map(|p| p.to_string()).unwrap_or_else(|| "-".into())
                ),
                Err(e) => tracing::warn!("proxy for '{}' not restored: {e}", row.alias),
            }
        }
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
