//! One terminal session: a program on a PTY, its scrollback and its attached clients.
//!
//! The program runs under its session holder ([`super::holder`]), which started it and
//! hands the daemon the terminal's master side; the daemon reads and writes that directly.
//! Two tasks serve a session ([`io`], [`life`]). The reader drains the master side as fast
//! as the program produces, appends to the scrollback (a file that outlives the daemon,
//! [`super::ring`]) and broadcasts each chunk; it never waits for a client (a client that
//! falls behind the broadcast ring loses its place, see [`Output`]). Client input goes to
//! the PTY from the client's own task. The lifecycle task waits for the holder to say the
//! program ended; then whatever it left in its session is ended too (a terminal that
//! closes hangs up on its processes), the remaining output is drained, and only then is
//! the end broadcast, so every client sees all output before `Exited`. A session
//! *detached* (the daemon restarts and keeps it) stops both tasks and leaves the program,
//! its holder and its scrollback file as they are, for the next daemon to attach.
//!
//! Attaching takes the scrollback snapshot and subscribes to the broadcast under one
//! lock, so a client sees each byte exactly once, in order.
//!
//! Each session also tracks its attention state ([`super::attention`]): the reader looks
//! for bells and notifications in the output, client input and the agent's hook reports
//! feed the tracker, and a small task ends a typed `working` once the output is quiet.
//! Changes go on the bus as `terminal_attention_changed` and into the session's record.
//! Clients report whether their window shows the session (focused and visible); a session
//! is *looked at* while one of them did within [`FOCUS_TTL`], and notifications are then
//! not sent.

mod info;
mod io;
mod life;

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use tokio::io::unix::AsyncFd;
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use super::attention::Tracker;
use super::holder::{self, Files};
use super::ring::Ring;
use super::scrollback::Scrollback;
use super::{PtyError, spawn};
use crate::events::EventBus;
use crate::store::Store;
use crate::store::sessions::SessionRow;

pub use info::Info;
pub use life::exit_code;

/// Chunks a client may fall behind before it loses its place.
const BROADCAST_CHUNKS: usize = 1024;
/// How long a client's report that it shows the session counts.
pub const FOCUS_TTL: Duration = Duration::from_secs(90);

