//! The session manager: one task that owns the set of terminal sessions.
//!
//! Changes (create, cleanup, a session's end, taking back sessions at start) are commands
//! to that task, so the limit check and the insertion are one step and nothing races.
//! Readers (list, get, attach, "is this profile in use") take the latest published
//! snapshot of the set without asking the task. Events go on the bus:
//! `terminal_session_created` when a session starts, `terminal_state_changed` when it
//! ends; each ended session is also recorded as a usage session (source `terminal`),
//! touches its profile's `last_used`, and its record (`store::sessions`) says how it
//! ended.
//!
//! Terminated sessions stay listed (with their exit code and scrollback) until cleanup;
//! past `terminal.max_sessions` of them, the oldest are dropped. Cleanup also removes
//! their files and records. The daemon's stop ends every running session and marks it
//! interrupted (it can be resumed); a restart detaches them instead, for the next daemon
//! to take back ([`super::session::Session::detach`], [`restore`](Terminals::restore)).

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use serde_json::json;
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

mod stop;

use stop::end_all;

use super::PtyError;
use super::session::{Context, OnExit, Session, Start};
use super::spawn::Program;
use crate::auth::SessionTokens;
use crate::store::Store;
use crate::store::sessions::{self as records, SessionRow};
use crate::store::usage::{self, UsageSession};

/// What starting a session needs; limits come from the configuration of the moment.
#[derive(Debug)]
pub struct NewSession {
    /// Chosen by the caller, which puts it (and the hook token issued for it) in the
    /// program's environment.
    pub id: Uuid,
    pub profile: String,
    /// The profile's agent and the arguments it was given (for the session's record).
    pub agent_id: String,
    pub args: Vec<String>,
    pub program: Program,
    pub scrollback_bytes: usize,
    pub max_sessions: usize,
    /// How long output must be quiet before a typed `working` ends.
    pub quiet: std::time::Duration,
    /// The session's git worktree (JSON), if it runs in one.
    pub worktree: Option<serde_json::Value>,
}

/// What the daemon found of an earlier daemon's sessions at start.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Restored {
    /// Running, taken back.
    pub adopted: usize,
    /// Ended while no daemon served them (listed as terminated).
    pub ended: usize,
    /// Lost (a reboot, a stop, a holder killed): listed as interrupted.
    pub interrupted: usize,
}

enum Cmd {
    Create(
        Box<NewSession>,
        oneshot::Sender<Result<Arc<Session>, PtyError>>,
    ),
    Cleanup(oneshot::Sender<usize>),
    Exited,
    Close(oneshot::Sender<()>),
    Restore(
        HashMap<String, OwnedFd>,
        std::time::Duration,
        oneshot::Sender<Restored>,
    ),
}

type Snapshot = Arc<Vec<Arc<Session>>>;

/// The handle every part of the daemon uses (cheap to clone).
#[derive(Clone)]
pub struct Terminals {
    tx: mpsc::Sender<Cmd>,
    sessions: watch::Receiver<Snapshot>,
    tokens: SessionTokens,
    store: Store,
    dir: std::path::PathBuf,
}

impl Terminals {
    /// Starts the manager task on `ctx` (bus, store, the sessions' directory, …).
    pub fn start(ctx: Context) -> Self {
        let (tx, rx) = mpsc::channel(64);
        let (snap_tx, sessions) = watch::channel(Snapshot::default());
        let tokens = SessionTokens::default();
        if let Err(e) = crate::paths::ensure_private_dir(&ctx.dir) {
            tracing::warn!("cannot create {}: {e}", ctx.dir.display());
        }
        let (store, dir) = (ctx.store.clone(), ctx.dir.clone());
        let manager = Manager {
            tokens: tokens.clone(),
            sessions: Vec::new(),
            snapshot: snap_tx,
            retain: crate::config::TerminalConfig::default().max_sessions,
            closing: false,
            ctx,
            tx: tx.clone(),
        };
        tokio::spawn(manager.run(rx));
        Self {
            tx,
            sessions,
            tokens,
            store,
            dir,
        }
    }

    /// Forgets the record of a session that is not listed (an interrupted one): its row
    /// and its files. False when there was none.
    pub async fn forget(&self, id: &str) -> Result<bool, crate::store::StoreError> {
        let key = id.to_string();
        let gone = self.store.call(move |c| records::delete(c, &key)).await?;
        if gone {
            super::holder::Files::of(&self.dir, id).remove();
        }
        Ok(gone)
    }

    /// The sessions' hook tokens (issued by whoever starts a session, revoked at its end).
    pub fn tokens(&self) -> &SessionTokens {
        &self.tokens
    }

