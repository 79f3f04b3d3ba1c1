//! Starting a program in a new pseudo-terminal.
//!
//! The master side is opened close-on-exec and non-blocking (the daemon reads it through
//! the async runtime); the slave side becomes the child's standard streams and its
//! controlling terminal: the child starts a new session (`setsid`) and claims the terminal
//! (`TIOCSCTTY`), so it is the leader of its own session and process group, and job
//! control, `^C` and hangups behave as in any terminal. Every other descriptor the daemon
//! holds is marked close-on-exec in the child before `exec` (inherited service-manager
//! sockets are not marked so), and the environment is exactly the one given.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
use nix::pty::{PtyMaster, Winsize, grantpt, posix_openpt, unlockpt};
use nix::sys::stat::Mode;

use super::PtyError;

nix::ioctl_write_ptr_bad!(set_winsize, nix::libc::TIOCSWINSZ, Winsize);

/// What to run: an absolute program path, its arguments, the complete environment.
/// (Serialized only to hand it to the session's holder, over its private socket.)
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Program {
    pub path: PathBuf,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
    pub cols: u16,
    pub rows: u16,
    /// Secrets the program reads from a descriptor: (variable, value). Each value goes
    /// into a pipe whose reading end the child gets as descriptor 3, 4, …, named by the
    /// variable; it never appears in the environment.
    pub secrets: Vec<(String, String)>,
}

/// The first descriptor number secrets are handed over on.
pub const FIRST_SECRET_FD: i32 = 3;

impl std::fmt::Debug for Program {
    // The environment carries the profile's credential: names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("path", &self.path)
            .field("args", &self.args)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("cwd", &self.cwd)
            .field(
                "secrets",
                &self.secrets.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A started child: the master side of its terminal and the process to wait for.
pub struct Spawned {
    pub master: OwnedFd,
    pub child: tokio::process::Child,
    pub pid: i32,
}

/// Opens a terminal of `cols`×`rows` and starts `program` on it.
pub fn spawn(program: &Program) -> Result<Spawned, PtyError> {
    let (master, slave) = open_pty(program.cols, program.rows)?;
    let mut cmd = tokio::process::Command::new(&program.path);
    cmd.args(&program.args)
        .env_clear()
        .envs(&program.env)
        .current_dir(&program.cwd)
        .kill_on_drop(false);
    let stdio = || {
        slave
            .try_clone()
            .map(std::process::Stdio::from)
            .map_err(|source| PtyError::Open {
                action: "duplicate the terminal",
                source,
            })
    };
    cmd.stdin(stdio()?).stdout(stdio()?).stderr(stdio()?);
    let pipes = secret_pipes(&program.secrets)?;
    for (i, (var, _)) in program.secrets.iter().enumerate() {
        cmd.env(var, (FIRST_SECRET_FD + i as i32).to_string());
    }
    let sources: Vec<RawFd> = pipes.iter().map(AsRawFd::as_raw_fd).collect();
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe
    // system calls (setsid, ioctl, close_range/fcntl, dup2); it allocates nothing.
    let umask = crate::paths::user_umask();
    unsafe {
        cmd.pre_exec(move || {
            // The daemon's own files are private (umask 0077); the agent's are as the
            // user's umask says.
            if let Some(mask) = umask {
                nix::libc::umask(mask as nix::libc::mode_t);
            }
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            if nix::libc::ioctl(0, nix::libc::TIOCSCTTY as _, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            cloexec_from(3);
            hand_over(&sources, FIRST_SECRET_FD)
        });
    }
    let child = cmd.spawn().map_err(|source| PtyError::Spawn {
        program: program.path.clone(),
        source,
    })?;
    // Our copies of the slave close here, so the master sees end-of-file once the child
    // and its descendants have closed theirs; the child has its own copies of the pipes.
    drop(slave);
    drop(pipes);
    let pid = child
        .id()
        .and_then(|p| i32::try_from(p).ok())
        .ok_or_else(|| PtyError::Spawn {
            program: program.path.clone(),
            source: std::io::Error::other("the child has no pid"),
        })?;
    Ok(Spawned { master, child, pid })
}

/// One pipe per secret, holding the value and a newline with the writing end already
/// closed (a token is far smaller than a pipe's buffer), so the reader sees the value
/// and then end-of-file. Returns the reading ends (close-on-exec).
pub fn secret_pipes(secrets: &[(String, String)]) -> Result<Vec<OwnedFd>, PtyError> {
    use std::io::Write;
    let fail = |source: std::io::Error| PtyError::Open {
        action: "hand a secret over on a pipe",
        source,
    };
    let mut out = Vec::new();
    for (_, value) in secrets {
        let (read, write) = pipe().map_err(|e| fail(e.into()))?;
        let mut w = std::fs::File::from(write);
        w.write_all(value.as_bytes())
            .and_then(|_| w.write_all(b"\n"))
            .map_err(fail)?;
        out.push(read);
    }
    Ok(out)
}

/// A close-on-exec pipe, atomically where the system can.
#[cfg(target_os = "linux")]
fn pipe() -> nix::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC)
}

#[cfg(not(target_os = "linux"))]
fn pipe() -> nix::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = nix::unistd::pipe()?;
    set_cloexec(r.as_raw_fd())?;
    set_cloexec(w.as_raw_fd())?;
    Ok((r, w))
}

