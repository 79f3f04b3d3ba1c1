use std::sync::atomic::{AtomicUsize, Ordering};

use http_body_util::BodyExt;
use hyper::body::Body as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::body::decode_all;
use super::wire::{Framing, parse_for_test};
use super::*;

#[test]
fn chunked_bodies_decode_across_any_split() {
    let wire = b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\ntrailer: x\r\n\r\n";
    for cut in 0..wire.len() {
        let (a, b) = wire.split_at(cut);
        let (out, rest_empty) = decode_all(&[a, b]).unwrap();
        assert_eq!(out, b"hello, world", "cut at {cut}");
        assert!(rest_empty);
    }
    // One byte at a time.
    let pieces: Vec<&[u8]> = wire.chunks(1).collect();
    assert_eq!(decode_all(&pieces).unwrap().0, b"hello, world");
    assert_eq!(
        decode_all(&[b"A\r\n0123456789\r\n0\r\n\r\n"]).unwrap().0,
        b"0123456789"
    );
    assert!(decode_all(&[b"zz\r\n"]).is_err());
    assert!(decode_all(&[b"3\r\nabcX\r\n"]).is_err());
    assert!(decode_all(&[b"ffffffffffffffffff\r\n"]).is_err());
}

#[test]
fn response_heads_say_how_the_body_ends() {
    let p = |s: &str, head| parse_for_test(s.as_bytes(), head).map(|(_, c, f, k)| (c, f, k));
    assert_eq!(
        p("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello", false),
        Some((200, Framing::Length(5), true))
    );
    assert_eq!(
        p(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n",
            false
        ),
        Some((200, Framing::Chunked, true))
    );
    assert_eq!(
        p(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n",
            false
        ),
        Some((200, Framing::Close, false))
    );
    assert_eq!(
        p(
            "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\n",
            false
        ),
        Some((200, Framing::Length(2), false))
    );
    assert_eq!(
        p("HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\n", false),
        Some((200, Framing::Length(2), false))
    );
    assert_eq!(
        p("HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n", true),
        Some((200, Framing::Empty, true))
    );
    assert_eq!(
        p("HTTP/1.1 204 No Content\r\n\r\n", false),
        Some((204, Framing::Empty, true))
    );
    assert_eq!(p("HTTP/1.1 200 OK\r\ncontent-le", false), None);
    assert!(
        parse_for_test(
            b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
            false
        )
        .is_none()
    );
}

