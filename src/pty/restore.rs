//! Taking back, at start, what an earlier daemon left ([`super::Terminals::restore`]):
//!
//! - a `running` record whose holder answers on its socket is *adopted*: its hook token,
//!   lifeline and scrollback file are taken back and it is served as before;
//! - one whose holder is gone but left an exit record ended meanwhile: listed as
//!   terminated with its code (or, if the holder ended it because the service stopped,
//!   recorded as interrupted);
//! - one with neither (a reboot, a holder killed) is recorded as interrupted;
//! - an `ended` record not yet cleaned up is listed again as terminated.
//!
//! Each ended or interrupted session is recorded as a usage session (once: the id is
//! unique). Holders are asked all at once, so twenty sessions come back about as fast
//! as one.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::time::Duration;

use super::holder::{Files, client};
use super::manager::{Manager, Restored, record};
use super::session::Session;
use crate::store::sessions::{self as records, SessionRow};

/// How long a holder that is still finishing (alive, socket closed) may take to leave its
/// exit record.
const FINISHING: Duration = Duration::from_secs(3);

impl Manager {
    pub(super) async fn restore(
        &mut self,
        mut lifelines: HashMap<String, OwnedFd>,
        quiet: Duration,
    ) -> Restored {
        let mut restored = Restored::default();
        let store = self.ctx.store.clone();
        let rows = match store.read(records::listed).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("cannot read the terminal sessions' records: {e}");
                return restored;
            }
        };
        let dir = self.ctx.dir.clone();
        // Every holder asked at once; the answers are taken in the sessions' order.
        let answers = futures_util::future::join_all(rows.into_iter().map(|row| {
            let socket = Files::of(&dir, &row.id).socket;
            async move {
                let held = match row.state.as_str() {
                    "running" => Some(client::attach(&socket).await),
                    _ => None,
                };
                (row, held)
            }
        }))
        .await;
        for (row, held) in answers {
            let lifeline = lifelines.remove(&format!("clown-session-{}", row.id));
            match held {
                None => {
                    let code = row.exit_code.unwrap_or(1);
                    if let Some(s) = Session::ended(&self.ctx, &row, code, quiet) {
                        self.sessions.push(s);
                    }
                }
                Some(Ok(held)) => {
                    if let Some(token) = held.hook_token.as_deref().filter(|t| !t.is_empty()) {
                        self.tokens.insert(&row.id, token);
                    }
                    match Session::adopt(&self.ctx, &row, held, lifeline, quiet, self.on_exit()) {
                        Ok(s) => {
                            tracing::info!(
                                "terminal session {} of profile '{}' taken back (pid {})",
                                s.id,
                                s.profile,
                                s.pid
                            );
                            self.sessions.push(s);
                            restored.adopted += 1;
                        }
                        Err(e) => {
                            tracing::error!("cannot take back terminal session {}: {e}", row.id);
                        }
                    }
                }
                Some(Err(e)) => {
                    tracing::info!(
                        "terminal session {} of profile '{}' is not running any more ({e})",
                        row.id,
                        row.profile
                    );
                    if self.lost(&row, quiet).await {
                        restored.ended += 1;
                    } else {
                        restored.interrupted += 1;
                    }
                }
            }
        }
        // Lifelines of sessions no one answers for: let them close.
        for name in lifelines.keys() {
            super::holder::fdstore::forget(name);
        }
        restored
    }

    /// Records how a session whose holder is gone ended; true when it is listed as
    /// terminated (it ended by itself), false when it counts as interrupted.
    async fn lost(&mut self, row: &SessionRow, quiet: Duration) -> bool {
        let files = Files::of(&self.ctx.dir, &row.id);
        let mut exit = files.read_exit();
        if exit.is_none() && alive(row.holder_pid) {
            let deadline = tokio::time::Instant::now() + FINISHING;
            while exit.is_none() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
                exit = files.read_exit();
            }
        }
        let by_itself = exit.as_ref().is_some_and(|e| e.reason == "exited");
        let (code, ended_at) = match &exit {
            Some(e) => (Some(e.code), Some(e.ended_at)),
            None => (None, None),
        };
        let events = self.ctx.events.clone();
        record(
            &self.ctx.store,
            &events,
            &row.profile,
            &row.id,
            row.started_at,
            ended_at,
            code,
        )
        .await;
        let id = row.id.clone();
        let when = ended_at.unwrap_or_else(|| jiff::Timestamp::now().as_second());
        let _ = self
            .ctx
            .store
            .call(move |c| records::end(c, &id, code.unwrap_or(1), when, !by_itself))
            .await;
        if by_itself && let Some(s) = Session::ended(&self.ctx, row, code.unwrap_or(1), quiet) {
            self.sessions.push(s);
        }
        by_itself
    }
}

/// Whether process `pid` exists (and is not a zombie).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|s| s != "Z" && s != "X"),
        Err(_) => nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok(),
    }
}
