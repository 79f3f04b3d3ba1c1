//! The proxy's HTTP/1.1 client towards its upstreams: one request written straight onto a
//! kept-alive connection, its answer's head parsed on the proxy's own task, and the body
//! read frame by frame as the agent's response is written ([`UpBody`]).
//!
//! It replaces a general client (its connection pool, a task per connection and a
//! channel between that task and the request) on the path every request takes: between
//! the agent's request arriving and its upstream request leaving, and between the answer
//! arriving and it going out to the agent, nothing else runs. Connections are plain TCP
//! or rustls (ring, the platform's roots, ALPN `http/1.1`); an idle one is kept 90 s and
//! reused for the same origin. Before reuse a connection is checked without a system
//! call: if the runtime has seen it readable while idle (the upstream closed it, or sent
//! something unasked), it is dropped and another taken. A connection is reused only on
//! the thread that opened it: its socket belongs to that thread's runtime, and a request
//! served on another would have its wake-ups cross threads (`crate::proxy::workers`).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use hyper::{Request, Response};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

mod body;
mod wire;

pub use body::UpBody;

/// How long an idle connection is kept.
const IDLE: Duration = Duration::from_secs(90);
/// Idle connections kept in all (the oldest goes first).
const MAX_IDLE: usize = 64;
/// The largest response head read.
const MAX_HEAD: usize = 64 * 1024;

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("connection timed out after {0:?}")]
    ConnectTimeout(Duration),
    #[error("{0}")]
    Connect(io::Error),
    #[error("TLS: {0}")]
    Tls(io::Error),
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("the connection closed before a complete response")]
    Closed,
    #[error("invalid response: {0}")]
    Invalid(String),
    #[error("invalid request: {0}")]
    Request(&'static str),
}

impl Error {
    /// A connect that ran out of time (a 504 rather than a 502).
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::ConnectTimeout(_) => true,
            Error::Connect(e) | Error::Io(e) | Error::Tls(e) => e.kind() == io::ErrorKind::TimedOut,
            _ => false,
        }
    }
}

/// Where a connection goes: scheme, host and port.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Origin {
    tls: bool,
    host: String,
    port: u16,
}

impl Origin {
    fn is(&self, tls: bool, host: &str, port: u16) -> bool {
        self.tls == tls && self.port == port && self.host == host
    }
}

enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// One upstream connection and what was read from it beyond the last message.
struct Conn {
    io: Io,
    buf: BytesMut,
    /// The thread whose runtime the socket is registered with.
    home: std::thread::ThreadId,
}

struct Idle {
    origin: Origin,
    conn: Conn,
    since: Instant,
}

struct Shared {
    idle: Mutex<Vec<Idle>>,
    tls: TlsConnector,
    connect_timeout: Duration,
}

#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

impl Client {
    /// A client trusting the platform's root certificates.
    pub fn new(connect_timeout: Duration) -> Self {
        Self::with_roots(connect_timeout, native_roots())
    }

    fn with_roots(connect_timeout: Duration, roots: rustls::RootCertStore) -> Self {
        Self {
            shared: Arc::new(Shared {
                idle: Mutex::new(Vec::new()),
                tls: TlsConnector::from(Arc::new(tls_config(roots))),
                connect_timeout,
            }),
        }
    }