/// In the forked child: puts `sources` on descriptors `first`, `first + 1`, … (inherited
/// across exec). Each source first moves above every target, so no target overwrites a
/// source still to be moved. Async-signal-safe; allocates nothing.
pub fn hand_over(sources: &[RawFd], first: i32) -> std::io::Result<()> {
    const HIGH: i32 = 256;
    let mut moved = [0 as RawFd; 16];
    if sources.len() > moved.len() {
        return Err(std::io::Error::other("too many secrets"));
    }
    for (i, src) in sources.iter().enumerate() {
        // SAFETY: fcntl(F_DUPFD_CLOEXEC) on a descriptor this process holds.
        let fd = unsafe { nix::libc::fcntl(*src, nix::libc::F_DUPFD_CLOEXEC, HIGH) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        moved[i] = fd;
    }
    for (i, fd) in moved[..sources.len()].iter().enumerate() {
        // SAFETY: dup2 onto a number of our choosing; the new descriptor has no
        // close-on-exec flag, so the program inherits it.
        if unsafe { nix::libc::dup2(*fd, first + i as i32) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A new terminal pair: the master (non-blocking, close-on-exec) and the slave.
fn open_pty(cols: u16, rows: u16) -> Result<(OwnedFd, OwnedFd), PtyError> {
    let open = |action| {
        move |e: nix::Error| PtyError::Open {
            action,
            source: e.into(),
        }
    };
    let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | cloexec_flag();
    let master: PtyMaster = posix_openpt(flags).map_err(open("open /dev/ptmx"))?;
    set_cloexec(master.as_raw_fd()).map_err(open("mark the terminal close-on-exec"))?;
    grantpt(&master).map_err(open("grant the terminal"))?;
    unlockpt(&master).map_err(open("unlock the terminal"))?;
    let name = slave_name(&master).map_err(open("name the terminal"))?;
    let slave = nix::fcntl::open(
        Path::new(&name),
        OFlag::O_RDWR | OFlag::O_NOCTTY | cloexec_flag(),
        Mode::empty(),
    )
    .map_err(open("open the terminal's slave side"))?;
    set_cloexec(slave.as_raw_fd()).map_err(open("mark the terminal close-on-exec"))?;
    let master = OwnedFd::from(master);
    resize(&master, cols, rows)?;
    let flags = fcntl(&master, FcntlArg::F_GETFL).map_err(open("read the terminal flags"))?;
    fcntl(
        &master,
        FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
    )
    .map_err(open("make the terminal non-blocking"))?;
    Ok((master, slave))
}

/// Sets the terminal size; the kernel tells the foreground process group (SIGWINCH).
pub fn resize(master: &impl AsRawFd, cols: u16, rows: u16) -> Result<(), PtyError> {
    let size = Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one `winsize` from the pointer, which outlives the call.
    unsafe { set_winsize(master.as_raw_fd(), &size) }
        .map(|_| ())
        .map_err(|e| PtyError::Open {
            action: "set the terminal size",
            source: e.into(),
        })
}

#[cfg(target_os = "linux")]
fn cloexec_flag() -> OFlag {
    OFlag::O_CLOEXEC
}

#[cfg(not(target_os = "linux"))]
fn cloexec_flag() -> OFlag {
    // posix_openpt refuses O_CLOEXEC here; it is set right after opening instead.
    OFlag::empty()
}

fn set_cloexec(fd: RawFd) -> nix::Result<()> {
    // SAFETY: `fd` was opened just above and is still owned by the caller.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map(|_| ())
}

#[cfg(target_os = "linux")]
fn slave_name(master: &PtyMaster) -> nix::Result<String> {
    nix::pty::ptsname_r(master)
}

#[cfg(not(target_os = "linux"))]
fn slave_name(master: &PtyMaster) -> nix::Result<String> {
    // SAFETY: ptsname's static buffer is copied out at once; terminals are only opened
    // from the session manager, one at a time.
    unsafe { nix::pty::ptsname(master) }
}

/// Marks every descriptor from `first` up close-on-exec (in the forked child only).
pub(crate) fn cloexec_from(first: u32) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes descriptor flags.
        let rc = unsafe {
            nix::libc::syscall(
                nix::libc::SYS_close_range,
                first,
                u32::MAX,
                nix::libc::CLOSE_RANGE_CLOEXEC,
            )
        };
        if rc == 0 {
            return;
        }
    }
    // Older kernels and other systems: walk the descriptor table (bounded).
    // SAFETY: getrlimit/fcntl are async-signal-safe and touch no shared memory.
    let mut lim = nix::libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    let max = if unsafe { nix::libc::getrlimit(nix::libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur.min(65_536) as i32
    } else {
        1024
    };
    for fd in first as i32..max {
        unsafe {
            nix::libc::fcntl(fd, nix::libc::F_SETFD, nix::libc::FD_CLOEXEC);
        }
    }
}