    pub async fn create(&self, req: NewSession) -> Result<Arc<Session>, PtyError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Create(Box::new(req), reply))
            .await
            .map_err(|_| PtyError::ShuttingDown)?;
        rx.await.map_err(|_| PtyError::ShuttingDown)?
    }

    /// Takes back what an earlier daemon left: running sessions from their holders
    /// (`lifelines`: their lifelines' write ends, by name, from the service manager),
    /// those that ended meanwhile, and those that were lost.
    pub async fn restore(
        &self,
        lifelines: HashMap<String, OwnedFd>,
        quiet: std::time::Duration,
    ) -> Restored {
        let (reply, rx) = oneshot::channel();
        if self
            .tx
            .send(Cmd::Restore(lifelines, quiet, reply))
            .await
            .is_err()
        {
            return Restored::default();
        }
        rx.await.unwrap_or_default()
    }

    /// Every session, oldest first.
    pub fn list(&self) -> Vec<Arc<Session>> {
        self.sessions.borrow().iter().cloned().collect()
    }

    pub fn get(&self, id: Uuid) -> Option<Arc<Session>> {
        self.sessions.borrow().iter().find(|s| s.id == id).cloned()
    }

    /// Removes terminated sessions; returns how many.
    pub async fn cleanup(&self) -> usize {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Cmd::Cleanup(reply)).await.is_err() {
            return 0;
        }
        rx.await.unwrap_or(0)
    }

    pub fn running(&self) -> usize {
        self.sessions
            .borrow()
            .iter()
            .filter(|s| s.is_running())
            .count()
    }

    pub fn profile_in_use(&self, alias: &str) -> bool {
        self.sessions
            .borrow()
            .iter()
            .any(|s| s.profile == alias && s.is_running())
    }

    /// Ends every running session of `alias` and waits until they are recorded.
    pub async fn stop_profile(&self, alias: &str) {
        let doomed: Vec<_> = self
            .list()
            .into_iter()
            .filter(|s| s.profile == alias && s.is_running())
            .collect();
        end_all(doomed).await;
    }
}

pub(super) struct Manager {
    pub(super) tokens: SessionTokens,
    pub(super) sessions: Vec<Arc<Session>>,
    snapshot: watch::Sender<Snapshot>,
    /// How many terminated sessions to keep listed.
    retain: usize,
    closing: bool,
    pub(super) ctx: Context,
    tx: mpsc::Sender<Cmd>,
}

impl Manager {
    async fn run(mut self, mut rx: mpsc::Receiver<Cmd>) {
        while let Some(cmd) = rx.recv().await {
            match cmd {
                Cmd::Create(req, reply) => {
                    let _ = reply.send(self.create(*req).await);
                }
                Cmd::Cleanup(reply) => {
                    let before = self.sessions.len();
                    self.remove_where(|s| !s.is_running());
                    let _ = reply.send(before - self.sessions.len());
                }
                Cmd::Exited => self.trim(),
                Cmd::Close(reply) => {
                    self.closing = true;
                    let _ = reply.send(());
                }
                Cmd::Restore(lifelines, quiet, reply) => {
                    let restored = self.restore(lifelines, quiet).await;
                    self.publish();
                    let _ = reply.send(restored);
                }
            }
        }
    }

    async fn create(&mut self, req: NewSession) -> Result<Arc<Session>, PtyError> {
        if self.closing {
            return Err(PtyError::ShuttingDown);
        }
        let running = self.sessions.iter().filter(|s| s.is_running()).count();
        if running >= req.max_sessions {
            return Err(PtyError::Limit {
                limit: req.max_sessions,
            });
        }
        self.retain = req.max_sessions;
        let session = Session::start(
            &self.ctx,
            &req.program,
            Start {
                id: req.id,
                profile: req.profile,
                scrollback_bytes: req.scrollback_bytes,
                quiet: req.quiet,
                worktree: req.worktree.clone(),
                on_exit: self.on_exit(),
            },
        )
        .await?;
        tracing::info!(
            "terminal session {} started for profile '{}' (pid {}, holder {}, {:?})",
            session.id,
            session.profile,
            session.pid,
            session.holder_pid,
            req.program.path
        );
        let row = SessionRow {
            id: session.id.to_string(),
            profile: session.profile.clone(),
            agent_id: req.agent_id,
            cwd: req.program.cwd.display().to_string(),
            args: req.args,
            created_at: session.created_at.clone(),
            started_at: session.started_at,
            pid: session.pid,
            holder_pid: session.holder_pid,
            cols: req.program.cols,
            rows: req.program.rows,
            state: "running".into(),
            exit_code: None,
            ended_at: None,
            attention: "idle".into(),
            attention_since: session.attention_since_ms(),
            hooked: false,
            conversation_id: None,
            worktree: req.worktree.as_ref().map(|w| w.to_string()),
        };
        if let Err(e) = self.ctx.store.call(move |c| records::insert(c, &row)).await {
            tracing::error!("cannot record terminal session {}: {e}", session.id);
        }
        self.sessions.push(session.clone());
        self.publish();
        self.ctx
            .events
            .publish("terminal_session_created", json!(session.info()));
        Ok(session)
    }

