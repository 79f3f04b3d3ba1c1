//! Where the listening sockets come from: the service manager, or our own bind.
//!
//! systemd passes sockets with `LISTEN_FDS`/`LISTEN_PID`; launchd hands them out through
//! `launch_activate_socket("Listeners")`; otherwise we bind the configured addresses.
//! Among systemd's descriptors may also be what the daemon kept in the service's
//! descriptor store before a restart (named `clown-session-<id>` in `LISTEN_FDNAMES`):
//! those are set aside in [`Listeners::stored`].

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::Path;

pub use crate::app::Activation;

pub struct Listeners {
    pub activation: Activation,
    pub sockets: Vec<TcpListener>,
    /// Unix sockets (the CLI's private way in): inherited, or bound by [`Listeners::bind_unix`].
    pub unix: Vec<UnixListener>,
    /// Descriptors the service manager kept for us across a restart, by name.
    pub stored: HashMap<String, OwnedFd>,
}

#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    #[error("cannot use the socket passed by systemd (fd {index}): {source}")]
    Inherited {
        index: usize,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}{}", bind_hint(.source))]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("launchd socket activation failed: {0}")]
    Launchd(String),
}

/// What to do about a failed bind.
fn bind_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            "; another program holds it (a clown daemon already running? 'clown status' says). \
             Stop it, or listen elsewhere: --listen 127.0.0.1:PORT or 'listen' in the config"
        }
        std::io::ErrorKind::PermissionDenied => {
            "; ports below 1024 need privileges: choose a port above 1024"
        }
        std::io::ErrorKind::AddrNotAvailable => {
            "; that address is not one of this machine's: use 127.0.0.1"
        }
        _ => "",
    }
}

impl Listeners {
    /// Inherited sockets when there are any, else binds `addrs`.
    pub fn acquire(addrs: &[SocketAddr]) -> Result<Self, ActivationError> {
        let (systemd, stored) = Self::from_systemd()?;
        let mut listeners = match systemd {
            Some(l) => l,
            None => match launchd::sockets()? {
                Some(l) => l,
                None => Self::bind(addrs)?,
            },
        };
        listeners.stored = stored;
        Ok(listeners)
    }

    pub fn bind(addrs: &[SocketAddr]) -> Result<Self, ActivationError> {
        let sockets = addrs
            .iter()
            .map(|&addr| {
                let l = TcpListener::bind(addr)
                    .map_err(|source| ActivationError::Bind { addr, source })?;
                l.set_nonblocking(true)
                    .map_err(|source| ActivationError::Bind { addr, source })?;
                Ok(l)
            })
            .collect::<Result<_, ActivationError>>()?;
        Ok(Self {
            activation: Activation::Bound,
            sockets,
            unix: Vec::new(),
            stored: HashMap::new(),
        })
    }

    /// Binds the Unix socket at `path` when none was inherited. A live daemon already
    /// answering there keeps it (nothing is bound); a stale file is replaced. The
    /// socket is 0600 in a directory that is 0700.
    pub fn bind_unix(&mut self, path: &Path) -> std::io::Result<bool> {
        use std::os::unix::fs::PermissionsExt;
        if !self.unix.is_empty() {
            return Ok(false);
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Ok(false);
        }
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let l = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        l.set_nonblocking(true)?;
        self.unix.push(l);
        Ok(true)
    }

    #[allow(clippy::type_complexity)]
    fn from_systemd() -> Result<(Option<Self>, HashMap<String, OwnedFd>), ActivationError> {
        let names: Vec<String> = std::env::var("LISTEN_FDNAMES")
            .map(|v| v.split(':').map(String::from).collect())
            .unwrap_or_default();
        let mut fds = listenfd::ListenFd::from_env();
        let mut stored = HashMap::new();
        if fds.len() == 0 {
            return Ok((None, stored));
        }
        let mut sockets = Vec::new();
        let mut unix = Vec::new();
        for index in 0..fds.len() {
            let inherited = |source| ActivationError::Inherited { index, source };
            if let Some(name) = names.get(index).filter(|n| n.starts_with("clown-session-")) {
                if let Ok(Some(raw)) = fds.take_raw_fd(index) {
                    // SAFETY: systemd passed this descriptor to us; nothing else owns it.
                    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
                    let _ = nix::fcntl::fcntl(
                        &fd,
                        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
                    );
                    stored.insert(name.clone(), fd);
                }
                continue;
            }
            if let Ok(Some(l)) = fds.take_tcp_listener(index) {
                l.set_nonblocking(true).map_err(inherited)?;
                sockets.push(l);
            } else if let Some(l) = fds.take_unix_listener(index).map_err(inherited)? {
                l.set_nonblocking(true).map_err(inherited)?;
                unix.push(l);
            }
        }
        if sockets.is_empty() {
            return Ok((None, stored));
        }
        Ok((
            Some(Self {
                activation: Activation::Systemd,
                sockets,
                unix,
                stored: HashMap::new(),
            }),
            stored,
        ))
    }

    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.sockets
            .iter()
            .filter_map(|s| s.local_addr().ok())
            .collect()
    }
}

#[cfg(target_os = "macos")]
mod launchd {
    use super::*;
    use std::ffi::CString;
    use std::os::fd::FromRawFd;
    use std::os::raw::{c_char, c_int};

    unsafe extern "C" {
        fn launch_activate_socket(
            name: *const c_char,
            fds: *mut *mut c_int,
            cnt: *mut usize,
        ) -> c_int;
    }

    unsafe extern "C" {
        fn free(ptr: *mut std::ffi::c_void);
    }

    /// Sockets launchd created for the `Listeners` entry of our plist, if any.
    pub fn sockets() -> Result<Option<Listeners>, ActivationError> {
        let name =
            CString::new("Listeners").map_err(|e| ActivationError::Launchd(e.to_string()))?;
        let mut fds: *mut c_int = std::ptr::null_mut();
        let mut cnt: usize = 0;
        // SAFETY: launchd fills `fds` with a malloc'd array of `cnt` descriptors we own.
        let rc = unsafe { launch_activate_socket(name.as_ptr(), &mut fds, &mut cnt) };
        // ESRCH (not managed by launchd) and ENOENT (no such socket) mean "not activated".
        if rc == libc_esrch() || rc == libc_enoent() {
            return Ok(None);
        }
        if rc != 0 {
            return Err(ActivationError::Launchd(
                std::io::Error::from_raw_os_error(rc).to_string(),
            ));
        }
        let mut sockets = Vec::with_capacity(cnt);
        for i in 0..cnt {
            // SAFETY: i < cnt, and each descriptor is a listening socket we now own.
            let l = unsafe { TcpListener::from_raw_fd(*fds.add(i)) };
            l.set_nonblocking(true)
                .map_err(|e| ActivationError::Launchd(e.to_string()))?;
            sockets.push(l);
        }
        // SAFETY: the array was allocated by launchd with malloc.
        unsafe { free(fds.cast()) };
        Ok(Some(Listeners {
            activation: Activation::Launchd,
            sockets,
            unix: Vec::new(),
            stored: Default::default(),
        }))
    }

    fn libc_esrch() -> c_int {
        3
    }

    fn libc_enoent() -> c_int {
        2
    }
}

#[cfg(not(target_os = "macos"))]
mod launchd {
    use super::*;

    pub fn sockets() -> Result<Option<Listeners>, ActivationError> {
        Ok(None)
    }
}