/// A server answering each request on a connection with `answers` in turn — over TLS
/// with the test CA's certificate for `localhost` (`testdata/`) when `tls` — counting the
/// connections it opened and those it closed (after its last answer, or when the client
/// closed first); it checks each request names the host and has the body its
/// content-length says.
async fn serve(answers: Vec<&'static str>, tls: bool) -> (u16, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tls.then(tls_acceptor);
    let opened = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicUsize::new(0));
    let (o, c) = (opened.clone(), closed.clone());
    tokio::spawn(async move {
        loop {
            let (s, _) = listener.accept().await.unwrap();
            o.fetch_add(1, Ordering::SeqCst);
            let (answers, acceptor, c) = (answers.clone(), acceptor.clone(), c.clone());
            tokio::spawn(async move {
                match acceptor {
                    Some(a) => {
                        if let Ok(s) = a.accept(s).await {
                            answer(s, answers, "localhost").await;
                        }
                    }
                    None => answer(s, answers, "127.0.0.1").await,
                }
                c.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    (port, opened, closed)
}

async fn server(answers: Vec<&'static str>) -> (u16, Arc<AtomicUsize>) {
    let (port, opened, _) = serve(answers, false).await;
    (port, opened)
}

/// Reads each request off `s` and writes its answer; the connection is dropped after the
/// last answer.
async fn answer<S>(mut s: S, answers: Vec<&'static str>, host: &str)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut buf = Vec::new();
    for answer in answers {
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .map_or(0, |v| v.trim().parse().unwrap());
                if buf.len() >= end + 4 + len {
                    assert!(head.contains(&format!("\r\nhost: {host}:")), "{head}");
                    buf.drain(..end + 4 + len);
                    break;
                }
            }
            let mut chunk = [0u8; 4096];
            let Ok(n) = s.read(&mut chunk).await else {
                return;
            };
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        s.write_all(answer.as_bytes()).await.unwrap();
        s.flush().await.unwrap();
    }
}

fn post(port: u16, body: &'static str) -> Request<Bytes> {
    Request::builder()
        .method("POST")
        .uri(format!("http://127.0.0.1:{port}/v1/messages?x=1"))
        .header("content-type", "application/json")
        .body(Bytes::from_static(body.as_bytes()))
        .unwrap()
}

async fn text(resp: Response<UpBody>) -> String {
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

#[tokio::test]
async fn a_connection_is_kept_for_the_next_request_and_bodies_arrive_whole() {
    let (port, conns) = server(vec![
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
        "HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        "HTTP/1.1 204 No Content\r\n\r\n",
        "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 3\r\n\r\nend",
    ])
    .await;
    let client = Client::new(Duration::from_secs(5));
    let r = client.request(post(port, "{\"a\":1}")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(text(r).await, "hello");
    let r = client.request(post(port, "")).await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(text(r).await, "abcde");
    let r = client.request(post(port, "x")).await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(text(r).await, "");
    let r = client.request(post(port, "y")).await.unwrap();
    assert_eq!(text(r).await, "end");
    assert_eq!(
        conns.load(Ordering::SeqCst),
        1,
        "one connection for all four"
    );
    // The server said close: the next request opens a new connection.
    let r = client.request(post(port, "z")).await.unwrap();
    assert_eq!(text(r).await, "hello");
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_connection_the_upstream_closed_while_idle_is_not_reused() {
    // Answers once per connection, then closes it.
    let (port, conns, closed) = serve(
        vec!["HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"],
        false,
    )
    .await;
    let client = Client::new(Duration::from_secs(5));
    for round in 1..=3 {
        let r = client.request(post(port, "{}")).await.unwrap();
        assert_eq!(text(r).await, "ok");
        // Until the server has closed it; a yielded task resumes only after the runtime
        // polled its sockets, so the close is then seen.
        tokio::time::timeout(Duration::from_secs(5), async {
            while closed.load(Ordering::SeqCst) < round {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the server closes the connection after its answer");
        tokio::task::yield_now().await;
        assert_eq!(conns.load(Ordering::SeqCst), round);
    }
}

#[tokio::test]
async fn a_body_dropped_half_read_closes_its_connection() {
    let (port, conns) = server(vec!["HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf"]).await;
    let client = Client::new(Duration::from_secs(5));
    for round in 1..=2 {
        let r = client.request(post(port, "{}")).await.unwrap();
        let mut body = r.into_body();
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&first[..], b"half");
        assert!(!body.is_end_stream());
        drop(body);
        assert_eq!(
            conns.load(Ordering::SeqCst),
            round,
            "a new connection each time"
        );
    }
}

#[tokio::test]
async fn errors_name_what_went_wrong() {
    let client = Client::new(Duration::from_secs(5));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let e = client.request(post(port, "{}")).await.unwrap_err();
    assert!(matches!(e, Error::Connect(_)), "{e:?}");
    let (port, _) = server(vec!["NOT HTTP\r\n\r\n"]).await;
    let e = client.request(post(port, "{}")).await.unwrap_err();
    assert!(matches!(e, Error::Invalid(_)), "{e:?}");
    let (port, _) = server(vec!["HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nab"]).await;
    let r = client.request(post(port, "{}")).await.unwrap();
    // The server answers once and closes: the body breaks off.
    let err = r.into_body().collect().await;
    assert!(err.is_err());
}

fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs =
        vec![CertificateDer::from_pem_slice(include_bytes!("testdata/localhost.pem")).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(include_bytes!("testdata/localhost.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

fn test_roots() -> rustls::RootCertStore {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(include_bytes!("testdata/ca.pem")).unwrap())
        .unwrap();
    roots
}

#[tokio::test]
async fn https_upstreams_are_verified_and_their_connections_kept() {
    let (port, conns, _) = serve(
        vec!["HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nsecret"; 3],
        true,
    )
    .await;
    let client = Client::with_roots(Duration::from_secs(5), test_roots());
    let req = |host: &str| {
        Request::builder()
            .method("POST")
            .uri(format!("https://{host}:{port}/v1/messages"))
            .body(Bytes::from_static(b"{}"))
            .unwrap()
    };
    for _ in 0..3 {
        let r = client.request(req("localhost")).await.unwrap();
        assert_eq!(text(r).await, "secret");
    }
    assert_eq!(
        conns.load(Ordering::SeqCst),
        1,
        "one TLS connection for all three"
    );
    // The certificate is for localhost, not for the address.
    let e = client.request(req("127.0.0.1")).await.unwrap_err();
    assert!(matches!(e, Error::Tls(_)), "{e:?}");
    // A client that does not trust the test CA refuses the server.
    let stranger = Client::with_roots(Duration::from_secs(5), rustls::RootCertStore::empty());
    let e = stranger.request(req("localhost")).await.unwrap_err();
    assert!(e.to_string().contains("certificate"), "{e}");
}
