//! One terminal session: a program on a PTY, its scrollback and its attached clients.
//!
//! Two tasks serve a session. The reader drains the master side of the PTY as fast as
//! it produces, appends to the scrollback and broadcasts each chunk; it never waits for a
//! client (a client that falls behind the broadcast ring loses its place, see
//! [`Output`]). Client input goes to the PTY from the client's own task. The lifecycle
//! task waits for the program; when it ends, whatever it left in its session is ended too (a terminal that
//! closes hangs up on its processes), the remaining output is drained, and only then is
//! the end broadcast, so every client sees all output before `Exited`.
//!
//! Attaching takes the scrollback snapshot and subscribes to the broadcast under one
//! lock, so a client sees each byte exactly once, in order.
//!
//! Each session also tracks its attention state ([`super::attention`]): the reader looks
//! for bells and notifications in the output, client input and the agent's hook reports
//! feed the tracker, and a small task ends a typed `working` once the output is quiet.
//! Changes go on the bus as `terminal_attention_changed`. Clients report whether their
//! window shows the session (focused and visible); a session is *looked at* while one of
//! them did within [`FOCUS_TTL`], and notifications are then not sent.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use futures_util::future::BoxFuture;
use serde::Serialize;
use tokio::io::unix::AsyncFd;
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use super::attention::{Attention, Change, NoticeScanner, ProxyView, Tracker, strip_escapes};
use super::scrollback::Scrollback;
use super::{PtyError, kill, spawn};
use crate::agents::hook_events::HookReport;
use crate::events::EventBus;

/// Chunks a client may fall behind before it loses its place.
const BROADCAST_CHUNKS: usize = 1024;
/// Largest chunk read from the PTY in one go.
const READ_CHUNK: usize = 64 * 1024;
/// How long output may keep flowing after the program ended.
const DRAIN: Duration = Duration::from_secs(2);
/// How long a client's report that it shows the session counts.
pub const FOCUS_TTL: Duration = Duration::from_secs(90);
/// How often a typed `working` is checked for quiet output.
const TICK: Duration = Duration::from_millis(250);
/// How much of the newest output the screen checks read.
const SCREEN_TAIL: usize = 4096;

/// What attached clients receive, in order.
#[derive(Debug, Clone)]
pub enum Output {
    Data(Bytes),
    /// The program ended with this code (or 128 + signal); nothing follows.
    Exited(i32),
}

/// The public description of a session (the API's shape).
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    pub id: String,
    pub profile_alias: String,
    pub state: &'static str,
    pub created_at: String,
    pub pid: i32,
    pub cols: u16,
    pub rows: u16,
    pub client_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// What the agent is doing: idle, working, needs_input, turn_finished, rate_limited,
    /// errored or exited.
    pub attention: Attention,
    /// Since when (RFC 3339).
    pub attention_since: String,
    /// How long it has waited for its user, for a waiting state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_secs: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attention_message: Option<String>,
    /// Whether a client shows it right now (focused and visible).
    pub looked_at: bool,
    /// The agent's own id of its conversation, once its hooks said it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
}

struct Out {
    scrollback: Scrollback,
    tx: broadcast::Sender<Output>,
}

pub struct Session {
    pub id: Uuid,
    pub profile: String,
    pub created_at: String,
    /// Unix seconds at start, for the usage record.
    pub started_at: i64,
    pub pid: i32,
    master: AsyncFd<OwnedFd>,
    /// cols << 16 | rows.
    size: AtomicU32,
    clients: AtomicUsize,
    out: Mutex<Out>,
    exit: watch::Sender<Option<i32>>,
    /// Set when the session is removed (cleanup): attached clients then disconnect.
    removed: watch::Sender<bool>,
    /// Set once everything after the end (usage record, events) is done.
    done: watch::Sender<bool>,
    attention: Mutex<Tracker>,
    /// Clients that reported showing the session, and when.
    focus: Mutex<HashMap<u64, Instant>>,
    next_client: AtomicU64,
    /// How much output there was when a client last typed (the screen checks read what
    /// came after).
    input_mark: AtomicU64,
    conversation: Mutex<Option<String>>,
    events: EventBus,
}

