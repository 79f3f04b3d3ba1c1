//! The session manager: one task that owns the set of terminal sessions.
//!
//! Changes (create, cleanup, a session's end) are commands to that task, so the limit
//! check and the insertion are one step and nothing races. Readers (list, get, attach,
//! "is this profile in use") take the latest published snapshot of the set without
//! asking the task. Events go on the bus: `terminal_session_created` when a session
//! starts, `terminal_state_changed` when it ends; each ended session is also recorded as
//! a usage session (source `terminal`) and touches its profile's `last_used`.
//!
//! Terminated sessions stay listed (with their exit code and scrollback) until cleanup;
//! past `terminal.max_sessions` of them, the oldest are dropped.

use std::sync::Arc;

use serde_json::json;
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use super::PtyError;
use super::session::{OnExit, Session, Start};
use super::spawn::Program;
use crate::auth::SessionTokens;
use crate::events::EventBus;
use crate::store::Store;
use crate::store::usage::{self, UsageSession};

/// What starting a session needs; limits come from the configuration of the moment.
#[derive(Debug)]
pub struct NewSession {
    /// Chosen by the caller, which puts it (and the hook token issued for it) in the
    /// program's environment.
    pub id: Uuid,
    pub profile: String,
    pub program: Program,
    pub scrollback_bytes: usize,
    pub max_sessions: usize,
    /// How long output must be quiet before a typed `working` ends.
    pub quiet: std::time::Duration,
}

enum Cmd {
    Create(NewSession, oneshot::Sender<Result<Arc<Session>, PtyError>>),
    Cleanup(oneshot::Sender<usize>),
    Exited,
    Close(oneshot::Sender<()>),
}

type Snapshot = Arc<Vec<Arc<Session>>>;

/// The handle every part of the daemon uses (cheap to clone).
#[derive(Clone)]
pub struct Terminals {
    tx: mpsc::Sender<Cmd>,
    sessions: watch::Receiver<Snapshot>,
    tokens: SessionTokens,
}

impl Terminals {
    /// Starts the manager task; `store` and `events` receive the sessions' ends.
    pub fn start(store: Store, events: EventBus) -> Self {
        let (tx, rx) = mpsc::channel(64);
        let (snap_tx, sessions) = watch::channel(Snapshot::default());
        let tokens = SessionTokens::default();
        let manager = Manager {
            tokens: tokens.clone(),
            sessions: Vec::new(),
            snapshot: snap_tx,
            retain: crate::config::TerminalConfig::default().max_sessions,
            closing: false,
            store,
            events,
            tx: tx.clone(),
        };
        tokio::spawn(manager.run(rx));
        Self {
            tx,
            sessions,
            tokens,
        }
    }

    /// The sessions' hook tokens (issued by whoever starts a session, revoked at its end).
    pub fn tokens(&self) -> &SessionTokens {
        &self.tokens
    }

    pub async fn create(&self, req: NewSession) -> Result<Arc<Session>, PtyError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Create(req, reply))
            .await
            .map_err(|_| PtyError::ShuttingDown)?;
        rx.await.map_err(|_| PtyError::ShuttingDown)?
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

    /// Refuses new sessions, ends every running one, and waits until each is recorded.
    pub async fn shutdown(&self) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Cmd::Close(reply)).await.is_ok() {
            let _ = rx.await;
        }
        let all = self.list();
        let running = all.iter().filter(|s| s.is_running()).count();
        if running > 0 {
            tracing::info!("ending {running} terminal session(s)");
        }
        end_all(all).await;
    }
}

async fn end_all(sessions: Vec<Arc<Session>>) {
    futures_util::future::join_all(sessions.iter().map(|s| async move {
        s.terminate().await;
        s.wait_done().await;
    }))
    .await;
}

struct Manager {
    tokens: SessionTokens,
    sessions: Vec<Arc<Session>>,
    snapshot: watch::Sender<Snapshot>,
    /// How many terminated sessions to keep listed.
    retain: usize,
    closing: bool,
    store: Store,
    events: EventBus,
    tx: mpsc::Sender<Cmd>,
}

impl Manager {
    async fn run(mut self, mut rx: mpsc::Receiver<Cmd>) {
        while let Some(cmd) = rx.recv().await {
            match cmd {
                Cmd::Create(req, reply) => {
                    let _ = reply.send(self.create(req));
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
            }
        }
    }

    fn create(&mut self, req: NewSession) -> Result<Arc<Session>, PtyError> {
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
            &req.program,
            Start {
                id: req.id,
                profile: req.profile,
                scrollback_bytes: req.scrollback_bytes,
                quiet: req.quiet,
                events: self.events.clone(),
                on_exit: self.on_exit(),
            },
        )?;
        tracing::info!(
            "terminal session {} started for profile '{}' (pid {}, {:?})",
            session.id,
            session.profile,
            session.pid,
            req.program.path
        );
        self.sessions.push(session.clone());
        self.publish();
        self.events
            .publish("terminal_session_created", json!(session.info()));
        Ok(session)
    }

    fn on_exit(&self) -> OnExit {
        let store = self.store.clone();
        let events = self.events.clone();
        let tx = self.tx.clone();
        let tokens = self.tokens.clone();
        Box::new(move |session, code| {
            Box::pin(async move {
                tokens.revoke(&session.id.to_string());
                tracing::info!(
                    "terminal session {} of profile '{}' ended with {code}",
                    session.id,
                    session.profile
                );
                events.publish(
                    "terminal_state_changed",
                    json!({"id": session.id.to_string(), "profile_alias": session.profile,
                           "state": "terminated", "exit_code": code}),
                );
                record(&store, &events, &session, code).await;
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

    fn remove_where(&mut self, mut doomed: impl FnMut(&Session) -> bool) {
        let mut kept = Vec::with_capacity(self.sessions.len());
        for s in self.sessions.drain(..) {
            if doomed(&s) {
                s.mark_removed();
            } else {
                kept.push(s);
            }
        }
        self.sessions = kept;
        self.publish();
    }

    fn publish(&self) {
        self.snapshot.send_replace(Arc::new(self.sessions.clone()));
    }
}

/// Records the ended session as a usage session and touches the profile's `last_used`.
async fn record(store: &Store, events: &EventBus, session: &Session, code: i32) {
    let ended = jiff::Timestamp::now().as_second();
    let row = UsageSession {
        profile: session.profile.clone(),
        started_at: session.started_at,
        ended_at: Some(ended),
        exit_code: Some(code),
        source: "terminal".into(),
        session_id: Some(session.id.to_string()),
    };
    let profile = session.profile.clone();
    let when = crate::time::now_rfc3339();
    let result = store
        .call(move |c| {
            let added = usage::record(c, &[], &[row], ended)?;
            crate::store::profiles::touch(c, &profile, &when)?;
            Ok(added)
        })
        .await;
    match result {
        Ok((_, sessions)) if sessions > 0 => {
            events.publish("usage_recorded", json!({"events": 0, "sessions": sessions}));
        }
        Ok(_) => {}
        Err(e) => tracing::error!("cannot record terminal session {}: {e}", session.id),
    }
}
