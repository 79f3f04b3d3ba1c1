//! Signalling a session's processes, and ending all of them.
//!
//! A session's program leads its own session and process group, so its descendants are
//! found through either: the process group (`killpg`), plus, on Linux, every process whose
//! session id is the leader's (read from `/proc`), which also reaches the jobs a shell
//! put in process groups of their own. Only a process that starts a session of its own
//! (a deliberate daemon) leaves.
//!
//! Ending is an escalation: SIGHUP (what a closing terminal sends), then SIGTERM, then
//! SIGKILL, each followed by a wait until nothing of the session is left. Stopped
//! processes get SIGCONT with the first two so they can act on them. Zombies count as
//! gone: they have ended and only wait to be reaped.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// How long processes get after SIGHUP before SIGTERM.
pub const HANGUP_GRACE: Duration = Duration::from_millis(1000);
/// How long they get after SIGTERM before SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_millis(2000);
const POLL: Duration = Duration::from_millis(20);

/// Sends `sig` to everything in the session led by `leader`.
pub fn signal_session(leader: i32, sig: Signal) {
    let _ = killpg(Pid::from_raw(leader), sig);
    for pid in members(leader) {
        let _ = kill(Pid::from_raw(pid), sig);
    }
}

/// Whether anything of the session led by `leader` still runs.
pub fn session_alive(leader: i32) -> bool {
    if cfg!(target_os = "linux") {
        !members(leader).is_empty()
    } else {
        killpg(Pid::from_raw(leader), None).is_ok()
    }
}

/// Ends the session led by `leader`: SIGHUP, SIGTERM, SIGKILL, with a grace between.
/// Returns once nothing of it is left (or SIGKILL went out and a last wait passed).
pub async fn end_session(leader: i32) {
    let steps = [
        (Signal::SIGHUP, HANGUP_GRACE),
        (Signal::SIGTERM, TERM_GRACE),
        (Signal::SIGKILL, TERM_GRACE),
    ];
    for (sig, grace) in steps {
        if !session_alive(leader) {
            return;
        }
        tracing::debug!("terminal session {leader}: sending {sig}");
        signal_session(leader, sig);
        if sig != Signal::SIGKILL {
            signal_session(leader, Signal::SIGCONT);
        }
        let deadline = Instant::now() + grace;
        while session_alive(leader) && Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
        }
    }
    if session_alive(leader) {
        tracing::warn!("terminal session {leader}: processes survive SIGKILL");
    }
}

/// The live (not zombie) processes of session `sid`, Linux only; elsewhere empty.
#[cfg(target_os = "linux")]
pub fn members(sid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| stat_session(*pid) == Some(sid))
        .collect()
}

#[cfg(not(target_os = "linux"))]
pub fn members(_sid: i32) -> Vec<i32> {
    Vec::new()
}

/// The session id of `pid` from `/proc/PID/stat`, None for zombies and vanished pids.
#[cfg(target_os = "linux")]
fn stat_session(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid pgrp session …"; comm may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    fields.nth(2)?.parse().ok()
}

/// The signals a client may send to a session's foreground process group.
pub const ALLOWED_SIGNALS: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGKILL,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGTERM,
    Signal::SIGCONT,
    Signal::SIGSTOP,
    Signal::SIGTSTP,
    Signal::SIGWINCH,
];

/// The allowed signal numbered `n` on this system.
pub fn allowed_signal(n: i64) -> Option<Signal> {
    let sig = Signal::try_from(i32::try_from(n).ok()?).ok()?;
    ALLOWED_SIGNALS.contains(&sig).then_some(sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_set() {
        assert_eq!(allowed_signal(2), Some(Signal::SIGINT));
        assert_eq!(allowed_signal(9), Some(Signal::SIGKILL));
        assert_eq!(allowed_signal(11), None, "SIGSEGV is not for clients");
        assert_eq!(allowed_signal(0), None);
        assert_eq!(allowed_signal(-2), None);
        assert_eq!(allowed_signal(1 << 40), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn own_session_has_members() {
        let sid = nix::unistd::getsid(None).unwrap().as_raw();
        assert!(members(sid).contains(&(std::process::id() as i32)));
    }
}