/// What attached clients receive, in order.
#[derive(Debug, Clone)]
pub enum Output {
    Data(Bytes),
    /// The program ended with this code (or 128 + signal); nothing follows.
    Exited(i32),
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
    pub holder_pid: i32,
    /// None for a session that had ended before this daemon started.
    master: Option<AsyncFd<OwnedFd>>,
    /// cols << 16 | rows.
    size: AtomicU32,
    clients: AtomicUsize,
    out: Mutex<Out>,
    exit: watch::Sender<Option<i32>>,
    /// Set when the session is removed (cleanup): attached clients then disconnect.
    removed: watch::Sender<bool>,
    /// Set once everything after the end (usage record, events) is done.
    done: watch::Sender<bool>,
    /// Set when the daemon lets go of a running session (to keep it across a restart).
    detached: watch::Sender<bool>,
    attention: Mutex<Tracker>,
    /// Clients that reported showing the session, and when.
    focus: Mutex<HashMap<u64, Instant>>,
    next_client: AtomicU64,
    /// How much output there was when a client last typed (the screen checks read what
    /// came after).
    input_mark: AtomicU64,
    conversation: Mutex<Option<String>>,
    events: EventBus,
    store: Store,
    /// The session's files: holder socket, scrollback, exit record.
    pub files: Files,
    /// The write end of the holder's lifeline, while this daemon has it.
    _lifeline: Option<OwnedFd>,
    worktree: Option<serde_json::Value>,
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

/// Runs once the session has ended and its clients were told (records, announces).
pub type OnExit = Box<dyn FnOnce(Arc<Session>, i32) -> BoxFuture<'static, ()> + Send>;

/// What any session needs besides its program.
#[derive(Clone)]
pub struct Context {
    pub events: EventBus,
    pub store: Store,
    /// `<state>/sessions`: holder sockets, scrollback files, exit records.
    pub dir: PathBuf,
    /// The clown binary (run as `clown session-holder`).
    pub exe: PathBuf,
    /// Whether sessions get a lifeline kept in the service manager's descriptor store.
    pub fdstore: bool,
}

/// What starting a session takes besides the program.
pub struct Start {
    pub id: Uuid,
    pub profile: String,
    pub scrollback_bytes: usize,
    /// How long output must be quiet before a typed `working` ends.
    pub quiet: Duration,
    pub worktree: Option<serde_json::Value>,
    pub on_exit: OnExit,
}

/// The parts a session is made of, however it came to be.
struct Parts {
    id: Uuid,
    profile: String,
    created_at: String,
    started_at: i64,
    pid: i32,
    holder_pid: i32,
    master: Option<AsyncFd<OwnedFd>>,
    cols: u16,
    rows: u16,
    scrollback: Scrollback,
    exit: Option<i32>,
    tracker: Tracker,
    conversation: Option<String>,
    lifeline: Option<OwnedFd>,
    worktree: Option<serde_json::Value>,
}

impl Session {
    fn build(ctx: &Context, p: Parts) -> Arc<Self> {
        let (tx, _) = broadcast::channel(BROADCAST_CHUNKS);
        Arc::new(Self {
            id: p.id,
            files: Files::of(&ctx.dir, &p.id.to_string()),
            profile: p.profile,
            created_at: p.created_at,
            started_at: p.started_at,
            pid: p.pid,
            holder_pid: p.holder_pid,
            master: p.master,
            size: AtomicU32::new(pack(p.cols, p.rows)),
            clients: AtomicUsize::new(0),
            out: Mutex::new(Out {
                scrollback: p.scrollback,
                tx,
            }),
            exit: watch::Sender::new(p.exit),
            removed: watch::Sender::new(false),
            done: watch::Sender::new(p.exit.is_some()),
            detached: watch::Sender::new(false),
            attention: Mutex::new(p.tracker),
            focus: Mutex::new(HashMap::new()),
            next_client: AtomicU64::new(0),
            input_mark: AtomicU64::new(0),
            conversation: Mutex::new(p.conversation),
            events: ctx.events.clone(),
            store: ctx.store.clone(),
            _lifeline: p.lifeline,
            worktree: p.worktree,
        })
    }

    /// Starts `program` under a new holder, and the session's tasks.
    pub async fn start(
        ctx: &Context,
        program: &spawn::Program,
        start: Start,
    ) -> Result<Arc<Self>, PtyError> {
        let files = Files::of(&ctx.dir, &start.id.to_string());
        let scrollback = if start.scrollback_bytes == 0 {
            Scrollback::new(0)
        } else {
            match Ring::create(&files.ring, start.scrollback_bytes) {
                Ok(ring) => Scrollback::File(ring),
                Err(e) => {
                    tracing::warn!(
                        "cannot keep the scrollback of session {} in {}: {e}; it will not outlive the daemon",
                        start.id,
                        files.ring.display()
                    );
                    Scrollback::new(start.scrollback_bytes)
                }
            }
        };
        let (lifeline_read, lifeline) = if ctx.fdstore {
            life::lifeline(&start.id.to_string())
        } else {
            (None, None)
        };
        let spec = holder::Spec {
            version: holder::VERSION,
            id: start.id.to_string(),
            program: program.clone(),
            socket: files.socket.clone(),
            ring: matches!(scrollback, Scrollback::File(_)).then(|| files.ring.clone()),
            exit_file: files.exit.clone(),
            lifeline: lifeline_read.is_some(),
        };
        let held = match holder::client::spawn(&ctx.exe, &spec, lifeline_read).await {
            Ok(h) => h,
            Err(e) => {
                files.remove();
                return Err(PtyError::Spawn {
                    program: program.path.clone(),
                    source: std::io::Error::other(e.to_string()),
                });
            }
        };
        // SAFETY: the OwnedFd is moved into the AsyncFd, which alone owns and closes it.
        let master = unsafe { AsyncFd::register(held.master) }.map_err(|e| PtyError::Open {
            action: "register the terminal with the runtime",
            source: e.into(),
        })?;
        let session = Self::build(
            ctx,
            Parts {
                id: start.id,
                profile: start.profile,
                created_at: crate::time::now_rfc3339(),
                started_at: jiff::Timestamp::now().as_second(),
                pid: held.pid,
                holder_pid: held.holder_pid,
                master: Some(master),
                cols: program.cols,
                rows: program.rows,
                scrollback,
                exit: None,
                tracker: Tracker::new(start.quiet),
                conversation: None,
                lifeline,
                worktree: start.worktree,
            },
        );
        life::run(&session, held.conn, start.on_exit);
        Ok(session)
    }