/// A client's view: what it missed, then the live stream. Counts as a client until dropped.
pub struct Attachment {
    pub session: Arc<Session>,
    /// This client's number within the session (its focus reports).
    pub client: u64,
    pub scrollback: Bytes,
    pub exit_code: Option<i32>,
    pub output: broadcast::Receiver<Output>,
    pub removed: watch::Receiver<bool>,
}

impl Drop for Attachment {
    fn drop(&mut self) {
        self.session.clients.fetch_sub(1, Ordering::SeqCst);
        self.session.focus(self.client, false);
    }
}

/// What starting a session takes besides the program.
pub struct Start {
    pub id: Uuid,
    pub profile: String,
    pub scrollback_bytes: usize,
    /// How long output must be quiet before a typed `working` ends.
    pub quiet: Duration,
    pub events: EventBus,
    pub on_exit: OnExit,
}

/// Runs once the session has ended and its clients were told (records, announces).
pub type OnExit = Box<dyn FnOnce(Arc<Session>, i32) -> BoxFuture<'static, ()> + Send>;

impl Session {
    /// Starts `program` and the session's tasks.
    pub fn start(program: &spawn::Program, start: Start) -> Result<Arc<Self>, PtyError> {
        let Start {
            id,
            profile,
            scrollback_bytes,
            quiet,
            events,
            on_exit,
        } = start;
        let mut spawned = spawn::spawn(program)?;
        // SAFETY: the OwnedFd is moved into the AsyncFd, which alone owns and closes it.
        let master = match unsafe { AsyncFd::register(spawned.master) } {
            Ok(master) => master,
            Err(e) => {
                // A failed start leaves nothing running (tokio reaps the child).
                kill::signal_session(spawned.pid, nix::sys::signal::Signal::SIGKILL);
                let _ = spawned.child.start_kill();
                return Err(PtyError::Open {
                    action: "register the terminal with the runtime",
                    source: e.into(),
                });
            }
        };
        let (tx, _) = broadcast::channel(BROADCAST_CHUNKS);
        let session = Arc::new(Self {
            id,
            profile,
            created_at: crate::time::now_rfc3339(),
            started_at: jiff::Timestamp::now().as_second(),
            pid: spawned.pid,
            master,
            size: AtomicU32::new(pack(program.cols, program.rows)),
            clients: AtomicUsize::new(0),
            out: Mutex::new(Out {
                scrollback: Scrollback::new(scrollback_bytes),
                tx,
            }),
            exit: watch::Sender::new(None),
            removed: watch::Sender::new(false),
            done: watch::Sender::new(false),
            attention: Mutex::new(Tracker::new(quiet)),
            focus: Mutex::new(HashMap::new()),
            next_client: AtomicU64::new(0),
            input_mark: AtomicU64::new(0),
            conversation: Mutex::new(None),
            events,
        });
        let reader = tokio::spawn(read_loop(session.clone()));
        tokio::spawn(lifecycle(session.clone(), spawned.child, reader, on_exit));
        tokio::spawn(watch_quiet(session.clone()));
        Ok(session)
    }

    pub fn info(&self) -> Info {
        let (cols, rows) = unpack(self.size.load(Ordering::Relaxed));
        let exit_code = *self.exit.borrow();
        let (attention, since_ms, attention_message) = {
            let t = self.tracker();
            (t.state(), t.since_ms(), t.message().map(String::from))
        };
        let waiting_secs = attention
            .waiting()
            .then(|| (super::attention::now_ms() - since_ms).max(0) / 1000);
        Info {
            id: self.id.to_string(),
            profile_alias: self.profile.clone(),
            state: if exit_code.is_some() {
                "terminated"
            } else {
                "running"
            },
            created_at: self.created_at.clone(),
            pid: self.pid,
            cols,
            rows,
            client_count: self.clients.load(Ordering::SeqCst),
            exit_code,
            attention,
            attention_since: rfc3339_ms(since_ms),
            waiting_secs,
            attention_message,
            looked_at: self.looked_at(),
            conversation_id: self.conversation_id(),
        }
    }

