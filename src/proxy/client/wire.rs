//! HTTP/1.1 on the wire (RFC 9112): the request head written, the response head parsed,
//! and how the response body is delimited.

use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{StatusCode, Version};

use super::{Conn, Error, MAX_HEAD, poll_fill};

/// How a response body ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 1xx, 204, 304, or a zero length).
    Empty,
    Length(u64),
    Chunked,
    /// Read to the connection's end (never kept).
    Close,
}

pub struct Head {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    /// Whether the connection can carry another request after this answer.
    pub keep_alive: bool,
}

/// `METHOD target HTTP/1.1`, the host, the request's headers (the caller removed
/// hop-by-hop ones and any length) and the body's length.
pub fn request_head(parts: &Parts, authority: &str, body_len: usize) -> Vec<u8> {
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut head = Vec::with_capacity(256 + parts.headers.len() * 48);
    head.extend_from_slice(parts.method.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(target.as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    head.extend_from_slice(authority.as_bytes());
    head.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        if name == hyper::header::HOST || name == hyper::header::CONTENT_LENGTH {
            continue;
        }
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    let bodiless = matches!(
        parts.method,
        hyper::Method::GET | hyper::Method::HEAD | hyper::Method::DELETE | hyper::Method::OPTIONS
    );
    if body_len > 0 || !bodiless {
        head.extend_from_slice(b"content-length: ");
        head.extend_from_slice(body_len.to_string().as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// Reads the response head (skipping interim 1xx answers) and leaves the buffer at the
/// body's first byte.
pub async fn read_head(conn: &mut Conn, head_request: bool) -> Result<(Head, Framing), Error> {
    loop {
        let parsed = loop {
            if let Some(p) = parse(&conn.buf, head_request)? {
                break p;
            }
            if conn.buf.len() > MAX_HEAD {
                return Err(Error::Invalid(format!("a head over {MAX_HEAD} bytes")));
            }
            let n = std::future::poll_fn(|cx| poll_fill(conn, cx)).await?;
            if n == 0 {
                return Err(Error::Closed);
            }
        };
        let (len, head, framing) = parsed;
        let _ = conn.buf.split_to(len);
        // 100 Continue, 103 Early Hints: the answer follows.
        if head.status.is_informational() && head.status != StatusCode::SWITCHING_PROTOCOLS {
            continue;
        }
        return Ok((head, framing));
    }
}

/// A complete head in `buf`: its length, the head, and the body's framing.
fn parse(buf: &[u8], head_request: bool) -> Result<Option<(usize, Head, Framing)>, Error> {
    let mut slots = [httparse::EMPTY_HEADER; 128];
    let mut resp = httparse::Response::new(&mut slots);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(Error::Invalid(e.to_string())),
    };
    let code = resp.code.unwrap_or(0);
    let status =
        StatusCode::from_u16(code).map_err(|_| Error::Invalid(format!("status {code}")))?;
    let version = if resp.version == Some(0) {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let mut headers = HeaderMap::with_capacity(resp.headers.len());
    let mut close = version == Version::HTTP_10;
    let mut chunked = false;
    let mut encoded = false;
    let mut length: Option<u64> = None;
    for h in resp.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| Error::Invalid(format!("header name {:?}", h.name)))?;
        let value = HeaderValue::from_bytes(h.value)
            .map_err(|_| Error::Invalid(format!("the value of {name}")))?;
        if name == hyper::header::CONNECTION {
            for token in value.to_str().unwrap_or("").split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") && version == Version::HTTP_10 {
                    close = false;
                }
            }
        } else if name == hyper::header::TRANSFER_ENCODING {
            encoded = true;
            let last = value
                .to_str()
                .unwrap_or("")
                .rsplit(',')
                .next()
                .unwrap_or("");
            chunked = last.trim().eq_ignore_ascii_case("chunked");
        } else if name == hyper::header::CONTENT_LENGTH {
            let n: u64 = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| Error::Invalid("content-length".into()))?;
            if length.is_some_and(|l| l != n) {
                return Err(Error::Invalid("two content-lengths".into()));
            }
            length = Some(n);
        }
        headers.append(name, value);
    }
    let framing = if head_request
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        Framing::Empty
    } else if encoded {
        if chunked {
            Framing::Chunked
        } else {
            Framing::Close
        }
    } else {
        match length {
            Some(0) => Framing::Empty,
            Some(n) => Framing::Length(n),
            None => Framing::Close,
        }
    };
    let keep_alive = !close && framing != Framing::Close;
    Ok(Some((
        len,
        Head {
            status,
            version,
            headers,
            keep_alive,
        },
        framing,
    )))
}

#[cfg(test)]
pub(super) fn parse_for_test(buf: &[u8], head: bool) -> Option<(usize, u16, Framing, bool)> {
    parse(buf, head)
        .ok()
        .flatten()
        .map(|(n, h, f)| (n, h.status.as_u16(), f, h.keep_alive))
}
