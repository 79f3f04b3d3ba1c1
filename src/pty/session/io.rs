//! A session's terminal I/O: the reader that drains the master side into the scrollback
//! and the broadcast, client input, size, signals, and the screen the attention checks read.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::{Buf, Bytes};

use super::{Output, Session, pack};
use crate::pty::screen::{NoticeScanner, strip_escapes};
use crate::pty::{PtyError, kill, spawn};

/// Largest chunk read from the PTY in one go.
const READ_CHUNK: usize = 64 * 1024;
/// How much of the newest output the screen checks read.
const SCREEN_TAIL: usize = 4096;

impl Session {
    /// Writes client input to the PTY, from the client's own task (no hop through
    /// another task: keystrokes go straight in). Waits while the program is not reading
    /// its input; input from several clients may interleave, as from several keyboards.
    pub async fn write(&self, mut data: Bytes) {
        let Some(master) = &self.master else {
            return;
        };
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
            let Ok(mut guard) = master.writable().await else {
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
        if let Some(master) = &self.master {
            spawn::resize(master, cols, rows)?;
        }
        self.size.store(pack(cols, rows), Ordering::Relaxed);
        let (id, store) = (self.id.to_string(), self.store.clone());
        tokio::spawn(async move {
            let _ = store
                .call(move |c| crate::store::sessions::set_size(c, &id, cols, rows))
                .await;
        });
        Ok(())
    }

    /// Sends `sig` to the terminal's foreground process group (the program, or the job a
    /// shell in it runs in the foreground).
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let (Some(master), true) = (&self.master, self.is_running()) else {
            return;
        };
        let group =
            nix::unistd::tcgetpgrp(master).unwrap_or_else(|_| nix::unistd::Pid::from_raw(self.pid));
        let _ = nix::sys::signal::killpg(group, sig);
    }

    /// Ends every process of the session and waits until it is reported terminated.
    pub async fn terminate(&self) -> i32 {
        if self.is_running() {
            kill::end_session(self.pid).await;
        }
        self.wait().await
    }

    pub(super) fn publish(&self, chunk: Bytes) {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        out.scrollback.push(chunk.clone());
        let _ = out.tx.send(Output::Data(chunk));
    }

    /// The visible text of what the program wrote since a client last typed (the newest
    /// [`SCREEN_TAIL`] bytes of it), for the screen checks.
    pub(super) fn screen(&self) -> String {
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
}

pub(super) async fn read_loop(session: Arc<Session>) {
    let Some(master) = &session.master else {
        return;
    };
    // Zeroed once: the kernel hands over at most a few KiB per read, so preparing the
    // whole buffer for each read would cost more than the read.
    let mut buf = vec![0u8; READ_CHUNK];
    let mut notices = NoticeScanner::default();
    loop {
        let Ok(mut guard) = master.readable().await else {
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
