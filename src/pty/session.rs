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

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes};
use futures_util::future::BoxFuture;
use serde::Serialize;
use tokio::io::unix::AsyncFd;
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use super::scrollback::Scrollback;
use super::{PtyError, kill, spawn};

/// Chunks a client may fall behind before it loses its place.
const BROADCAST_CHUNKS: usize = 1024;
/// Largest chunk read from the PTY in one go.
const READ_CHUNK: usize = 64 * 1024;
/// How long output may keep flowing after the program ended.
const DRAIN: Duration = Duration::from_secs(2);

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
}

/// A client's view: what it missed, then the live stream. Counts as a client until dropped.
pub struct Attachment {
    pub session: Arc<Session>,
    pub scrollback: Bytes,
    pub exit_code: Option<i32>,
    pub output: broadcast::Receiver<Output>,
    pub removed: watch::Receiver<bool>,
}

impl Drop for Attachment {
    fn drop(&mut self) {
        self.session.clients.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs once the session has ended and its clients were told (records, announces).
pub type OnExit = Box<dyn FnOnce(Arc<Session>, i32) -> BoxFuture<'static, ()> + Send>;

impl Session {
    /// Starts `program` and the session's tasks.
    pub fn start(
        profile: String,
        program: &spawn::Program,
        scrollback_bytes: usize,
        on_exit: OnExit,
    ) -> Result<Arc<Self>, PtyError> {
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
            id: Uuid::new_v4(),
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
        });
        let reader = tokio::spawn(read_loop(session.clone()));
        tokio::spawn(lifecycle(session.clone(), spawned.child, reader, on_exit));
        Ok(session)
    }

    pub fn info(&self) -> Info {
        let (cols, rows) = unpack(self.size.load(Ordering::Relaxed));
        let exit_code = *self.exit.borrow();
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
        }
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
        let out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        self.exit.send_replace(Some(code));
        let _ = out.tx.send(Output::Exited(code));
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
            session.publish(Bytes::copy_from_slice(&buf[..filled]));
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