    fn tracker(&self) -> std::sync::MutexGuard<'_, Tracker> {
        self.attention.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn attention(&self) -> Attention {
        self.tracker().state()
    }

    /// When the present attention state began (Unix milliseconds).
    pub fn attention_since_ms(&self) -> i64 {
        self.tracker().since_ms()
    }

    pub fn conversation_id(&self) -> Option<String> {
        self.conversation
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The agent's hook reported `report`.
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

    /// The profile's proxy answered a request.
    pub fn proxy_view(&self, view: ProxyView, message: Option<String>) {
        let change = self.tracker().proxy(view, message);
        self.announce(change);
    }

    /// Client `client` shows the session (or stopped showing it).
    pub fn focus(&self, client: u64, shown: bool) {
        let mut focus = self.focus.lock().unwrap_or_else(|p| p.into_inner());
        if shown {
            focus.insert(client, Instant::now());
        } else {
            focus.remove(&client);
        }
    }

    /// Whether a client reported showing the session within [`FOCUS_TTL`].
    pub fn looked_at(&self) -> bool {
        self.focus
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .any(|t| t.elapsed() < FOCUS_TTL)
    }

    /// The visible text of what the program wrote since a client last typed (the newest
    /// [`SCREEN_TAIL`] bytes of it), for the screen checks.
    fn screen(&self) -> String {
        let out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let since = out
            .scrollback
            .total()
            .saturating_sub(self.input_mark.load(Ordering::Relaxed));
        let n = usize::try_from(since)
            .unwrap_or(usize::MAX)
            .min(SCREEN_TAIL);
        strip_escapes(&out.scrollback.tail(n))
    }

    fn announce(&self, change: Option<Change>) {
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
        self.events.publish(
            "terminal_attention_changed",
            serde_json::json!({
                "id": self.id.to_string(),
                "profile_alias": self.profile,
                "attention": c.state,
                "previous": c.previous,
                "source": c.source,
                "message": c.message,
                "since": rfc3339_ms(self.attention_since_ms()),
                "looked_at": self.looked_at(),
            }),
        );
    }

    pub fn is_running(&self) -> bool {
        self.exit.borrow().is_none()
    }

    pub fn exit_code(&self) -> Option<i32> {
        *self.exit.borrow()
    }

    /// Resolves with the exit code once the session has terminated.
    pub async fn wait(&self) -> i32 {
        let mut rx = self.exit.subscribe();
        loop {
            if let Some(code) = *rx.borrow_and_update() {
                return code;
            }
            if rx.changed().await.is_err() {
                return self.exit_code().unwrap_or(1);
            }
        }
    }

    /// Resolves once the session has ended and its end was recorded.
    pub async fn wait_done(&self) {
        let mut rx = self.done.subscribe();
        let _ = rx.wait_for(|done| *done).await;
    }

    pub fn attach(self: &Arc<Self>) -> Attachment {
        let out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        self.clients.fetch_add(1, Ordering::SeqCst);
        Attachment {
            session: self.clone(),
            client: self.next_client.fetch_add(1, Ordering::Relaxed),
            scrollback: out.scrollback.snapshot(),
            exit_code: self.exit_code(),
            output: out.tx.subscribe(),
            removed: self.removed.subscribe(),
        }
    }

    /// Writes client input to the PTY, from the client's own task (no hop through
    /// another task: keystrokes go straight in). Waits while the program is not reading
    /// its input; input from several clients may interleave, as from several keyboards.
    pub async fn write(&self, mut data: Bytes) {
        let mark = self
            .out
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .scrollback
            .total();
        self.input_mark.store(mark, Ordering::Relaxed);
        let change = self.tracker().input(&data);
        self.announce(change);
        while !data.is_empty() && self.is_running() {
            let Ok(mut guard) = self.master.writable().await else {
                return;
            };
            match guard.try_io(|fd| nix::unistd::write(fd.get_ref(), &data).map_err(Into::into)) {
                Ok(Ok(n)) => data.advance(n),
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Ok(Err(_)) => return,
                Err(_would_block) => {}
            }
        }
    }

    pub fn resize(&self, cols: u16, rows: u16) -> Result<(), PtyError> {
        spawn::resize(&self.master, cols, rows)?;
        self.size.store(pack(cols, rows), Ordering::Relaxed);
        Ok(())
    }

    /// Sends `sig` to the terminal's foreground process group (the program, or the job a
    /// shell in it runs in the foreground).
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        if !self.is_running() {
            return;
        }
        let group = nix::unistd::tcgetpgrp(&self.master)
            .unwrap_or_else(|_| nix::unistd::Pid::from_raw(self.pid));
        let _ = nix::sys::signal::killpg(group, sig);
    }

