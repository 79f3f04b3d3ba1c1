//! Session holders: one small process per terminal session (`clown session-holder`),
//! between the daemon and the agent, so that the agent outlives the daemon.
//!
//! The holder opens the terminal and starts the agent as its own child, so it is the one
//! that learns the agent's exit code, whoever the daemon is by then. It keeps a copy of the
//! terminal's master side (the agent is not hung up while no daemon holds it) and hands
//! another to the daemon, which reads and writes the terminal directly, as it would its
//! own: the holder is not on the data path. It listens on `<state>/sessions/<id>.sock`
//! for a daemon to come back after a restart and gives it the master side again.
//!
//! Its life:
//! 1. The daemon starts it (its own session, the user's umask, the daemon's stderr) with
//!    one end of a socket pair on descriptor 3 (and, under a service manager's descriptor
//!    store, the read end of a *lifeline* pipe on 4); it reads the [`Spec`] from 3, starts
//!    the agent, binds its socket and answers `started` (with the master side) or
//!    `failed`.
//! 2. While a daemon is connected it waits. A daemon that goes away (a restart, a crash)
//!    leaves it waiting; the next one connects, says `attach`, and gets `hello` and the
//!    master side. Output written meanwhile waits in the terminal's buffer for it.
//! 3. When the agent exits it tells the connected daemon `exited` with the code and waits
//!    for `release` (the daemon has drained the output and recorded the end), then exits.
//!    With no daemon connected it ends what is left of the agent's session, drains the
//!    output into the scrollback file, writes `<id>.exit` (code, and `stopped` when it
//!    ended the agent itself) and exits.
//! 4. If its lifeline reaches end-of-file (every copy of the write end is closed: the
//!    daemon is gone and the service manager released its descriptor store, i.e. the
//!    service was stopped, not restarted) or it gets SIGTERM/SIGHUP/SIGINT, it ends the
//!    agent's session (SIGHUP, SIGTERM, SIGKILL) and goes on as in 3.

pub mod client;
pub mod fdstore;
pub mod process;
pub mod wire;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::spawn::Program;

/// The protocol's version; a holder answers only its own.
pub const VERSION: u32 = 1;

/// What a new holder is asked to run, and where its files go.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spec {
    pub version: u32,
    pub id: String,
    pub program: Program,
    /// Where it listens for a daemon coming back.
    pub socket: PathBuf,
    /// The scrollback file, if the session keeps one (the holder drains into it).
    pub ring: Option<PathBuf>,
    /// Where it records the end when no daemon took it.
    pub exit_file: PathBuf,
    /// Whether descriptor 4 is a lifeline.
    pub lifeline: bool,
}

/// What a holder wrote when its agent ended with no daemon to tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    pub code: i32,
    /// Unix seconds.
    pub ended_at: i64,
    /// `exited` (the program ended by itself) or `stopped` (the holder ended it).
    pub reason: String,
}

/// The files of session `id` in `dir` (`<state>/sessions`).
pub struct Files {
    pub socket: PathBuf,
    pub ring: PathBuf,
    pub exit: PathBuf,
}

impl Files {
    pub fn of(dir: &Path, id: &str) -> Self {
        Self {
            socket: dir.join(format!("{id}.sock")),
            ring: dir.join(format!("{id}.ring")),
            exit: dir.join(format!("{id}.exit")),
        }
    }

    /// Removes them all (the session is forgotten).
    pub fn remove(&self) {
        for p in [&self.socket, &self.ring, &self.exit] {
            let _ = std::fs::remove_file(p);
        }
    }

    pub fn read_exit(&self) -> Option<ExitRecord> {
        serde_json::from_slice(&std::fs::read(&self.exit).ok()?).ok()
    }
}

/// A path a Unix socket can be bound or connected at: socket addresses hold ~100 bytes,
/// so a longer path is reached through the directory's descriptor (`/proc/self/fd/N/…`,
/// Linux). The guard keeps that descriptor open while the path is used.
pub fn socket_path(path: &Path) -> std::io::Result<(PathBuf, Option<std::os::fd::OwnedFd>)> {
    if path.as_os_str().len() < 100 || !cfg!(target_os = "linux") {
        return Ok((path.to_path_buf(), None));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().ok_or(std::io::ErrorKind::InvalidInput)?;
    let fd = nix::fcntl::open(
        dir,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    let short = PathBuf::from(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&fd)
    ))
    .join(name);
    Ok((short, Some(fd)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn long_socket_paths_are_reached_through_the_directory() {
        let dir = std::env::temp_dir()
            .join(format!("clown-holder-path-{}", std::process::id()))
            .join("a-rather-long-directory-name-to-go-past-the-socket-address-limit-0123456789");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("0123456789abcdef0123456789abcdef0123.sock");
        assert!(path.as_os_str().len() > 108);
        let (bind, _guard) = socket_path(&path).unwrap();
        let listener = tokio::net::UnixListener::bind(&bind).unwrap();
        assert!(path.exists());
        let (connect, _guard2) = socket_path(&path).unwrap();
        let _c = tokio::net::UnixStream::connect(&connect).await.unwrap();
        listener.accept().await.unwrap();
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }
}
