//! The import of an agent's own usage logs, for every agent: a [`Format`] finds its files
//! under a root and reads one from where the last import stopped; this module does the
//! rest, the same for all of them.
//!
//! Worker threads read files, a chunk of them at a time, and hand each chunk to the calling
//! thread, which writes: whole files are committed together (`store::imports`), so a crash
//! never leaves half a file counted, and a file's
//! read position (and whatever state its reader carries from one read to the next) is in
//! the same transaction as its events. A file unchanged since the last import is not
//! opened; a grown one is read from where the last import stopped; one that shrank or
//! was replaced is read again from the start, and the store's keys keep what was counted
//! from being counted twice. Events of a file read before whose time is older than what
//! the retention has dropped are skipped: they were counted then, and their keys are gone.

mod file;
pub mod walk;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc;

pub use file::{FileJob, FileRead, Found, read_file, read_lines};

use crate::store::imports::{self, Counted, ImportedFile};
use crate::store::usage::{Fast, key_hash};
use crate::store::{Store, StoreError};
use crate::tokens::Tokens;

/// Whole files are committed together, written as they are read, until the transaction
/// has been open this long or holds about this many events or files (tens of thousands
/// of one-event files, Droid's sessions, made batches of 5,000 files that each rewrote
/// the same rollup rows and waited for the whole batch to be read): the writer is taken
/// for one transaction at a time, so other writes wait for one at most (a quarter of a
/// second plus its commit), and reads (on their own connections) not at all.
const BATCH_TIME: std::time::Duration = std::time::Duration::from_millis(250);
const BATCH_EVENTS: usize = 50_000;
const BATCH_FILES: usize = 50_000;

/// One agent's log format.
pub trait Format: Sync {
    /// The agent id, as in the catalogue (`codex`).
    fn agent(&self) -> &'static str;
    /// The `source` of its events (`codex-log`).
    fn source(&self) -> &'static str;
    /// What the summary calls its files ("JSONL files").
    fn files_noun(&self) -> &'static str {
        "files"
    }
    /// The files under `root` to consider.
    fn find(&self, root: &std::path::Path, out: &mut Vec<Found>);
    /// For a first import (no file of the agent read before, so none can be skipped as
    /// unchanged): the files by name only, where the format's files are small and read
    /// whole; their readers stat them, in parallel, rather than the walk before any is
    /// read. `false`: not supported, [`Self::find`] is used.
    fn find_unstated(&self, _root: &std::path::Path, _out: &mut Vec<Found>) -> bool {
        false
    }
    /// The log file under `root` a changed path is (or is part of), if any.
    fn log_of(&self, root: &Path, changed: &Path) -> Option<PathBuf>;
    /// A log file's size, time and inode (what tells whether it changed).
    fn stat(&self, path: &Path) -> Option<Found> {
        std::fs::metadata(path)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| Found::of(path.to_path_buf(), &m))
    }
    /// Whether this file is read whole whenever it changed (rewritten JSON, a database):
    /// then no position within it is kept.
    fn whole(&self, _path: &Path) -> bool {
        false
    }
    /// The directories under `root` whose changes matter, and whether their
    /// subdirectories do too.
    fn watch_dirs(&self, root: &Path) -> Vec<(PathBuf, bool)> {
        vec![(root.to_path_buf(), true)]
    }
    /// Reads one file from `job.offset` (or whole, for a format whose files are
    /// rewritten) into `out`.
    fn read(&self, job: &FileJob, out: &mut FileRead);
}

/// One directory of an agent's data and the profile its usage belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportSource {
    pub dir: PathBuf,
    pub profile: String,
    /// The profile's requests go through its proxy, which records their usage: its logs
    /// are read (marks advance) but their events are left to the proxy's records.
    pub proxied: bool,
}

#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub files_read: usize,
    pub files_unchanged: usize,
    pub unreadable: Vec<String>,
    pub malformed_lines: u64,
    pub events_added: u64,
    pub events_replaced: u64,
    pub duplicates: u64,
    pub tokens: Tokens,
    pub sessions: usize,
    /// Events of proxied profiles, which the proxy recorded.
    pub left_to_proxy: u64,
}