    /// Ends every process of the session and waits until it is reported terminated.
    pub async fn terminate(&self) -> i32 {
        if self.is_running() {
            kill::end_session(self.pid).await;
        }
        self.wait().await
    }

    pub fn mark_removed(&self) {
        self.removed.send_replace(true);
    }

    fn publish(&self, chunk: Bytes) {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        out.scrollback.push(chunk.clone());
        let _ = out.tx.send(Output::Data(chunk));
    }

    fn finish(&self, code: i32) {
        {
            let out = self.out.lock().unwrap_or_else(|p| p.into_inner());
            self.exit.send_replace(Some(code));
            let _ = out.tx.send(Output::Exited(code));
        }
        let change = self.tracker().exit(code);
        self.announce(change);
    }
}

fn rfc3339_ms(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(crate::time::rfc3339)
        .unwrap_or_else(|_| crate::time::now_rfc3339())
}

/// Ends a typed `working` once the output has been quiet long enough.
async fn watch_quiet(session: Arc<Session>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while session.is_running() {
        tick.tick().await;
        let change = {
            let mut t = session.tracker();
            t.tick(|| session.screen())
        };
        session.announce(change);
    }
}

fn pack(cols: u16, rows: u16) -> u32 {
    (u32::from(cols) << 16) | u32::from(rows)
}

fn unpack(v: u32) -> (u16, u16) {
    ((v >> 16) as u16, (v & 0xffff) as u16)
}

async fn read_loop(session: Arc<Session>) {
    // Zeroed once: the kernel hands over at most a few KiB per read, so preparing the
    // whole buffer for each read would cost more than the read.
    let mut buf = vec![0u8; READ_CHUNK];
    let mut notices = NoticeScanner::default();
    loop {
        let Ok(mut guard) = session.master.readable().await else {
            return;
        };
        let mut ended = false;
        let mut filled = 0;
        while filled < READ_CHUNK {
            match guard.try_io(|fd| {
                nix::unistd::read(fd.get_ref(), &mut buf[filled..]).map_err(Into::into)
            }) {
                Ok(Ok(0)) => {
                    ended = true;
                    break;
                }
                Ok(Ok(n)) => filled += n,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // EIO: every slave descriptor is closed, the session is over.
                Ok(Err(_)) => {
                    ended = true;
                    break;
                }
                Err(_would_block) => break,
            }
        }
        if filled > 0 {
            let notice = notices.scan(&buf[..filled]);
            session.publish(Bytes::copy_from_slice(&buf[..filled]));
            let change = session.tracker().output(notice, || session.screen());
            session.announce(change);
        }
        if ended {
            return;
        }
    }
}

async fn lifecycle(
    session: Arc<Session>,
    mut child: tokio::process::Child,
    mut reader: tokio::task::JoinHandle<()>,
    on_exit: OnExit,
) {
    let code = match child.wait().await {
        Ok(status) => exit_code(&status),
        Err(e) => {
            tracing::error!("cannot wait for terminal session {}: {e}", session.id);
            1
        }
    };
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
    session.done.send_replace(true);
}

/// The exit code, or 128 + the signal that ended the process.
pub fn exit_code(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}
