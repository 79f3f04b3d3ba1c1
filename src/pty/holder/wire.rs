//! The holder's wire: frames of `[u32 big-endian length][JSON]` on a Unix stream socket,
//! a descriptor passed along with a frame (`SCM_RIGHTS`) where one is given. The
//! descriptor travels with the frame's first bytes, so the reader takes it from the
//! `recvmsg` that reads the length.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};
use serde_json::Value;
use tokio::io::Interest;
use tokio::net::UnixStream;

/// The largest frame either side accepts (the spec carries the agent's environment).
pub const MAX_FRAME: usize = 1024 * 1024;

/// Sends `msg`, with `fd` attached if given.
pub async fn send(
    stream: &UnixStream,
    msg: &Value,
    fd: Option<BorrowedFd<'_>>,
) -> std::io::Result<()> {
    let body = serde_json::to_vec(msg)?;
    if body.len() > MAX_FRAME {
        return Err(std::io::Error::other("frame too large"));
    }
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    let fds: Vec<RawFd> = fd.iter().map(|f| f.as_raw_fd()).collect();
    let mut sent = 0;
    while sent < frame.len() {
        let n = stream
            .async_io(Interest::WRITABLE, || {
                let iov = [IoSlice::new(&frame[sent..])];
                let cmsg: Vec<ControlMessage> = if sent == 0 && !fds.is_empty() {
                    vec![ControlMessage::ScmRights(&fds)]
                } else {
                    Vec::new()
                };
                sendmsg::<()>(
                    stream.as_raw_fd(),
                    &iov,
                    &cmsg,
                    MsgFlags::MSG_NOSIGNAL,
                    None,
                )
                .map_err(std::io::Error::from)
            })
            .await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        sent += n;
    }
    Ok(())
}

/// The next frame and the descriptors that came with it; None at end of stream.
pub async fn recv(stream: &UnixStream) -> std::io::Result<Option<(Value, Vec<OwnedFd>)>> {
    let mut head = [0u8; 4];
    let mut got = 0;
    let mut fds = Vec::new();
    while got < 4 {
        let n = stream
            .async_io(Interest::READABLE, || {
                let mut iov = [IoSliceMut::new(&mut head[got..])];
                let mut space = nix::cmsg_space!([RawFd; 4]);
                let msg = recvmsg::<()>(
                    stream.as_raw_fd(),
                    &mut iov,
                    Some(&mut space),
                    MsgFlags::MSG_CMSG_CLOEXEC,
                )
                .map_err(std::io::Error::from)?;
                for c in msg.cmsgs().map_err(std::io::Error::from)? {
                    if let ControlMessageOwned::ScmRights(raw) = c {
                        // SAFETY: the kernel just installed these descriptors for us.
                        fds.extend(
                            raw.into_iter()
                                .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                        );
                    }
                }
                Ok(msg.bytes)
            })
            .await?;
        if n == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            };
        }
        got += n;
    }
    let len = u32::from_be_bytes(head) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut body = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        let n = stream
            .async_io(Interest::READABLE, || {
                nix::unistd::read(stream, &mut body[filled..]).map_err(std::io::Error::from)
            })
            .await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        filled += n;
    }
    let value = serde_json::from_slice(&body)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    Ok(Some((value, fds)))
}

/// Whether the peer of `stream` runs as this process's user.
pub fn same_user(stream: &UnixStream) -> bool {
    match stream.peer_cred() {
        Ok(cred) => cred.uid() == nix::unistd::getuid().as_raw(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_and_descriptors_cross() {
        let (a, b) = UnixStream::pair().unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        send(
            &a,
            &serde_json::json!({"type": "hello", "n": 1}),
            Some(std::os::fd::AsFd::as_fd(&w)),
        )
        .await
        .unwrap();
        send(&a, &serde_json::json!({"type": "plain"}), None)
            .await
            .unwrap();
        let (v, fds) = recv(&b).await.unwrap().unwrap();
        assert_eq!(v["n"], 1);
        assert_eq!(fds.len(), 1);
        // The passed descriptor is the pipe's write end: what goes in comes out of `r`.
        nix::unistd::write(&fds[0], b"x").unwrap();
        let mut buf = [0u8; 1];
        nix::unistd::read(&r, &mut buf).unwrap();
        assert_eq!(&buf, b"x");
        let (v, fds) = recv(&b).await.unwrap().unwrap();
        assert_eq!((v["type"].as_str(), fds.len()), (Some("plain"), 0));
        assert!(same_user(&b));
        drop(a);
        assert!(recv(&b).await.unwrap().is_none());
    }
}
