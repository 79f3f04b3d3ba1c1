//! The scrollback: the last N bytes a session wrote, replayed to every client that
//! attaches. Kept in a file ([`super::ring::Ring`]) when the session should outlive the
//! daemon, else in memory: a ring of output chunks (shared, reference-counted `Bytes`, so
//! keeping them costs no copy) with a byte budget: the oldest chunks go first, and the
//! oldest kept chunk is trimmed so the total never exceeds the budget.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use super::ring::Ring;

#[derive(Debug)]
pub enum Scrollback {
    Memory(Chunks),
    File(Ring),
}

impl Scrollback {
    /// In memory, `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self::Memory(Chunks::new(limit))
    }

    pub fn push(&mut self, chunk: Bytes) {
        match self {
            Self::Memory(m) => m.push(chunk),
            Self::File(r) => r.push(&chunk),
        }
    }

    /// Everything kept, oldest first, as one buffer.
    pub fn snapshot(&self) -> Bytes {
        match self {
            Self::Memory(m) => m.snapshot(),
            Self::File(r) => r.snapshot(),
        }
    }

    /// The newest `n` bytes (or fewer), oldest first.
    pub fn tail(&self, n: usize) -> Bytes {
        match self {
            Self::Memory(m) => m.tail(n),
            Self::File(r) => r.tail(n),
        }
    }

    /// How many bytes were ever pushed.
    pub fn total(&self) -> u64 {
        match self {
            Self::Memory(m) => m.total(),
            Self::File(r) => r.total(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Self::Memory(m) => m.len(),
            Self::File(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug)]
pub struct Chunks {
    chunks: VecDeque<Bytes>,
    len: usize,
    limit: usize,
    /// Every byte ever pushed (kept or not).
    total: u64,
}

impl Chunks {
    pub fn new(limit: usize) -> Self {
        Self {
            chunks: VecDeque::new(),
            len: 0,
            limit,
            total: 0,
        }
    }

    pub fn push(&mut self, chunk: Bytes) {
        self.total += chunk.len() as u64;
        if self.limit == 0 || chunk.is_empty() {
            return;
        }
        let chunk = if chunk.len() > self.limit {
            chunk.slice(chunk.len() - self.limit..)
        } else {
            chunk
        };
        self.len += chunk.len();
        self.chunks.push_back(chunk);
        while self.len > self.limit {
            let excess = self.len - self.limit;
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            if front.len() <= excess {
                self.len -= front.len();
                self.chunks.pop_front();
            } else {
                *front = front.slice(excess..);
                self.len -= excess;
            }
        }
    }

    /// Everything kept, oldest first, as one buffer.
    pub fn snapshot(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.len);
        for c in &self.chunks {
            out.extend_from_slice(c);
        }
        out.freeze()
    }

    /// The newest `n` bytes (or fewer), oldest first.
    pub fn tail(&self, n: usize) -> Bytes {
        let mut parts = Vec::new();
        let mut len = 0;
        for c in self.chunks.iter().rev() {
            if len >= n {
                break;
            }
            let take = c.len().min(n - len);
            parts.push(c.slice(c.len() - take..));
            len += take;
        }
        let mut out = BytesMut::with_capacity(len);
        for p in parts.iter().rev() {
            out.extend_from_slice(p);
        }
        out.freeze()
    }

    /// How many bytes were ever pushed.
    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_bytes_within_the_limit() {
        let mut s = Chunks::new(10);
        s.push(Bytes::from_static(b"abcd"));
        s.push(Bytes::from_static(b"efgh"));
        assert_eq!(&s.snapshot()[..], b"abcdefgh");
        s.push(Bytes::from_static(b"ijkl"));
        assert_eq!(&s.snapshot()[..], b"cdefghijkl");
        assert_eq!(s.len(), 10);
        s.push(Bytes::from_static(b"0123456789ABC"));
        assert_eq!(&s.snapshot()[..], b"3456789ABC");
        s.push(Bytes::new());
        assert_eq!(s.len(), 10);
        assert_eq!(&s.tail(4)[..], b"9ABC");
        assert_eq!(&s.tail(100)[..], b"3456789ABC");
        s.push(Bytes::from_static(b"DE"));
        assert_eq!(&s.tail(3)[..], b"CDE");
    }

    #[test]
    fn zero_limit_keeps_nothing() {
        let mut s = Chunks::new(0);
        s.push(Bytes::from_static(b"x"));
        assert!(s.is_empty());
    }
}