impl Summary {
    pub fn count(&mut self, c: Counted) {
        self.events_added += c.added;
        self.events_replaced += c.replaced;
        self.duplicates += c.duplicates;
        self.tokens.add(&c.tokens);
    }

    /// Whether the import changed anything.
    pub fn changed(&self) -> bool {
        self.events_added + self.events_replaced > 0
    }

    /// ", N unreadable files (…)" when there are some.
    pub fn unreadable_note(&self) -> String {
        if self.unreadable.is_empty() {
            return String::new();
        }
        format!(
            ", {} unreadable files ({})",
            self.unreadable.len(),
            self.unreadable.join(", ")
        )
    }
}

/// Progress after each file.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub files_done: usize,
    pub files_total: usize,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

/// Only the log files these changed paths belong to are looked at (a live import);
/// `None` = every file of the sources.
pub type Only<'a> = Option<&'a HashSet<PathBuf>>;

/// Imports every source of one format; `progress` is called after each file. Blocking:
/// run it on a blocking thread.
pub fn run(
    store: &Store,
    format: &dyn Format,
    sources: &[ImportSource],
    only: Only,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Summary, StoreError> {
    let mut summary = Summary::default();
    let jobs = jobs(store, format, sources, only, &mut summary)?;
    let pruned_before = store.call_blocking(|c| crate::store::retention::pruned_before(c))?;
    read_and_commit(store, format, jobs, pruned_before, progress, &mut summary)?;
    Ok(summary)
}

/// The files to read: new ones whole, grown ones from their mark, unchanged ones not.
fn jobs(
    store: &Store,
    format: &dyn Format,
    sources: &[ImportSource],
    only: Only,
    summary: &mut Summary,
) -> Result<Vec<FileJob>, StoreError> {
    let agent = format.agent();
    // A whole walk compares with every mark of the agent: read first, so a first import
    // (none) can leave the files' stat to their readers.
    let all_marks = match only {
        Some(_) => None,
        None => Some(store.call_blocking(|c| imports::marks(c, agent))?),
    };
    let first = all_marks.as_ref().is_some_and(|m| m.is_empty());
    let mut per_source = Vec::new();
    for source in sources {
        // Canonical once per source: file keys are stable however the directory was named.
        let base = source
            .dir
            .canonicalize()
            .unwrap_or_else(|_| source.dir.clone());
        let mut found = Vec::new();
        match only {
            // A live import: only the files that changed, without walking the tree.
            Some(paths) => found.extend(
                paths
                    .iter()
                    .filter_map(|p| format.log_of(&base, p))
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .filter_map(|p| format.stat(&p)),
            ),
            None => {
                if !(first && format.find_unstated(&base, &mut found)) {
                    format.find(&base, &mut found);
                }
            }
        }
        found.sort_by(|a, b| {
            a.path
                .as_os_str()
                .as_encoded_bytes()
                .cmp(b.path.as_os_str().as_encoded_bytes())
        });
        per_source.push((source, found));
    }
    let marks = match all_marks {
        Some(marks) => marks,
        None => {
            let keys: Vec<String> = per_source
                .iter()
                .flat_map(|(_, found)| found.iter().map(|f| f.path.display().to_string()))
                .collect();
            store.call_blocking(|c| imports::marks_of(c, &keys))?
        }
    };
    let mut jobs = Vec::new();
    // A file under two sources (one directory inside another) is read once; one walk
    // finds each file once.
    let several = per_source.len() > 1;
    let mut seen = HashSet::new();
    for (source, found) in per_source {
        for f in found {
            if several && !seen.insert(f.path.clone()) {
                continue;
            }
            let key = match f.path.to_str() {
                Some(k) => k.to_owned(),
                None => f.path.display().to_string(),
            };
            let mark = marks.get(&key);
            // Another file under the same name (rotated, replaced): read from its start.
            let same = mark.filter(|m| m.inode == 0 || m.inode == f.inode);
            let offset = match same {
                Some(m) if m.size == f.size && m.mtime_ns == f.mtime_ns => {
                    summary.files_unchanged += 1;
                    continue;
                }
                Some(m) if m.offset <= f.size => m.offset,
                _ => 0,
            };
            jobs.push(FileJob {
                path: f.path,
                key,
                profile: source.profile.clone(),
                size: f.size,
                mtime_ns: f.mtime_ns,
                inode: f.inode,
                offset,
                tail: same.map(|m| m.tail).unwrap_or(0),
                state: same
                    .filter(|m| m.offset <= f.size)
                    .and_then(|m| m.state.clone()),
                seen_before: mark.is_some(),
                keep_events: !source.proxied,
                stated: f.stated,
            });
        }
    }
    Ok(jobs)
}

/// A worker takes this many files (or about this many bytes to read) at a time and hands
/// what it read to the writer in one message: tens of thousands of small files (Droid's
/// sessions) made one hand-off per file cost more than reading them.
const CHUNK_FILES: usize = 128;
const CHUNK_BYTES: u64 = 1 << 20;

/// Chunks read ahead of the writer: enough that the workers go on reading most of a batch
/// while the writer commits the one before (with 4, they stopped after 512 files, and
/// reading and writing took turns instead of running together).
const READ_AHEAD: usize = 32;

type Queue = Mutex<std::iter::Peekable<std::vec::IntoIter<FileJob>>>;

/// The next files for a worker: at least one, then while the chunk is under both limits.
fn next_chunk(queue: &Queue) -> Vec<FileJob> {
    let mut queue = queue.lock().unwrap_or_else(|p| p.into_inner());
    let mut chunk = Vec::new();
    let mut bytes = 0;
    while chunk.len() < CHUNK_FILES && (chunk.is_empty() || bytes < CHUNK_BYTES) {
        let Some(job) = queue.next() else { break };
        bytes += job.to_read();
        chunk.push(job);
        if queue
            .peek()
            .is_some_and(|next| bytes + next.to_read() > CHUNK_BYTES)
        {
            break;
        }
    }
    chunk
}

/// Reads one file (on a worker thread).
fn read_one(format: &dyn Format, mut job: FileJob, pruned_before: i64) -> FileRead {
    if !job.stated {
        match format.stat(&job.path) {
            Some(f) => (job.size, job.mtime_ns, job.inode) = (f.size, f.mtime_ns, f.inode),
            None => {
                let mut read = FileRead::for_job(&job, format.agent());
                read.error = Some("not found".into());
                return read;
            }
        }
    }
    let whole = format.whole(&job.path);
    if !whole && !file::still_there(&job) {
        // Rewritten under the same name: from the start, keys dedupe.
        job.offset = 0;
        job.state = None;
    }
    let mut read = FileRead::for_job(&job, format.agent());
    format.read(&job, &mut read);
    if !whole {
        read.seal();
    }
    read.settle(&job, pruned_before);
    if !job.keep_events {
        read.left_to_proxy = read.file.events.len() as u64;
        read.file.events.clear();
    }
    read
}

fn read_and_commit(
    store: &Store,
    format: &dyn Format,
    jobs: Vec<FileJob>,
    pruned_before: i64,
    progress: &(dyn Fn(Progress) + Sync),
    summary: &mut Summary,
) -> Result<(), StoreError> {
    let files_total = jobs.len();
    let bytes_total: u64 = jobs.iter().map(FileJob::to_read).sum();
    let now = jiff::Timestamp::now().as_second();
    // The sessions seen, by the hash of their id: nothing copied per file.
    let mut session_ids: HashSet<i64, std::hash::BuildHasherDefault<Fast>> = HashSet::default();
    let queue = Mutex::new(jobs.into_iter().peekable());
    let (tx, rx) = mpsc::sync_channel::<Vec<FileRead>>(READ_AHEAD);
    let mut failure = None;
    std::thread::scope(|scope| {
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(1, 4)
            .min(files_total.max(1));
        for _ in 0..workers {
            let tx = tx.clone();
            let queue = &queue;
            scope.spawn(move || {
                // The writer is the import's long pole: on a CPU both want, it goes first
                // (the readers are up to `READ_AHEAD` chunks ahead of it anyway).
                crate::lane::lower_priority();
                loop {
                    let chunk = next_chunk(queue);
                    if chunk.is_empty() {
                        break;
                    }
                    let reads = chunk
                        .into_iter()
                        .map(|job| read_one(format, job, pruned_before))
                        .collect();
                    if tx.send(reads).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // What was read and written is freed on a thread of its own: the writer, on
        // which the import waits, only writes.
        let (drop_tx, drop_rx) = mpsc::channel::<Box<dyn Send>>();
        scope.spawn(move || {
            crate::lane::lower_priority();
            drop_rx.into_iter().for_each(drop)
        });
        let mut taker = Taker {
            summary: &mut *summary,
            progress,
            session_ids: &mut session_ids,
            files_done: 0,
            files_total,
            bytes_done: 0,
            bytes_total,
        };
        let (source, agent) = (format.source(), format.agent());
        // The first chunk is waited for without holding the writer; the transaction
        // then takes what the workers read until it is full, old or they are done.
        while let Ok(reads) = rx.recv() {
            let mut first = Some(reads);
            let (started, mut files, mut events) = (std::time::Instant::now(), 0, 0);
            let mut next = || {
                let reads = match first.take() {
                    Some(reads) => reads,
                    None if files >= BATCH_FILES || events >= BATCH_EVENTS => return None,
                    None => {
                        let left = BATCH_TIME.checked_sub(started.elapsed())?;
                        rx.recv_timeout(left).ok()?
                    }
                };
                let taken = taker.take(reads, &drop_tx);
                files += taken.len();
                events += taken.iter().map(|f| f.events.len()).sum::<usize>();
                Some(taken)
            };
            if failure.is_some() {
                while next().is_some() {}
                continue;
            }
            let done = store.call_blocking(|c| imports::commit_stream(c, source, agent, now, next));
            match done {
                Ok((counted, groups)) => {
                    taker.summary.count(counted);
                    let _ = drop_tx.send(Box::new(groups));
                }
                Err(e) => failure = Some(e),
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    summary.sessions = session_ids.len();
    Ok(())
}

/// What the writer does with each chunk the workers read: counts it in the summary,
/// reports progress, and keeps the files that have something to commit.
struct Taker<'a> {
    summary: &'a mut Summary,
    progress: &'a (dyn Fn(Progress) + Sync),
    session_ids: &'a mut HashSet<i64, std::hash::BuildHasherDefault<Fast>>,
    files_done: usize,
    files_total: usize,
    bytes_done: u64,
    bytes_total: u64,
}

impl Taker<'_> {
    fn take(
        &mut self,
        mut reads: Vec<FileRead>,
        freed: &mpsc::Sender<Box<dyn Send>>,
    ) -> Vec<ImportedFile> {
        let mut files = Vec::with_capacity(reads.len());
        for r in &mut reads {
            self.files_done += 1;
            if r.stated_late {
                // Its size is known now: counted on both sides.
                self.bytes_total += r.file.size;
            }
            self.bytes_done += r.file.size.saturating_sub(r.offset);
            if let Some(e) = &r.error {
                self.summary
                    .unreadable
                    .push(format!("{}: {e}", r.path.display()));
            }
            self.summary.malformed_lines += r.malformed;
            self.summary.left_to_proxy += r.left_to_proxy;
            self.session_ids
                .extend(r.file.sessions.keys().map(|s| key_hash(s)));
            if r.error.is_none() || r.file.consumed > r.offset {
                self.summary.files_read += 1;
                files.push(std::mem::take(&mut r.file));
            }
            (self.progress)(Progress {
                files_done: self.files_done,
                files_total: self.files_total,
                bytes_done: self.bytes_done,
                bytes_total: self.bytes_total,
            });
        }
        let _ = freed.send(Box::new(reads));
        files
    }
}

#[cfg(test)]
pub mod file_test {
    use super::FileRead;
    pub use super::file::test_read;

    /// Feeds `text` to a line handler as if it were a file.
    pub fn lines(
        text: &str,
        r: &mut FileRead,
        needle: &[u8],
        mut f: impl FnMut(&mut FileRead, &[u8]),
    ) {
        super::file::lines_from(text.as_bytes(), r, needle, &mut f);
    }
}
