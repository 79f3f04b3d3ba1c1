//! One file of an import: the job (where to start, the state its reader left), what its
//! reader made of it, and the line reader the JSONL formats share.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::records::UsageEvent;
use crate::store::imports::ImportedFile;

/// A file a format found, with what tells whether it changed.
#[derive(Debug, Clone)]
pub struct Found {
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i64,
    pub inode: u64,
    /// Whether size, time and inode are known (else the reader stats the file first).
    pub stated: bool,
}

impl Found {
    pub fn of(path: PathBuf, meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            path,
            size: meta.len(),
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            inode: meta.ino(),
            stated: true,
        }
    }

    /// A file found by name only: its reader stats it.
    pub fn unstated(path: PathBuf) -> Self {
        Self {
            path,
            size: 0,
            mtime_ns: 0,
            inode: 0,
            stated: false,
        }
    }
}

/// A file to read, from `offset`, with the state its reader left at the last read.
#[derive(Debug)]
pub struct FileJob {
    pub path: PathBuf,
    pub key: String,
    pub profile: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub inode: u64,
    pub offset: u64,
    /// The hash of the bytes before `offset` at the last read (0: not known).
    pub tail: i64,
    pub state: Option<String>,
    /// Whether an earlier import read this file.
    pub seen_before: bool,
    /// Whether its events are counted (not when its profile's proxy records them).
    pub keep_events: bool,
    /// Whether size, time and inode are known (else the reader stats the file first).
    pub stated: bool,
}

impl FileJob {
    /// The bytes this read has to go through.
    pub fn to_read(&self) -> u64 {
        self.size.saturating_sub(self.offset)
    }
}

/// A file read: what to commit, and what went wrong on the way.
pub struct FileRead {
    pub file: ImportedFile,
    pub path: PathBuf,
    /// Where the read started.
    pub offset: u64,
    pub malformed: u64,
    pub error: Option<String>,
    /// Events read but left to the proxy's records.
    pub left_to_proxy: u64,
    /// Its size was learnt by its reader (not counted in the import's bytes to read).
    pub stated_late: bool,
    index: HashMap<String, usize>,
}

impl FileRead {
    pub fn for_job(job: &FileJob, agent: &str) -> Self {
        Self {
            file: ImportedFile {
                key: job.key.clone(),
                agent: agent.to_string(),
                profile: job.profile.clone(),
                size: job.size,
                mtime_ns: job.mtime_ns,
                inode: job.inode,
                consumed: job.offset,
                state: job.state.clone(),
                ..Default::default()
            },
            path: job.path.clone(),
            offset: job.offset,
            malformed: 0,
            error: None,
            left_to_proxy: 0,
            stated_late: !job.stated,
            index: HashMap::new(),
        }
    }

    /// Adds an event: a bad one counts as malformed; one whose key this file already
    /// gave is kept once, as the copy with the largest token total.
    pub fn push(&mut self, event: UsageEvent) {
        if event.validate().is_err() {
            self.malformed += 1;
            return;
        }
        if let (Some(ts), Some(sid)) = (event.ts, event.session_id.as_ref()) {
            let e = self.file.sessions.entry(sid.clone()).or_insert((ts, ts));
            e.0 = e.0.min(ts);
            e.1 = e.1.max(ts);
        }
        let Some(key) = event.dedupe_key.clone() else {
            self.file.events.push(event);
            return;
        };
        match self.index.get(&key) {
            Some(&i) => {
                if event.tokens.total() > self.file.events[i].tokens.total() {
                    self.file.events[i] = event;
                }
            }
            None => {
                self.index.insert(key, self.file.events.len());
                self.file.events.push(event);
            }
        }
    }

    /// Before the commit: drops the events of a file read before that are older than
    /// what the retention dropped (counted then; their keys are gone).
    pub fn settle(&mut self, job: &FileJob, pruned_before: i64) {
        if job.seen_before && pruned_before > 0 {
            self.file
                .events
                .retain(|e| e.ts.is_none_or(|ts| ts >= pruned_before));
        }
    }

    /// After the read: the hash of the bytes before the new mark.
    pub fn seal(&mut self) {
        self.file.tail = tail_hash(&self.path, self.file.consumed).unwrap_or(0);
    }

