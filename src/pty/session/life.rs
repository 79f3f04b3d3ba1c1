//! A session's life: the tasks started with it, the end as its holder reports it, the
//! lifeline a service manager keeps, and the attention state's changes (announced on the
//! bus and kept in the session's record).

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UnixStream;

use super::{OnExit, Output, Session};
use crate::agents::hook_events::HookReport;
use crate::attention::Attention;
use crate::pty::attention::{Change, ProxyView, Tracker};
use crate::pty::holder::client;
use crate::pty::kill;
use crate::store::sessions::SessionRow;

/// How long output may keep flowing after the program ended.
const DRAIN: Duration = Duration::from_secs(2);
/// How often a typed `working` is checked for quiet output.
const TICK: Duration = Duration::from_millis(250);
/// The exit code reported when the holder is lost: the session is hung up.
const HUNG_UP: i32 = 128 + 1;

/// Starts the session's tasks: reader, lifecycle (on the holder's connection), quiet watch.
pub(super) fn run(session: &Arc<Session>, conn: UnixStream, on_exit: OnExit) {
    let reader = tokio::spawn(super::io::read_loop(session.clone()));
    tokio::spawn(lifecycle(session.clone(), conn, reader, on_exit));
    tokio::spawn(watch_quiet(session.clone()));
}

async fn lifecycle(
    session: Arc<Session>,
    conn: UnixStream,
    mut reader: tokio::task::JoinHandle<()>,
    on_exit: OnExit,
) {
    let mut detached = session.detached.subscribe();
    let ended = tokio::select! {
        code = client::exited(&conn) => code,
        _ = detached.wait_for(|d| *d) => {
            // The holder keeps it all; the connection closing tells it to wait.
            reader.abort();
            return;
        }
    };
    let code = ended.unwrap_or_else(|| {
        tracing::warn!(
            "terminal session {}: its holder (pid {}) is gone; ending the session",
            session.id,
            session.holder_pid
        );
        HUNG_UP
    });
    // The terminal closes with its program: what the program left behind is ended.
    kill::end_session(session.pid).await;
    if tokio::time::timeout(DRAIN, &mut reader).await.is_err() {
        tracing::warn!(
            "terminal session {}: output still open {DRAIN:?} after the program ended",
            session.id
        );
        reader.abort();
    }
    session.finish(code);
    on_exit(session.clone(), code).await;
    client::release(&conn).await;
    session.done.send_replace(true);
}

/// Ends a typed `working` once the output has been quiet long enough.
async fn watch_quiet(session: Arc<Session>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while session.is_running() && !session.is_detached() {
        tick.tick().await;
        let change = {
            let mut t = session.tracker();
            t.tick(|| session.screen())
        };
        session.announce(change);
    }
}

/// A lifeline for session `id`: the read end for its holder, and the write end, which is
/// also given to the service manager's descriptor store (named `clown-session-<id>`), so
/// it stays open across a restart of the daemon and closes when the service stops.
pub(super) fn lifeline(id: &str) -> (Option<OwnedFd>, Option<OwnedFd>) {
    match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
        Ok((read, write)) => {
            crate::pty::holder::fdstore::keep(&format!("clown-session-{id}"), &write);
            (Some(read), Some(write))
        }
        Err(e) => {
            tracing::warn!("session {id}: no lifeline ({e}); a service stop will not end it");
            (None, None)
        }
    }
}

/// The tracker of a session taken over from its record.
pub(super) fn resumed_tracker(row: &SessionRow, quiet: Duration) -> Tracker {
    let state = Attention::parse(&row.attention).unwrap_or(Attention::Idle);
    Tracker::resumed(quiet, state, row.attention_since, row.hooked)
}

pub(super) fn rfc3339_ms(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(crate::time::rfc3339)
        .unwrap_or_else(|_| crate::time::now_rfc3339())
}

/// The exit code, or 128 + the signal that ended the process.
pub fn exit_code(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

impl Session {
    pub(super) fn tracker(&self) -> std::sync::MutexGuard<'_, Tracker> {
        self.attention.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn attention(&self) -> Attention {
        self.tracker().state()
    }

    /// When the present attention state began (Unix milliseconds).
    pub fn attention_since_ms(&self) -> i64 {
        self.tracker().since_ms()
    }

    /// The agent's hook reported `report`. [`Session::save`] keeps what it changed.
    pub fn hook(&self, report: &HookReport) {
        if let Some(id) = report.conversation_id.as_ref().filter(|id| !id.is_empty()) {
            *self.conversation.lock().unwrap_or_else(|p| p.into_inner()) = Some(id.clone());
        }
        let Some((state, message)) = report.attention() else {
            return;
        };
        let change = self.tracker().hook(state, message);
        self.announce(change);
    }

    /// Writes the attention state and conversation id into the session's record (what a
    /// hook report acknowledged survives a crash of the daemon).
    pub async fn save(&self) -> Result<(), crate::store::StoreError> {
        let (state, since, hooked) = {
            let t = self.tracker();
            (t.state(), t.since_ms(), t.hooked())
        };
        let id = self.id.to_string();
        let conversation = self.conversation_id();
        self.store
            .call(move |c| {
                if state != Attention::Exited {
                    crate::store::sessions::set_attention(c, &id, state.as_str(), since, hooked)?;
                }
                if let Some(conv) = conversation {
                    crate::store::sessions::set_conversation(c, &id, &conv)?;
                }
                Ok(())
            })
            .await
    }

    /// The profile's proxy answered a request.
    pub fn proxy_view(&self, view: ProxyView, message: Option<String>) {
        let change = self.tracker().proxy(view, message);
        self.announce(change);
    }

    /// Publishes a change and keeps it in the session's record.
    pub(super) fn announce(&self, change: Option<Change>) {
        let Some(c) = change else {
            return;
        };
        tracing::debug!(
            "terminal session {}: {} -> {} ({:?})",
            self.id,
            c.previous.as_str(),
            c.state.as_str(),
            c.source
        );
        let (since, hooked) = {
            let t = self.tracker();
            (t.since_ms(), t.hooked())
        };
        self.events.publish(
            "terminal_attention_changed",
            serde_json::json!({
                "id": self.id.to_string(),
                "profile_alias": self.profile,
                "attention": c.state,
                "previous": c.previous,
                "source": c.source,
                "message": c.message,
                "since": rfc3339_ms(since),
                "looked_at": self.looked_at(),
            }),
        );
        if c.state != Attention::Exited {
            let (id, store) = (self.id.to_string(), self.store.clone());
            tokio::spawn(async move {
                let _ = store
                    .call(move |conn| {
                        crate::store::sessions::set_attention(
                            conn,
                            &id,
                            c.state.as_str(),
                            since,
                            hooked,
                        )
                    })
                    .await;
            });
        }
    }

    pub(super) fn finish(&self, code: i32) {
        {
            let out = self.out.lock().unwrap_or_else(|p| p.into_inner());
            self.exit.send_replace(Some(code));
            let _ = out.tx.send(Output::Exited(code));
        }
        let change = self.tracker().exit(code);
        self.announce(change);
    }
}
