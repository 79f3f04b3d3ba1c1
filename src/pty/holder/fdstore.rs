//! The service manager's file-descriptor store (systemd's `FDSTORE=1`): where the write
//! ends of the sessions' lifelines are kept, so they stay open across a restart of the
//! daemon and close when the service is stopped. A no-op without `NOTIFY_SOCKET`.

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::sys::socket::{
    AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr, sendmsg, socket,
};

/// Whether sessions should keep lifelines in the store: the service manager says it has
/// one (`FDSTORE`, set by systemd 254 and later when `FileDescriptorStoreMax=` is; clown's
/// unit sets it for older ones) and listens for notifications.
pub fn available(env: &crate::paths::Env) -> bool {
    env.contains_key("NOTIFY_SOCKET")
        && env
            .get("FDSTORE")
            .and_then(|v| v.parse::<u32>().ok())
            .is_some_and(|n| n > 0)
}

fn send(state: &str, fd: Option<BorrowedFd<'_>>) -> std::io::Result<()> {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(());
    };
    let path = path.to_string_lossy().to_string();
    let addr = match path.strip_prefix('@') {
        Some(name) => UnixAddr::new_abstract(name.as_bytes())?,
        None => UnixAddr::new(path.as_str())?,
    };
    let sock = socket(
        AddressFamily::Unix,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let fds: Vec<i32> = fd.iter().map(|f| f.as_raw_fd()).collect();
    let cmsg: Vec<ControlMessage> = if fds.is_empty() {
        Vec::new()
    } else {
        vec![ControlMessage::ScmRights(&fds)]
    };
    let iov = [std::io::IoSlice::new(state.as_bytes())];
    sendmsg(
        sock.as_raw_fd(),
        &iov,
        &cmsg,
        MsgFlags::empty(),
        Some(&addr),
    )?;
    Ok(())
}

/// Gives `fd` to the store under `name`.
pub fn keep(name: &str, fd: &impl std::os::fd::AsFd) {
    if let Err(e) = send(&format!("FDSTORE=1\nFDNAME={name}\n"), Some(fd.as_fd())) {
        tracing::warn!("cannot keep {name} in the service manager's descriptor store: {e}");
    }
}

/// Takes `name` out of the store.
pub fn forget(name: &str) {
    let _ = send(&format!("FDSTOREREMOVE=1\nFDNAME={name}\n"), None);
}
