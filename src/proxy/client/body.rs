//! An upstream answer's body, read from its connection as it is asked for: by length,
//! in chunks, or to the connection's end. When the body is read to its end the
//! connection goes back to the client's idle list (unless the upstream said otherwise);
//! dropped before that, the connection is closed.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use hyper::body::{Body, Frame, SizeHint};

use super::wire::Framing;
use super::{Conn, Error, Origin, Shared, poll_fill};

/// Where a chunked body is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// In a size line: the size so far, whether a digit was seen, whether in extensions.
    Size(u64, bool, bool),
    /// In a chunk's data, this much left.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// In the trailer section; whether the current line is empty so far.
    Trailer(bool),
}

enum State {
    Length(u64),
    Chunked(Chunk),
    Close,
    Done,
}

pub struct UpBody {
    conn: Option<Conn>,
    state: State,
    /// Where the connection goes back once the body is read, if it can be kept.
    home: Option<(Arc<Shared>, Origin)>,
    /// Data was handed out since the last wait for the connection: an error found now is
    /// given on the next poll, so that what went before is written out first (a server
    /// aborts its response on a body error, dropping what it had not yet written).
    gave: bool,
    error: Option<Error>,
}

/// What the chunk decoder made of the buffer.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Data(Bytes),
    More,
    End,
}

impl UpBody {
    pub(super) fn new(conn: Conn, framing: Framing, home: Option<(Arc<Shared>, Origin)>) -> Self {
        let state = match framing {
            Framing::Empty => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Chunked(Chunk::Size(0, false, false)),
            Framing::Close => State::Close,
        };
        let mut body = Self {
            conn: Some(conn),
            state,
            home,
            gave: false,
            error: None,
        };
        if matches!(body.state, State::Done) {
            body.finish();
        }
        body
    }

    /// The body is read: the connection goes back if it can be kept.
    fn finish(&mut self) {
        self.state = State::Done;
        if let (Some(conn), Some((shared, origin))) = (self.conn.take(), self.home.take())
            && conn.buf.is_empty()
        {
            shared.release(origin, conn);
        }
    }

    fn fail(
        &mut self,
        e: Error,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        self.state = State::Done;
        self.conn = None;
        self.home = None;
        if std::mem::take(&mut self.gave) {
            self.error = Some(e);
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(Some(Err(e)))
    }
}

/// Decodes what `buf` holds of a chunked body from `state` on.
fn decode(state: &mut Chunk, buf: &mut BytesMut) -> Result<Step, Error> {
    loop {
        match *state {
            Chunk::Data(left) => {
                if buf.is_empty() {
                    return Ok(Step::More);
                }
                let n = (buf.len() as u64).min(left) as usize;
                let data = buf.split_to(n).freeze();
                *state = if left == n as u64 {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(left - n as u64)
                };
                return Ok(Step::Data(data));
            }
            _ => {
                let Some(&b) = buf.first() else {
                    return Ok(Step::More);
                };
                buf.advance(1);
                *state = match (*state, b) {
                    (Chunk::Size(n, _, false), b) if b.is_ascii_hexdigit() => {
                        let d = (b as char).to_digit(16).unwrap_or(0) as u64;
                        if n > (u64::MAX >> 8) {
                            return Err(Error::Invalid("chunk size too large".into()));
                        }
                        Chunk::Size(n * 16 + d, true, false)
                    }
                    (Chunk::Size(n, true, _), b';') => Chunk::Size(n, true, true),
                    (Chunk::Size(n, seen, ext), b' ' | b'\t') => Chunk::Size(n, seen, ext),
                    (Chunk::Size(n, true, true), b) if b != b'\n' && b != b'\r' => {
                        Chunk::Size(n, true, true)
                    }
                    (Chunk::Size(n, true, ext), b'\r') => Chunk::Size(n, true, ext),
                    (Chunk::Size(0, true, _), b'\n') => Chunk::Trailer(true),
                    (Chunk::Size(n, true, _), b'\n') => Chunk::Data(n),
                    (Chunk::Size(..), _) => {
                        return Err(Error::Invalid("bad chunk size line".into()));
                    }
                    (Chunk::DataEnd, b'\r') => Chunk::DataEnd,
                    (Chunk::DataEnd, b'\n') => Chunk::Size(0, false, false),
                    (Chunk::DataEnd, _) => {
                        return Err(Error::Invalid("no CRLF after a chunk".into()));
                    }
                    (Chunk::Trailer(empty), b'\r') => Chunk::Trailer(empty),
                    (Chunk::Trailer(true), b'\n') => return Ok(Step::End),
                    (Chunk::Trailer(false), b'\n') => Chunk::Trailer(true),
                    (Chunk::Trailer(_), _) => Chunk::Trailer(false),
                    (Chunk::Data(_), _) => unreachable!("handled above"),
                };
            }
        }
    }
}

impl std::fmt::Debug for UpBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.state {
            State::Length(_) => "UpBody(length)",
            State::Chunked(_) => "UpBody(chunked)",
            State::Close => "UpBody(to close)",
            State::Done => "UpBody(done)",
        })
    }
}

impl Body for UpBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        if let Some(e) = this.error.take() {
            return Poll::Ready(Some(Err(e)));
        }
        let polled = this.poll_data(cx);
        this.gave = matches!(polled, Poll::Ready(Some(Ok(_))));
        polled
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Done) && self.error.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match self.state {
            State::Length(n) => SizeHint::with_exact(n),
            State::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

impl UpBody {
    fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match &mut self.state {
                State::Done => {
                    self.conn = None;
                    return Poll::Ready(None);
                }
                State::Length(left) => {
                    if !conn.buf.is_empty() {
                        let n = (conn.buf.len() as u64).min(*left) as usize;
                        let data = conn.buf.split_to(n).freeze();
                        *left -= n as u64;
                        if *left == 0 {
                            self.finish();
                        }
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
                State::Chunked(chunk) => match decode(chunk, &mut conn.buf) {
                    Ok(Step::Data(d)) => return Poll::Ready(Some(Ok(Frame::data(d)))),
                    Ok(Step::End) => {
                        self.finish();
                        return Poll::Ready(None);
                    }
                    Ok(Step::More) => {}
                    Err(e) => return self.fail(e, cx),
                },
                State::Close => {
                    if !conn.buf.is_empty() {
                        let data = conn.buf.split().freeze();
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
            }
            let Some(conn) = self.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match poll_fill(conn, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return self.fail(Error::Io(e), cx),
                Poll::Ready(Ok(0)) => {
                    if matches!(self.state, State::Close) {
                        self.state = State::Done;
                        self.conn = None;
                        return Poll::Ready(None);
                    }
                    return self.fail(Error::Closed, cx);
                }
                Poll::Ready(Ok(_)) => {}
            }
        }
    }
}

#[cfg(test)]
pub(super) fn decode_all(input: &[&[u8]]) -> Result<(Vec<u8>, bool), String> {
    let mut state = Chunk::Size(0, false, false);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in input {
        buf.extend_from_slice(piece);
        loop {
            match decode(&mut state, &mut buf).map_err(|e| e.to_string())? {
                Step::Data(d) => out.extend_from_slice(&d),
                Step::More => break,
                Step::End => return Ok((out, buf.is_empty())),
            }
        }
    }
    Err(format!("no end; got {:?}", String::from_utf8_lossy(&out)))
}
