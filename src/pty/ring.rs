//! A session's scrollback kept in a file (`<state>/sessions/<id>.ring`), mapped into
//! memory, so it outlives the daemon: a restarted daemon maps it again and clients get the
//! same screen back. A ring of `cap` bytes after a 64-byte header (`CLOWNRG1`, the
//! capacity, and the count of bytes ever written, stored last). One writer at a time:
//! the daemon while it serves the session, else the session's holder.
//!
//! A write copies the bytes in and only then advances the count, so a writer killed in
//! the middle leaves the count at the last whole chunk (what it was overwriting, the
//! oldest bytes, may be garbled; nothing newer).

use std::fs::{File, OpenOptions};
use std::num::NonZeroUsize;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use nix::sys::mman::{MapFlags, ProtFlags, mmap, munmap};

const MAGIC: &[u8; 8] = b"CLOWNRG1";
const HEADER: usize = 64;

pub struct Ring {
    map: NonNull<u8>,
    cap: usize,
}

// SAFETY: the mapping is owned by this value; its users serialise writes (a mutex in the
// session, or one writer process at a time), and the count is read and written atomically.
unsafe impl Send for Ring {}
unsafe impl Sync for Ring {}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("cap", &self.cap)
            .field("total", &self.total())
            .finish()
    }
}

impl Ring {
    /// A new, empty ring of `cap` bytes at `path` (0600; an existing file is replaced).
    pub fn create(path: &Path, cap: usize) -> std::io::Result<Self> {
        let _ = std::fs::remove_file(path);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        file.set_len((HEADER + cap) as u64)?;
        let ring = Self::map(&file, cap)?;
        // SAFETY: the mapping is HEADER + cap bytes long and ours alone so far.
        unsafe {
            std::ptr::copy_nonoverlapping(MAGIC.as_ptr(), ring.map.as_ptr(), MAGIC.len());
            std::ptr::write_unaligned(ring.map.as_ptr().add(8).cast::<u64>(), cap as u64);
        }
        ring.count().store(0, Ordering::Release);
        Ok(ring)
    }

    /// The ring at `path`, as its last writer left it.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let bad = |what: &str| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {what}", path.display()),
            )
        };
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let len = file.metadata()?.len() as usize;
        if len < HEADER {
            return Err(bad("too short for a scrollback ring"));
        }
        let mut head = [0u8; 16];
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut head, 0)?;
        if &head[..8] != MAGIC {
            return Err(bad("not a scrollback ring"));
        }
        let cap = u64::from_le_bytes(head[8..16].try_into().unwrap_or_default()) as usize;
        if HEADER + cap != len {
            return Err(bad("its size does not match its header"));
        }
        Self::map(&file, cap)
    }

    fn map(file: &File, cap: usize) -> std::io::Result<Self> {
        let len = NonZeroUsize::new(HEADER + cap).ok_or(std::io::ErrorKind::InvalidInput)?;
        // SAFETY: a fresh shared mapping of the whole file; nothing else in this process
        // maps it, and it is unmapped exactly once, in Drop.
        let ptr = unsafe {
            mmap(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
                file,
                0,
            )
        }?;
        Ok(Self {
            map: ptr.cast(),
            cap,
        })
    }

    fn count(&self) -> &AtomicU64 {
        // SAFETY: offset 16 is 8-aligned (the mapping is page-aligned) and inside it.
        unsafe { &*self.map.as_ptr().add(16).cast::<AtomicU64>() }
    }

    fn data(&self) -> *mut u8 {
        // SAFETY: HEADER is inside the mapping.
        unsafe { self.map.as_ptr().add(HEADER) }
    }

    /// Every byte ever written.
    pub fn total(&self) -> u64 {
        self.count().load(Ordering::Acquire)
    }

    /// How many bytes it holds now.
    pub fn len(&self) -> usize {
        self.total().min(self.cap as u64) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// Appends `bytes` (the newest `cap` of them, if more).
    pub fn push(&mut self, bytes: &[u8]) {
        if self.cap == 0 || bytes.is_empty() {
            return;
        }
        let total = self.total();
        let skip = bytes.len().saturating_sub(self.cap);
        let bytes = &bytes[skip..];
        let mut at = ((total + skip as u64) % self.cap as u64) as usize;
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = rest.len().min(self.cap - at);
            // SAFETY: [at, at + n) lies within the data area; `rest` is another buffer.
            unsafe { std::ptr::copy_nonoverlapping(rest.as_ptr(), self.data().add(at), n) };
            rest = &rest[n..];
            at = (at + n) % self.cap;
        }
        self.count()
            .store(total + skip as u64 + bytes.len() as u64, Ordering::Release);
    }

    /// The newest `n` bytes it holds (or fewer), oldest first.
    pub fn tail(&self, n: usize) -> Bytes {
        let total = self.total();
        let n = n.min(self.len());
        let mut out = BytesMut::with_capacity(n);
        let mut at = ((total - n as u64) % self.cap.max(1) as u64) as usize;
        let mut left = n;
        while left > 0 {
            let k = left.min(self.cap - at);
            // SAFETY: [at, at + k) lies within the data area.
            out.extend_from_slice(unsafe { std::slice::from_raw_parts(self.data().add(at), k) });
            left -= k;
            at = (at + k) % self.cap;
        }
        out.freeze()
    }

    /// Everything it holds, oldest first.
    pub fn snapshot(&self) -> Bytes {
        self.tail(self.cap)
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: mapped in `map` with this length, unmapped only here.
        unsafe {
            let _ = munmap(self.map.cast(), HEADER + self.cap);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_bytes_and_reopens() {
        let dir = std::env::temp_dir().join(format!("clown-ring-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.ring");
        let mut r = Ring::create(&path, 10).unwrap();
        assert!(r.is_empty());
        r.push(b"abcd");
        r.push(b"efgh");
        assert_eq!(&r.snapshot()[..], b"abcdefgh");
        r.push(b"ijkl");
        assert_eq!(&r.snapshot()[..], b"cdefghijkl");
        assert_eq!((r.len(), r.total()), (10, 12));
        r.push(b"0123456789ABC");
        assert_eq!(&r.snapshot()[..], b"3456789ABC");
        assert_eq!(&r.tail(4)[..], b"9ABC");
        drop(r);
        // Another process (here: another mapping) sees what was written, and goes on.
        let mut again = Ring::open(&path).unwrap();
        assert_eq!(&again.snapshot()[..], b"3456789ABC");
        again.push(b"DE");
        assert_eq!(&again.tail(3)[..], b"CDE");
        std::fs::write(&path, b"garbage").unwrap();
        assert!(Ring::open(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