    pub(super) fn on_exit(&self) -> OnExit {
        let store = self.ctx.store.clone();
        let events = self.ctx.events.clone();
        let tx = self.tx.clone();
        let tokens = self.tokens.clone();
        let fdstore = self.ctx.fdstore;
        Box::new(move |session, code| {
            Box::pin(async move {
                let id = session.id.to_string();
                tokens.revoke(&id);
                if fdstore {
                    super::holder::fdstore::forget(&format!("clown-session-{id}"));
                }
                tracing::info!(
                    "terminal session {} of profile '{}' ended with {code}",
                    session.id,
                    session.profile
                );
                events.publish(
                    "terminal_state_changed",
                    json!({"id": id, "profile_alias": session.profile,
                           "state": "terminated", "exit_code": code}),
                );
                let ended = jiff::Timestamp::now().as_second();
                record(
                    &store,
                    &events,
                    &session.profile,
                    &id,
                    session.started_at,
                    Some(ended),
                    Some(code),
                )
                .await;
                let _ = store
                    .call(move |c| records::end(c, &id, code, ended, false))
                    .await;
                let _ = tx.send(Cmd::Exited).await;
            })
        })
    }

    /// Keeps at most `retain` terminated sessions (the newest).
    fn trim(&mut self) {
        let terminated = self.sessions.iter().filter(|s| !s.is_running()).count();
        let mut excess = terminated.saturating_sub(self.retain);
        if excess > 0 {
            self.remove_where(|s| {
                let drop = excess > 0 && !s.is_running();
                if drop {
                    excess -= 1;
                }
                drop
            });
        }
    }

    /// Removes the sessions `doomed` picks: clients are told, their files go, and the
    /// records of those that simply ended (not the interrupted ones, which can be resumed).
    fn remove_where(&mut self, mut doomed: impl FnMut(&Session) -> bool) {
        let mut kept = Vec::with_capacity(self.sessions.len());
        let mut gone = Vec::new();
        for s in self.sessions.drain(..) {
            if doomed(&s) {
                s.mark_removed();
                gone.push(s);
            } else {
                kept.push(s);
            }
        }
        self.sessions = kept;
        self.publish();
        if gone.is_empty() {
            return;
        }
        let store = self.ctx.store.clone();
        tokio::spawn(async move {
            let ids: Vec<String> = gone.iter().map(|s| s.id.to_string()).collect();
            let forget = store
                .call(move |c| {
                    let mut forgotten = Vec::new();
                    for id in ids {
                        let interrupted =
                            records::get(c, &id)?.is_some_and(|r| r.state == "interrupted");
                        if !interrupted {
                            records::delete(c, &id)?;
                            forgotten.push(id);
                        }
                    }
                    Ok(forgotten)
                })
                .await
                .unwrap_or_default();
            for s in gone {
                if forget.contains(&s.id.to_string()) {
                    s.files.remove();
                }
            }
        });
    }

    pub(super) fn publish(&self) {
        self.snapshot.send_replace(Arc::new(self.sessions.clone()));
    }
}

/// Records an ended session as a usage session and touches the profile's `last_used`
/// (once per session: the id is unique).
pub(super) async fn record(
    store: &Store,
    events: &crate::events::EventBus,
    profile: &str,
    id: &str,
    started_at: i64,
    ended_at: Option<i64>,
    code: Option<i32>,
) {
    let ended = ended_at.unwrap_or_else(|| jiff::Timestamp::now().as_second());
    let row = UsageSession {
        profile: profile.to_string(),
        started_at,
        ended_at: Some(ended.max(started_at)),
        exit_code: code,
        source: "terminal".into(),
        session_id: Some(id.to_string()),
    };
    let alias = profile.to_string();
    let when = crate::time::now_rfc3339();
    let result = store
        .call(move |c| {
            let added = usage::record(c, &[], &[row], ended)?;
            crate::store::profiles::touch(c, &alias, &when)?;
            Ok(added)
        })
        .await;
    match result {
        Ok((_, sessions)) if sessions > 0 => {
            events.publish("usage_recorded", json!({"events": 0, "sessions": sessions}));
        }
        Ok(_) => {}
        Err(e) => tracing::error!("cannot record terminal session {id}: {e}"),
    }
}
