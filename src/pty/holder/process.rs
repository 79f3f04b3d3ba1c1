//! The holder process itself (`clown session-holder`; see [`super`] for its life). A
//! current-thread runtime: it waits at once for its agent, for daemons connecting, for
//! the connected daemon's messages, for its lifeline and for signals.

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::rc::Rc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::unix::AsyncFd;
use tokio::net::{UnixListener, UnixStream};
use tokio::signal::unix::{SignalKind, signal};

use super::wire::{recv, same_user, send};
use super::{ExitRecord, Spec, VERSION, socket_path};
use crate::pty::ring::Ring;
use crate::pty::{kill, spawn};

/// How long a connected daemon has to release the holder after the agent ended.
const RELEASE_WAIT: Duration = Duration::from_secs(60);
/// How long output may still come after the agent ended, with no daemon to read it.
const DRAIN: Duration = Duration::from_secs(2);

fn log(id: &str, what: &str) {
    eprintln!("clown session-holder {}: {what}", id.get(..8).unwrap_or(id));
}

/// Runs the holder on descriptor 3 (and 4); returns the process's exit code.
pub fn main() -> i32 {
    crate::paths::private_umask();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("clown session-holder: cannot start: {e}");
            return 1;
        }
    };
    runtime.block_on(async {
        match run().await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("clown session-holder: {e}");
                1
            }
        }
    })
}

async fn run() -> Result<i32, String> {
    // SAFETY: descriptor 3 is the socket the daemon started us with, ours alone.
    let first = unsafe { std::os::unix::net::UnixStream::from_raw_fd(3) };
    first.set_nonblocking(true).map_err(|e| e.to_string())?;
    let first = UnixStream::from_std(first).map_err(|e| e.to_string())?;
    let (value, _) = recv(&first)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the daemon went away before saying what to run")?;
    let spec: Spec = serde_json::from_value(value).map_err(|e| format!("bad spec: {e}"))?;
    if spec.version != VERSION {
        let _ = send(
            &first,
            &json!({"type": "failed", "message": "protocol version mismatch"}),
            None,
        )
        .await;
        return Ok(1);
    }
    let id = spec.id.clone();
    let lifeline = if spec.lifeline {
        // SAFETY: descriptor 4 is the lifeline's read end the daemon passed, ours alone.
        let fd = unsafe { OwnedFd::from_raw_fd(4) };
        set_nonblocking(&fd);
        // SAFETY: the OwnedFd is moved into the AsyncFd, which alone owns and closes it.
        unsafe { AsyncFd::register(fd) }.ok().map(Rc::new)
    } else {
        None
    };
    let spawned = match spawn::spawn(&spec.program) {
        Ok(s) => s,
        Err(e) => {
            let _ = send(
                &first,
                &json!({"type": "failed", "message": e.to_string()}),
                None,
            )
            .await;
            return Ok(1);
        }
    };
    let pid = spawned.pid;
    let master = spawned.master;
    let mut child = spawned.child;
    let _ = std::fs::remove_file(&spec.socket);
    let listener = {
        let (path, _guard) = socket_path(&spec.socket).map_err(|e| e.to_string())?;
        UnixListener::bind(&path)
            .map_err(|e| format!("cannot listen on {}: {e}", spec.socket.display()))?
    };
    let started = json!({"type": "started", "pid": pid, "holder_pid": std::process::id()});
    let mut conn = match send(&first, &started, Some(master.as_fd())).await {
        Ok(()) => Some(Rc::new(first)),
        Err(e) => {
            log(
                &id,
                &format!("the daemon went away at the start ({e}); waiting for one"),
            );
            None
        }
    };
    let hook_token = spec
        .program
        .env
        .get("CLOWN_HOOK_TOKEN")
        .cloned()
        .unwrap_or_default();
    let mut stopping = false;
    let mut service_stopped = false;
    let mut lifeline = lifeline;
    let (mut term, mut hup, mut int) = (
        signal(SignalKind::terminate()).map_err(|e| e.to_string())?,
        signal(SignalKind::hangup()).map_err(|e| e.to_string())?,
        signal(SignalKind::interrupt()).map_err(|e| e.to_string())?,
    );
    let code = loop {
        tokio::select! {
            status = child.wait() => {
                break match status {
                    Ok(s) => crate::pty::session::exit_code(&s),
                    Err(_) => 1,
                };
            }
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                if !same_user(&stream) {
                    continue;
                }
                let asked = tokio::time::timeout(Duration::from_secs(5), recv(&stream)).await;
                let attach = matches!(&asked, Ok(Ok(Some((v, _)))) if v["type"] == "attach" && v["version"] == VERSION);
                if !attach {
                    let _ = send(&stream, &json!({"type": "failed", "message": "expected attach"}), None).await;
                    continue;
                }
                let hello = json!({"type": "hello", "pid": pid, "holder_pid": std::process::id(), "hook_token": hook_token});
                if send(&stream, &hello, Some(master.as_fd())).await.is_ok() {
                    // A newer daemon takes over; an older one still connected is gone.
                    conn = Some(Rc::new(stream));
                }
            }
            msg = next(conn.clone()) => {
                if msg.is_none() {
                    conn = None;
                }
            }
            _ = lost(lifeline.clone()), if lifeline.is_some() && !stopping => {
                log(&id, "the service stopped: ending the session");
                lifeline = None;
                stopping = true;
                service_stopped = true;
                tokio::spawn(kill::end_session(pid));
            }
            _ = term.recv(), if !stopping => { stopping = true; tokio::spawn(kill::end_session(pid)); }
            _ = hup.recv(), if !stopping => { stopping = true; tokio::spawn(kill::end_session(pid)); }
            _ = int.recv(), if !stopping => { stopping = true; tokio::spawn(kill::end_session(pid)); }
        }
    };
    if let Some(c) = &conn
        && send(c, &json!({"type": "exited", "code": code}), None)
            .await
            .is_ok()
    {
        let released = tokio::time::timeout(RELEASE_WAIT, async {
            while let Ok(Some((v, _))) = recv(c).await {
                if v["type"] == "release" {
                    return true;
                }
            }
            false
        })
        .await;
        if released == Ok(true) {
            drop(listener);
            let _ = std::fs::remove_file(&spec.socket);
            return Ok(0);
        }
    }
    // Nobody took the end: close the door, finish the session, keep its output and code.
    drop(listener);
    let _ = std::fs::remove_file(&spec.socket);
    kill::end_session(pid).await;
    if let Some(ring) = &spec.ring {
        drain(&master, ring).await;
    }
    let record = ExitRecord {
        code,
        ended_at: jiff::Timestamp::now().as_second(),
        reason: if stopping { "stopped" } else { "exited" }.into(),
    };
    let text = serde_json::to_vec(&record).unwrap_or_default();
    if let Err(e) = crate::paths::write_private_file(&spec.exit_file, &text) {
        log(&id, &format!("cannot record the exit code {code}: {e}"));
    }
    if service_stopped {
        sweep_service().await;
    }
    Ok(0)
}