    /// Takes over the session a holder kept across a daemon restart (`row` is its
    /// record); `lifeline` is its write end handed back by the service manager, if any.
    pub fn adopt(
        ctx: &Context,
        row: &SessionRow,
        held: holder::client::Held,
        lifeline: Option<OwnedFd>,
        quiet: Duration,
        on_exit: OnExit,
    ) -> Result<Arc<Self>, PtyError> {
        let id = Uuid::parse_str(&row.id).map_err(|e| PtyError::Open {
            action: "read the session's id",
            source: std::io::Error::other(e),
        })?;
        let master = unsafe { AsyncFd::register(held.master) }.map_err(|e| PtyError::Open {
            action: "register the terminal with the runtime",
            source: e.into(),
        })?;
        let session = Self::build(
            ctx,
            Parts {
                scrollback: kept_scrollback(ctx, &row.id),
                tracker: life::resumed_tracker(row, quiet),
                id,
                profile: row.profile.clone(),
                created_at: row.created_at.clone(),
                started_at: row.started_at,
                pid: held.pid,
                holder_pid: held.holder_pid,
                master: Some(master),
                cols: row.cols,
                rows: row.rows,
                exit: None,
                conversation: row.conversation_id.clone(),
                lifeline,
                worktree: row_worktree(row),
            },
        );
        life::run(&session, held.conn, on_exit);
        Ok(session)
    }

    /// A session that ended while no daemon (or an earlier one) served it, listed with its
    /// exit code and scrollback until cleanup.
    pub fn ended(ctx: &Context, row: &SessionRow, code: i32, quiet: Duration) -> Option<Arc<Self>> {
        let id = Uuid::parse_str(&row.id).ok()?;
        let mut tracker = life::resumed_tracker(row, quiet);
        tracker.exit(code);
        Some(Self::build(
            ctx,
            Parts {
                scrollback: kept_scrollback(ctx, &row.id),
                tracker,
                id,
                profile: row.profile.clone(),
                created_at: row.created_at.clone(),
                started_at: row.started_at,
                pid: row.pid,
                holder_pid: row.holder_pid,
                master: None,
                cols: row.cols,
                rows: row.rows,
                exit: Some(code),
                conversation: row.conversation_id.clone(),
                lifeline: None,
                worktree: row_worktree(row),
            },
        ))
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

    pub fn mark_removed(&self) {
        self.removed.send_replace(true);
    }

    /// Lets go of a running session, leaving its program, holder and scrollback file for
    /// the next daemon.
    pub fn detach(&self) {
        self.detached.send_replace(true);
    }

    pub fn is_detached(&self) -> bool {
        *self.detached.borrow()
    }
}

fn row_worktree(row: &SessionRow) -> Option<serde_json::Value> {
    row.worktree
        .as_deref()
        .and_then(|w| serde_json::from_str(w).ok())
}

/// The scrollback file a holder kept for session `id`, or an empty one in memory.
fn kept_scrollback(ctx: &Context, id: &str) -> Scrollback {
    let path = Files::of(&ctx.dir, id).ring;
    match Ring::open(&path) {
        Ok(ring) => Scrollback::File(ring),
        Err(e) => {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!("session {id}: the scrollback file cannot be used ({e})");
            }
            Scrollback::new(0)
        }
    }
}

fn pack(cols: u16, rows: u16) -> u32 {
    (u32::from(cols) << 16) | u32::from(rows)
}

fn unpack(v: u32) -> (u16, u16) {
    ((v >> 16) as u16, (v & 0xffff) as u16)
}