    /// Sends `req` (its URI absolute, `http` or `https`) and reads the answer's head.
    pub async fn request(&self, req: Request<Bytes>) -> Result<Response<UpBody>, Error> {
        let (parts, body) = req.into_parts();
        let uri = &parts.uri;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(Error::Request("the URI's scheme is not http or https")),
        };
        let Some(authority) = uri.authority() else {
            return Err(Error::Request("the URI has no host"));
        };
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let head = wire::request_head(&parts, authority.as_str(), body.len());
        let (origin, mut conn) = match self.checkout(tls, host, port) {
            Some(pair) => pair,
            None => {
                let origin = Origin {
                    tls,
                    host: host.to_string(),
                    port,
                };
                let conn = self.connect(&origin).await?;
                (origin, conn)
            }
        };
        write_request(&mut conn.io, &head, &body).await?;
        let (head, framing) =
            wire::read_head(&mut conn, parts.method == hyper::Method::HEAD).await?;
        let keep = head.keep_alive;
        let body = UpBody::new(conn, framing, keep.then(|| (self.shared.clone(), origin)));
        let mut resp = Response::new(body);
        *resp.status_mut() = head.status;
        *resp.version_mut() = head.version;
        *resp.headers_mut() = head.headers;
        Ok(resp)
    }

    /// An idle connection to the origin that is still open, if one is kept.
    fn checkout(&self, tls: bool, host: &str, port: u16) -> Option<(Origin, Conn)> {
        let mut idle = self.shared.idle.lock().ok()?;
        let here = std::thread::current().id();
        while let Some(i) = idle
            .iter()
            .rposition(|c| c.conn.home == here && c.origin.is(tls, host, port))
        {
            let mut c = idle.swap_remove(i);
            if c.since.elapsed() < IDLE && c.conn.buf.is_empty() && still_open(&mut c.conn.io) {
                return Some((c.origin, c.conn));
            }
        }
        None
    }

    async fn connect(&self, origin: &Origin) -> Result<Conn, Error> {
        let timeout = self.shared.connect_timeout;
        let tcp = tokio::time::timeout(timeout, connect_tcp(&origin.host, origin.port))
            .await
            .map_err(|_| Error::ConnectTimeout(timeout))?
            .map_err(Error::Connect)?;
        let _ = tcp.set_nodelay(true);
        let io = if origin.tls {
            let name = rustls::pki_types::ServerName::try_from(origin.host.clone())
                .map_err(|_| Error::Request("the host is not a valid TLS name"))?;
            let tls = self
                .shared
                .tls
                .connect(name, tcp)
                .await
                .map_err(Error::Tls)?;
            Io::Tls(Box::new(tls))
        } else {
            Io::Plain(tcp)
        };
        Ok(Conn {
            io,
            buf: BytesMut::with_capacity(8 * 1024),
            home: std::thread::current().id(),
        })
    }
}

impl Shared {
    /// Keeps a connection whose last answer was read to its end.
    fn release(&self, origin: Origin, conn: Conn) {
        let Ok(mut idle) = self.idle.lock() else {
            return;
        };
        idle.retain(|c| c.since.elapsed() < IDLE);
        if idle.len() >= MAX_IDLE {
            idle.remove(0);
        }
        idle.push(Idle {
            origin,
            conn,
            since: Instant::now(),
        });
    }
}

async fn connect_tcp(host: &str, port: u16) -> io::Result<TcpStream> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return TcpStream::connect(SocketAddr::new(ip, port)).await;
    }
    let mut last = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::NotFound, format!("no address for {host}"))
    }))
}

/// Whether an idle connection is still usable: nothing was seen on it since its last
/// answer. With the runtime's readiness unchanged this costs no system call; otherwise
/// one read says whether the peer closed it (or TLS only had records of its own).
fn still_open(io: &mut Io) -> bool {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let mut one = [0u8; 1];
    let mut buf = ReadBuf::new(&mut one);
    matches!(Pin::new(io).poll_read(&mut cx, &mut buf), Poll::Pending)
}

/// The head and the body, in one write when the body is small.
async fn write_request(io: &mut Io, head: &[u8], body: &[u8]) -> Result<(), Error> {
    const JOIN: usize = 64 * 1024;
    if body.len() <= JOIN {
        let mut all = Vec::with_capacity(head.len() + body.len());
        all.extend_from_slice(head);
        all.extend_from_slice(body);
        io.write_all(&all).await?;
    } else {
        io.write_all(head).await?;
        io.write_all(body).await?;
    }
    io.flush().await?;
    Ok(())
}

fn native_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        tracing::warn!("no platform root certificates; https upstreams will fail");
    }
    roots
}

fn tls_config(roots: rustls::RootCertStore) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = match rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
    {
        Ok(b) => b.with_root_certificates(roots).with_no_client_auth(),
        Err(_) => rustls::ClientConfig::builder()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Reads more of the connection into its buffer; 0 at the end of the stream.
fn poll_fill(conn: &mut Conn, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
    if conn.buf.capacity() - conn.buf.len() < 4096 {
        conn.buf.reserve(16 * 1024);
    }
    let spare = conn.buf.spare_capacity_mut();
    let mut rb = ReadBuf::uninit(spare);
    match Pin::new(&mut conn.io).poll_read(cx, &mut rb) {
        Poll::Ready(Ok(())) => {
            let n = rb.filled().len();
            // SAFETY: `poll_read` initialised the first `n` bytes of the spare capacity.
            unsafe { conn.buf.set_len(conn.buf.len() + n) };
            Poll::Ready(Ok(n))
        }
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    }
}

#[cfg(test)]
mod tests;
