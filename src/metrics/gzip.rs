//! A gzip body assembled from pieces compressed at different times.
//!
//! A scrape's body is mostly bytes that did not change since the scrape before (the usage
//! families of unchanged pairs, the proxies' states). Each such piece is compressed once
//! into a [`Segment`]: a raw deflate stream of its own (no back-references outside it)
//! ended by a sync flush, which closes it on a byte boundary without marking it the last.
//! Segments laid end to end are therefore one valid deflate stream; [`Gzip`] puts the gzip
//! header before them, compresses the small volatile tail as the final block, and writes
//! the trailer from the segments' CRCs combined (CRC-32 of a concatenation is computable
//! from the parts' CRCs and lengths). The result is one ordinary gzip member (RFC 1952),
//! which every client decodes, including those that stop after the first member.

use std::sync::OnceLock;

use bytes::Bytes;
use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// `Accept-Encoding` allows gzip: `gzip` or `x-gzip` with a non-zero q, or else `*` with a
/// non-zero q (a coding named explicitly wins over `*`, RFC 9110 §12.5.3).
pub fn accepted(accept_encoding: Option<&str>) -> bool {
    let Some(a) = accept_encoding else {
        return false;
    };
    let mut named = None;
    let mut any = None;
    for coding in a.split(',') {
        let mut parts = coding.split(';').map(str::trim);
        let Some(name) = parts.next() else { continue };
        let allowed = !parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            named = Some(named.unwrap_or(false) || allowed);
        } else if name == "*" {
            any = Some(allowed);
        }
    }
    named.or(any).unwrap_or(false)
}

/// Some bytes compressed on their own, ready to be placed anywhere but last.
#[derive(Debug)]
pub struct Segment {
    deflate: Bytes,
    crc: Crc,
}

impl Segment {
    pub fn new(data: &[u8]) -> Self {
        let mut crc = Crc::new();
        crc.update(data);
        Self {
            deflate: deflate(data, false),
            crc,
        }
    }

    /// Compressed size.
    pub fn len(&self) -> usize {
        self.deflate.len()
    }

    pub fn is_empty(&self) -> bool {
        self.deflate.is_empty()
    }
}

/// Bytes of the body kept between scrapes, compressed the first time a scrape wants them
/// gzipped (so a daemon only ever scraped without gzip compresses nothing).
#[derive(Debug)]
pub struct Piece {
    plain: Bytes,
    gz: OnceLock<Segment>,
}

impl Piece {
    pub fn new(plain: impl Into<Bytes>) -> Self {
        Self {
            plain: plain.into(),
            gz: OnceLock::new(),
        }
    }

    pub fn plain(&self) -> &Bytes {
        &self.plain
    }

    pub fn gz(&self) -> &Segment {
        self.gz.get_or_init(|| Segment::new(&self.plain))
    }
}

/// A gzip member being assembled.
pub struct Gzip {
    out: Vec<u8>,
    crc: Crc,
}

impl Gzip {
    /// `capacity`: the expected compressed size.
    pub fn new(capacity: usize) -> Self {
        let mut out = Vec::with_capacity(capacity + 64);
        // ID1 ID2, CM = deflate, no flags, no time, XFL 4 (fastest), OS unknown.
        out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255]);
        Self {
            out,
            crc: Crc::new(),
        }
    }

    pub fn push(&mut self, segment: &Segment) {
        self.out.extend_from_slice(&segment.deflate);
        self.crc.combine(&segment.crc);
    }

    /// Compresses `data` (here only) as the last block, closes the member.
    pub fn finish(mut self, data: &[u8]) -> Vec<u8> {
        self.out.extend_from_slice(&deflate(data, true));
        self.crc.update(data);
        self.out.extend_from_slice(&self.crc.sum().to_le_bytes());
        self.out.extend_from_slice(&self.crc.amount().to_le_bytes());
        self.out
    }
}

/// `data` as raw deflate at the fastest level: ended by a sync flush, or as the final
/// block when `last`.
fn deflate(data: &[u8], last: bool) -> Bytes {
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut c = Compress::new(Compression::fast(), false);
    let mut out = Vec::with_capacity(data.len() / 4 + 128);
    loop {
        let fed = c.total_in() as usize;
        match c.compress_vec(&data[fed..], &mut out, flush) {
            Ok(Status::StreamEnd) => break,
            // A flush is complete when it left output space unused.
            Ok(_) if !last && c.total_in() as usize == data.len() && out.len() < out.capacity() => {
                break;
            }
            Ok(_) => out.reserve(out.capacity().max(4096)),
            // Not expected from a fresh stream; stored blocks are valid deflate too.
            Err(_) => return stored(data, last),
        }
    }
    Bytes::from(out)
}

/// `data` as uncompressed deflate blocks (the last one final when `last`).
fn stored(data: &[u8], last: bool) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + data.len() / 65_535 * 5 + 10);
    let mut chunks: Vec<&[u8]> = data.chunks(65_535).collect();
    if chunks.is_empty() {
        chunks.push(&[]);
    }
    let n = chunks.len();
    for (i, chunk) in chunks.into_iter().enumerate() {
        out.push(u8::from(last && i + 1 == n));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    if !last {
        // What a sync flush ends with: an empty stored block.
        out.extend_from_slice(&[0, 0, 0, 0xff, 0xff]);
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        // A single-member reader: the body must be one member.
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn segments_make_one_member() {
        let a = b"clown_tokens_total{profile=\"a\"} 1\n".repeat(500);
        let b = b"clown_cost_usd_total{profile=\"b\"} 0.5\n".repeat(3);
        let mut gz = Gzip::new(0);
        gz.push(&Segment::new(&a));
        gz.push(&Segment::new(b""));
        gz.push(&Segment::new(&b));
        let body = gz.finish(b"# EOF\n");
        let want = [&a[..], &b[..], b"# EOF\n"].concat();
        assert_eq!(gunzip(&body), want);
        assert!(body.len() < want.len() / 10, "{}", body.len());
    }

    #[test]
    fn stored_blocks_decode_too() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut gz = Gzip::new(0);
        gz.push(&Segment {
            deflate: stored(&data, false),
            crc: {
                let mut c = Crc::new();
                c.update(&data);
                c
            },
        });
        let mut body = gz.out;
        body.extend_from_slice(&stored(b"end", true));
        let mut crc = gz.crc;
        crc.update(b"end");
        body.extend_from_slice(&crc.sum().to_le_bytes());
        body.extend_from_slice(&crc.amount().to_le_bytes());
        assert_eq!(gunzip(&body), [&data[..], b"end"].concat());
    }

    #[test]
    fn negotiates_gzip() {
        assert!(accepted(Some("gzip")));
        assert!(accepted(Some("deflate, gzip;q=1.0, *;q=0.5")));
        assert!(accepted(Some("*")));
        assert!(!accepted(None));
        assert!(!accepted(Some("identity")));
        assert!(!accepted(Some("gzip;q=0")));
        assert!(!accepted(Some("br")));
        // A coding named explicitly wins over `*`.
        assert!(!accepted(Some("gzip;q=0, *")));
        assert!(accepted(Some("x-gzip, *;q=0")));
        assert!(!accepted(Some("*;q=0")));
    }
}