/// After the service stopped (not restarted): ends what is left of the service's processes
/// besides the session holders — descendants of an agent that left its session
/// (`setsid`) — as the service manager would have, had the unit not told it to leave them
/// for a restart (`KillMode=process`). Only in clown's own service cgroup.
#[cfg(target_os = "linux")]
async fn sweep_service() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let Ok(own) = std::fs::read_to_string("/proc/self/cgroup") else {
        return;
    };
    let Some(path) = own.lines().find_map(|l| l.strip_prefix("0::")) else {
        return;
    };
    let unit = path.rsplit('/').next().unwrap_or_default();
    if !(unit.starts_with("clown") && unit.ends_with(".service")) {
        return;
    }
    // The unified hierarchy, at /sys/fs/cgroup or (hybrid layout) /sys/fs/cgroup/unified.
    let Some(procs) = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .iter()
        .map(|base| format!("{base}{path}/cgroup.procs"))
        .find(|p| std::path::Path::new(p).exists())
    else {
        return;
    };
    let me = std::process::id() as i32;
    let others = || -> Vec<i32> {
        std::fs::read_to_string(&procs)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse::<i32>().ok())
            .filter(|&p| p != me)
            .filter(|p| {
                let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
                // Holders end their own; a daemon started again meanwhile is the unit's.
                !cmd.split(|&b| b == 0)
                    .any(|a| a == b"session-holder" || a == b"daemon")
            })
            .collect()
    };
    for (sig, then) in [(Signal::SIGTERM, 500), (Signal::SIGKILL, 0)] {
        let left = others();
        if left.is_empty() {
            return;
        }
        for p in left {
            let _ = kill(Pid::from_raw(p), sig);
        }
        tokio::time::sleep(Duration::from_millis(then)).await;
    }
}

#[cfg(not(target_os = "linux"))]
async fn sweep_service() {}

/// The next message on the daemon's connection; None when it is gone (never resolves
/// without one).
async fn next(conn: Option<Rc<UnixStream>>) -> Option<Value> {
    match conn {
        Some(c) => recv(&c).await.ok().flatten().map(|(v, _)| v),
        None => std::future::pending().await,
    }
}

/// Resolves when the lifeline reads end-of-file.
async fn lost(lifeline: Option<Rc<AsyncFd<OwnedFd>>>) {
    let Some(fd) = lifeline else {
        return std::future::pending().await;
    };
    let mut buf = [0u8; 64];
    loop {
        let Ok(mut guard) = fd.readable().await else {
            return;
        };
        match guard.try_io(|f| nix::unistd::read(f.get_ref(), &mut buf).map_err(Into::into)) {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(_)) | Err(_) => {}
        }
    }
}

fn set_nonblocking(fd: &OwnedFd) {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    if let Ok(flags) = fcntl(fd, FcntlArg::F_GETFL) {
        let _ = fcntl(
            fd,
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
        );
    }
}

/// Reads what is left on the terminal into the scrollback file, until the terminal is
/// closed on the other side or [`DRAIN`] has passed.
async fn drain(master: &OwnedFd, ring: &std::path::Path) {
    let mut ring = match Ring::open(ring) {
        Ok(r) => r,
        Err(_) => return,
    };
    let Ok(dup) = master.try_clone() else {
        return;
    };
    // SAFETY: the duplicate is moved into the AsyncFd, which alone owns and closes it.
    let Ok(fd) = (unsafe { AsyncFd::register(dup) }) else {
        return;
    };
    let mut buf = vec![0u8; 64 * 1024];
    let _ = tokio::time::timeout(DRAIN, async {
        loop {
            let Ok(mut guard) = fd.readable().await else {
                return;
            };
            match guard.try_io(|f| nix::unistd::read(f.get_ref(), &mut buf).map_err(Into::into)) {
                Ok(Ok(0)) | Ok(Err(_)) => return,
                Ok(Ok(n)) => ring.push(&buf[..n]),
                Err(_would_block) => {}
            }
        }
    })
    .await;
}
