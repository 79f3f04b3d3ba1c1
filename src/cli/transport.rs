//! How the CLI reaches its daemon: the Unix socket in the state directory when it is
//! there and served by a process of this user, else TCP. Over TCP to a loopback address
//! the owner of the listening socket is checked (Linux: `/proc/net/tcp*`) before anything
//! secret is sent: another local user who holds the port gets neither the token nor a key.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use anyhow::{Context as _, bail};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

pub enum Transport {
    Unix(PathBuf),
    /// `host:port` of the daemon's HTTP address.
    Tcp(String),
}

/// A connection to the daemon, whichever way it goes.
pub enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

fn my_uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

impl Transport {
    /// The Unix socket at `socket` when a process of this user serves it (and the user
    /// did not name an address), else TCP to `base`.
    pub async fn choose(socket: &Path, base: &str, explicit: bool) -> Self {
        let tcp = Self::Tcp(base.trim_start_matches("http://").to_string());
        if explicit {
            return tcp;
        }
        match UnixStream::connect(socket).await {
            Ok(s) if s.peer_cred().is_ok_and(|c| c.uid() == my_uid()) => {
                Self::Unix(socket.to_path_buf())
            }
            _ => tcp,
        }
    }

    pub async fn connect(&self) -> anyhow::Result<Stream> {
        match self {
            Self::Unix(path) => {
                Ok(Stream::Unix(UnixStream::connect(path).await.with_context(
                    || format!("cannot connect to {}", path.display()),
                )?))
            }
            Self::Tcp(addr) => {
                let s = TcpStream::connect(addr.as_str())
                    .await
                    .with_context(|| format!("cannot connect to {addr}"))?;
                let _ = s.set_nodelay(true);
                Ok(Stream::Tcp(s))
            }
        }
    }

    /// Refuses a loopback TCP address whose listening socket belongs to another user.
    pub fn check_owner(&self) -> anyhow::Result<()> {
        let Self::Tcp(addr) = self else {
            return Ok(());
        };
        let Ok(target) = addr.parse::<SocketAddr>() else {
            return Ok(());
        };
        if !target.ip().is_loopback() {
            return Ok(());
        }
        let me = my_uid();
        if let Some(owner) = listener_owners(target).into_iter().find(|&uid| uid != me) {
            bail!(
                "the process listening on {addr} belongs to uid {owner}, not to you (uid {me}); \
                 refusing to send it your token. Stop it, or run your daemon on another port \
                 ('listen' in the config, or --url)"
            );
        }
        Ok(())
    }
}

/// The uids owning listening TCP sockets that accept connections to `target` (its own
/// address or a wildcard, on its port), read from `/proc/net/tcp` and `/proc/net/tcp6`.
/// Empty where `/proc` does not say (other systems).
fn listener_owners(target: SocketAddr) -> Vec<u32> {
    let mut owners = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(uid)) = (cols.get(1), cols.get(3), cols.get(7))
            else {
                continue;
            };
            if *state != "0A" {
                continue; // not LISTEN
            }
            let Some((ip, port)) = parse_proc_addr(local) else {
                continue;
            };
            let accepts = port == target.port()
                && (ip == target.ip() || ip.is_unspecified() || maps_to(ip, target.ip()));
            if accepts && let Ok(uid) = uid.parse() {
                owners.push(uid);
            }
        }
    }
    owners
}

/// An IPv4-mapped IPv6 listener address that is `v4`.
fn maps_to(ip: IpAddr, v4: IpAddr) -> bool {
    match (ip, v4) {
        (IpAddr::V6(v6), IpAddr::V4(v4)) => v6.to_ipv4_mapped() == Some(v4),
        _ => false,
    }
}

/// `0100007F:223D` or a 32-digit IPv6 form: addresses are 32-bit words in host order.
fn parse_proc_addr(s: &str) -> Option<(IpAddr, u16)> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words: Vec<u32> = (0..ip.len() / 8)
        .map(|i| u32::from_str_radix(&ip[i * 8..i * 8 + 8], 16).map(u32::from_be))
        .collect::<Result<_, _>>()
        .ok()?;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
    let ip = match bytes.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?),
        16 => IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?),
        _ => return None,
    };
    Some((ip, port))
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_addresses() {
        assert_eq!(
            parse_proc_addr("0100007F:223D"),
            Some(("127.0.0.1".parse().unwrap(), 8765))
        );
        assert_eq!(
            parse_proc_addr("00000000000000000000000001000000:0050"),
            Some(("::1".parse().unwrap(), 80))
        );
        let mapped = parse_proc_addr("0000000000000000FFFF00000100007F:0050")
            .unwrap()
            .0;
        assert!(maps_to(mapped, "127.0.0.1".parse().unwrap()));
        assert_eq!(parse_proc_addr("zz:1"), None);
    }

    #[test]
    fn our_own_listener_is_ours() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let owners = listener_owners(addr);
        if std::path::Path::new("/proc/net/tcp").exists() {
            assert_eq!(owners, vec![my_uid()]);
        }
    }
}
