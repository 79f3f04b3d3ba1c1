//! The daemon's side of a holder: starting one for a new session, attaching to one left by
//! an earlier daemon, and the connection over which it says the agent ended.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::Duration;

use serde_json::json;
use tokio::net::UnixStream;

use super::wire::{recv, send};
use super::{Spec, VERSION, socket_path};

/// How long a holder may take to start its agent, or to answer an attach.
const ANSWER: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum HolderError {
    #[error("cannot start the session holder: {0}")]
    Start(std::io::Error),
    #[error("{0}")]
    Refused(String),
    #[error("the session holder did not answer: {0}")]
    Protocol(String),
}

/// A holder answering: its connection, the terminal's master side, the agent's pid.
pub struct Held {
    pub conn: UnixStream,
    pub master: OwnedFd,
    pub pid: i32,
    pub holder_pid: i32,
    /// (Attach only) the hook token the agent was started with.
    pub hook_token: Option<String>,
}

/// Starts `clown session-holder` (the binary `exe`) for `spec`; `lifeline` is the read
/// end of the session's lifeline, if it has one.
pub async fn spawn(
    exe: &Path,
    spec: &Spec,
    lifeline: Option<OwnedFd>,
) -> Result<Held, HolderError> {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().map_err(HolderError::Start)?;
    let theirs_fd: RawFd = theirs.as_raw_fd();
    let lifeline_fd: Option<RawFd> = lifeline.as_ref().map(AsRawFd::as_raw_fd);
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg("session-holder")
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(false);
    let umask = crate::paths::user_umask();
    // SAFETY: between fork and exec only async-signal-safe calls (setsid, umask, dup2,
    // close_range/fcntl); nothing is allocated.
    unsafe {
        cmd.pre_exec(move || {
            nix::libc::setsid();
            if let Some(mask) = umask {
                nix::libc::umask(mask as nix::libc::mode_t);
            }
            // Out of the way first (either may sit at 3 or 4), then in place: dup2 leaves
            // the copies without close-on-exec.
            let high = |fd: RawFd| nix::libc::fcntl(fd, nix::libc::F_DUPFD_CLOEXEC, 10);
            let socket = high(theirs_fd);
            let line = lifeline_fd.map(high);
            if socket < 0 || line.is_some_and(|l| l < 0) || nix::libc::dup2(socket, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            match line {
                Some(l) if nix::libc::dup2(l, 4) < 0 => return Err(std::io::Error::last_os_error()),
                Some(_) => crate::pty::spawn::cloexec_from(5),
                None => crate::pty::spawn::cloexec_from(4),
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(HolderError::Start)?;
    drop(theirs);
    drop(lifeline);
    // The holder is our child until we exit: reap it when it ends.
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    ours.set_nonblocking(true).map_err(HolderError::Start)?;
    let conn = UnixStream::from_std(ours).map_err(HolderError::Start)?;
    let spec = serde_json::to_value(spec).map_err(|e| HolderError::Protocol(e.to_string()))?;
    let mut spec = spec;
    spec["type"] = json!("spec");
    send(&conn, &spec, None)
        .await
        .map_err(|e| HolderError::Protocol(e.to_string()))?;
    answer(conn, "started").await
}

/// Attaches to the holder listening at `socket` (left by an earlier daemon).
pub async fn attach(socket: &Path) -> Result<Held, HolderError> {
    let conn = {
        let (path, _guard) = socket_path(socket).map_err(HolderError::Start)?;
        tokio::time::timeout(ANSWER, UnixStream::connect(&path))
            .await
            .map_err(|_| HolderError::Protocol("no answer".into()))?
            .map_err(|e| HolderError::Protocol(e.to_string()))?
    };
    if !super::wire::same_user(&conn) {
        return Err(HolderError::Refused(
            "the holder's socket belongs to another user".into(),
        ));
    }
    send(&conn, &json!({"type": "attach", "version": VERSION}), None)
        .await
        .map_err(|e| HolderError::Protocol(e.to_string()))?;
    answer(conn, "hello").await
}

async fn answer(conn: UnixStream, expected: &str) -> Result<Held, HolderError> {
    let reply = tokio::time::timeout(ANSWER, recv(&conn))
        .await
        .map_err(|_| HolderError::Protocol(format!("no answer within {ANSWER:?}")))?
        .map_err(|e| HolderError::Protocol(e.to_string()))?;
    let Some((v, mut fds)) = reply else {
        return Err(HolderError::Protocol("it closed the connection".into()));
    };
    if v["type"] == "failed" {
        return Err(HolderError::Refused(
            v["message"].as_str().unwrap_or("it failed").to_string(),
        ));
    }
    let number = |k: &str| v[k].as_i64().and_then(|n| i32::try_from(n).ok());
    match (
        v["type"].as_str(),
        number("pid"),
        number("holder_pid"),
        fds.pop(),
    ) {
        (Some(t), Some(pid), Some(holder_pid), Some(master)) if t == expected => Ok(Held {
            conn,
            master,
            pid,
            holder_pid,
            hook_token: v["hook_token"].as_str().map(String::from),
        }),
        _ => Err(HolderError::Protocol(format!("unexpected answer {v}"))),
    }
}

/// Waits for the holder to say the agent ended: its code, or None when the holder is gone
/// (the connection closed without it).
pub async fn exited(conn: &UnixStream) -> Option<i32> {
    loop {
        match recv(conn).await {
            Ok(Some((v, _))) if v["type"] == "exited" => {
                return v["code"].as_i64().and_then(|c| i32::try_from(c).ok());
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return None,
        }
    }
}

/// Tells the holder its end was taken: it exits.
pub async fn release(conn: &UnixStream) {
    let _ = send(conn, &json!({"type": "release"}), None).await;
}