    /// Marks the whole file as read (formats that read whole files).
    pub fn read_whole(&mut self) {
        self.file.consumed = self.file.size;
    }
}

/// Bytes hashed before a mark.
const TAIL: u64 = 64;

/// A hash of the (up to) 64 bytes of `path` before `offset`; `None` when unreadable.
pub fn tail_hash(path: &Path, offset: u64) -> Option<i64> {
    use std::os::unix::fs::FileExt;
    if offset == 0 {
        return Some(0);
    }
    let start = offset.saturating_sub(TAIL);
    let mut buf = vec![0u8; (offset - start) as usize];
    let f = File::open(path).ok()?;
    f.read_exact_at(&mut buf, start).ok()?;
    let h = crate::store::usage::key_hash(&String::from_utf8_lossy(&buf));
    Some(if h == 0 { 1 } else { h })
}

/// The whole of `path`, whose size was `size` when it was found: one `read` into a buffer
/// of that size and a byte more (a shorter answer is the end of a regular file), so no
/// second `stat` and no read that only finds the end; a file that grew meanwhile is read on.
pub fn read_file(path: &Path, size: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{ErrorKind, Read};
    let mut f = File::open(path)?;
    let size = usize::try_from(size).unwrap_or(usize::MAX - 1);
    let mut buf = vec![0u8; size.saturating_add(1).min(64 << 20)];
    let mut n = 0;
    loop {
        if n == buf.len() {
            buf.resize(buf.len().saturating_mul(2).max(4096), 0);
        }
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => {
                n += k;
                if n >= size && n < buf.len() {
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(n);
    Ok(buf)
}

/// Whether the file still holds, before `job.offset`, what was read there: a file
/// truncated and written again (same inode, size past the mark) does not.
pub fn still_there(job: &FileJob) -> bool {
    job.offset == 0 || job.tail == 0 || tail_hash(&job.path, job.offset) == Some(job.tail)
}

/// Reads the complete lines of `path` from `r.offset`, calling `line(r, bytes)` for each
/// line that contains `needle` (the others are skipped without parsing). An incomplete
/// last line is left for the next read.
pub fn read_lines(
    path: &Path,
    r: &mut FileRead,
    needle: &[u8],
    mut line: impl FnMut(&mut FileRead, &[u8]),
) {
    let file = File::open(path).and_then(|mut f| f.seek(SeekFrom::Start(r.offset)).map(|_| f));
    let f = match file {
        Ok(f) => f,
        Err(e) => {
            r.error = Some(e.to_string());
            return;
        }
    };
    lines_from(
        BufReader::with_capacity(256 * 1024, f),
        r,
        needle,
        &mut line,
    );
}

/// [`read_lines`] over any reader (tests feed strings).
pub fn lines_from(
    mut reader: impl BufRead,
    r: &mut FileRead,
    needle: &[u8],
    line: &mut impl FnMut(&mut FileRead, &[u8]),
) {
    let finder = memchr::memmem::Finder::new(needle);
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if buf.last() != Some(&b'\n') {
                    break; // an incomplete last line: read it next time
                }
                r.file.consumed += n as u64;
            }
            Err(e) => {
                r.error = Some(e.to_string());
                break;
            }
        }
        if finder.find(&buf).is_some() {
            line(r, &buf);
        }
    }
}

#[cfg(test)]
pub fn test_read(profile: &str) -> FileRead {
    FileRead::for_job(
        &FileJob {
            path: PathBuf::new(),
            key: String::new(),
            profile: profile.into(),
            size: 0,
            mtime_ns: 0,
            inode: 0,
            offset: 0,
            tail: 0,
            state: None,
            seen_before: false,
            keep_events: true,
            stated: true,
        },
        "test",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_whole_whatever_size_it_had_when_found() {
        let dir = std::env::temp_dir().join(format!("clown-read-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.json");
        let text: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &text).unwrap();
        // As found, grown since, shrunk since, empty when found.
        for size in [10_000, 100, 20_000, 0] {
            assert_eq!(read_file(&path, size).unwrap(), text, "{size}");
        }
        std::fs::write(&path, "").unwrap();
        assert!(read_file(&path, 5).unwrap().is_empty());
        assert!(read_file(&dir.join("gone"), 5).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
