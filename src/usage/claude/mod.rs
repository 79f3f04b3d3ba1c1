//! Import of Claude Code's own records: [`transcripts`] (`projects/**/*.jsonl`, read with
//! the fast [`line`] parser) and [`stats`] (`stats-cache.json`).
//!
//! Two threads read files while the calling thread writes: whole files are committed
//! together (`store::imports`), so a crash never leaves half a file counted. A message is
//! counted once per `message.id` (stricter than once per (`message.id`, `requestId`): a
//! sidechain replay with a new `requestId` is the same response), keeping the copy with
//! the largest token total, within a file and against everything stored. A file
//! unchanged since the last import is not opened; a grown one is read from where the
//! last import stopped. `stats-cache.json` then fills in the days no transcript covers.

mod line;
mod sources;
mod stats;
mod transcripts;

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::mpsc;

use crate::store::imports::{self, Counted, ImportedFile};
use crate::store::{Store, StoreError};
use crate::tokens::Tokens;
use jiff::tz::TimeZone;
pub use sources::sources;
use transcripts::{FileJob, FileRead};

/// The pseudo-profile for Claude data that belongs to no clown profile (the user's own
/// `~/.claude`, `CLAUDE_CONFIG_DIR`). It cannot collide with a real alias, which must
/// start with a letter or digit.
pub const UNASSIGNED_PROFILE: &str = "@claude";
pub const SOURCE_TRANSCRIPT: &str = "claude-transcript";
pub const SOURCE_STATS: &str = "claude-stats";

/// Whole files are committed together until a transaction holds about this many events;
/// the writer is taken for one batch at a time, so other writes wait for one batch at
/// most, and reads (on their own connections) not at all.
const BATCH_EVENTS: usize = 5_000;

/// One Claude data directory and the profile its usage belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportSource {
    pub dir: PathBuf,
    pub profile: String,
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
    pub stats_days: usize,
    pub stats_tokens: Tokens,
}

impl Summary {
    /// The one-line summary the API answers, in the reference's style.
    pub fn line(&self) -> String {
        let t = &self.tokens;
        let mut s = format!(
            "Imported {} input tokens, {} output tokens, {} cache write and {} cache read tokens from {} JSONL files",
            t.input_tokens,
            t.output_tokens,
            t.cache_creation_input_tokens,
            t.cache_read_input_tokens,
            self.files_read
        );
        if self.stats_days > 0 {
            s.push_str(&format!(
                " and {} input tokens, {} output tokens from stats-cache.json ({} days no transcript covers)",
                self.stats_tokens.input_tokens, self.stats_tokens.output_tokens, self.stats_days
            ));
        }
        s.push_str(&format!(
            ". Found {} session entries from JSONL files; {} new messages, {} updated, {} duplicates skipped, {} files unchanged, {} malformed lines",
            self.sessions, self.events_added, self.events_replaced, self.duplicates, self.files_unchanged, self.malformed_lines
        ));
        if !self.unreadable.is_empty() {
            s.push_str(&format!(
                ", {} unreadable files ({})",
                self.unreadable.len(),
                self.unreadable.join(", ")
            ));
        }
        s
    }

    fn count(&mut self, c: Counted) {
        self.events_added += c.added;
        self.events_replaced += c.replaced;
        self.duplicates += c.duplicates;
        self.tokens.add(&c.tokens);
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

/// The dedupe key of a transcript line: its message id, or a hash of the line.
fn dedupe_key(message_id: Option<&[u8]>, line: &[u8]) -> String {
    match message_id {
        // Message ids are unique per response: keying on the id alone is the
        // (message.id, requestId) rule and also catches a sidechain replay that carries a
        // new requestId.
        Some(id) => format!("claude:{}", String::from_utf8_lossy(id)),
        None => format!("claude-line:{:016x}", fnv(line)),
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    })
}

/// Imports every source; `progress` is called after each file. Blocking: run it on a
/// blocking thread.
pub fn run(
    store: &Store,
    sources: &[ImportSource],
    tz: &TimeZone,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Summary, StoreError> {
    let mut summary = Summary::default();
    import_all(store, sources, tz, progress, &mut summary)?;
    Ok(summary)
}

/// The files to read: new ones whole, grown ones from their mark, unchanged ones not.
fn jobs(
    store: &Store,
    sources: &[ImportSource],
    summary: &mut Summary,
) -> Result<Vec<FileJob>, StoreError> {
    let marks = store.call_blocking(|c| imports::marks(c))?;
    let mut jobs = Vec::new();
    for source in sources {
        // Canonical once per source: file keys are stable however the directory was named.
        let base = source
            .dir
            .canonicalize()
            .unwrap_or_else(|_| source.dir.clone());
        for (path, meta) in transcripts::find(&base) {
            let key = path.display().to_string();
            let (size, mtime_ns) = (meta.len(), meta.mtime() * 1_000_000_000 + meta.mtime_nsec());
            let offset = match marks.get(&key) {
                Some(m) if m.size == size && m.mtime_ns == mtime_ns => {
                    summary.files_unchanged += 1;
                    continue;
                }
                Some(m) if m.offset <= size => m.offset,
                _ => 0,
            };
            jobs.push(FileJob {
                path,
                key,
                profile: source.profile.clone(),
                size,
                mtime_ns,
                offset,
            });
        }
    }
    Ok(jobs)
}

fn commit(
    store: &Store,
    batch: &[ImportedFile],
    summary: &mut Summary,
    now: i64,
) -> Result<(), StoreError> {
    let counted = store
        .call_blocking(|c| imports::commit_files(c, batch, SOURCE_TRANSCRIPT, "claude", now))?;
    summary.count(counted);
    Ok(())
}

fn import_all(
    store: &Store,
    sources: &[ImportSource],
    tz: &TimeZone,
    progress: &(dyn Fn(Progress) + Sync),
    summary: &mut Summary,
) -> Result<(), StoreError> {
    let jobs = jobs(store, sources, summary)?;
    let files_total = jobs.len();
    let bytes_total: u64 = jobs.iter().map(|j| j.size - j.offset).sum();
    let now = jiff::Timestamp::now().as_second();
    let mut session_ids = HashSet::new();
    let queue = Mutex::new(jobs.into_iter());
    let (tx, rx) = mpsc::sync_channel::<FileRead>(8);
    let mut failure = None;
    std::thread::scope(|scope| {
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(1, 4);
        for _ in 0..workers {
            let tx = tx.clone();
            let queue = &queue;
            scope.spawn(move || {
                loop {
                    let job = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                    let Some(job) = job else { break };
                    if tx.send(transcripts::read(job)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let (mut files_done, mut bytes_done) = (0, 0);
        let mut batch: Vec<ImportedFile> = Vec::new();
        let mut batch_events = 0;
        for r in rx {
            files_done += 1;
            bytes_done += r.file.size - r.offset;
            if failure.is_some() {
                continue;
            }
            if let Some(e) = &r.error {
                summary
                    .unreadable
                    .push(format!("{}: {e}", r.path.display()));
            }
            summary.malformed_lines += r.malformed;
            session_ids.extend(r.file.sessions.keys().cloned());
            if r.error.is_none() || r.file.consumed > r.offset {
                summary.files_read += 1;
                batch_events += r.file.events.len() + 1;
                batch.push(r.file);
                if batch_events >= BATCH_EVENTS {
                    if let Err(e) = commit(store, &batch, summary, now) {
                        failure = Some(e);
                    }
                    batch.clear();
                    batch_events = 0;
                }
            }
            progress(Progress {
                files_done,
                files_total,
                bytes_done,
                bytes_total,
            });
        }
        if failure.is_none()
            && !batch.is_empty()
            && let Err(e) = commit(store, &batch, summary, now)
        {
            failure = Some(e);
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    summary.sessions = session_ids.len();
    for source in sources {
        import_stats(store, source, tz, summary, now)?;
    }
    Ok(())
}

/// Adds the days of `stats-cache.json` that no transcript of this source's profile covers.
fn import_stats(
    store: &Store,
    source: &ImportSource,
    tz: &TimeZone,
    summary: &mut Summary,
    now: i64,
) -> Result<(), StoreError> {
    let path = source.dir.join("stats-cache.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let cache: stats::StatsCache = match serde_json::from_str(&text) {
        Ok(s) => s,
        Err(e) => {
            summary.unreadable.push(format!("{}: {e}", path.display()));
            return Ok(());
        }
    };
    let (days, malformed) = stats::days(&cache, &source.profile, tz);
    summary.malformed_lines += malformed;
    let (added_days, counted) = store.call_blocking(|c| {
        imports::add_uncovered_days(c, &source.profile, SOURCE_TRANSCRIPT, &days, now)
    })?;
    summary.stats_days += added_days;
    summary.stats_tokens.add(&counted.tokens);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupe_keys() {
        assert_eq!(dedupe_key(Some(b"msg_1"), b"x"), "claude:msg_1");
        let a = dedupe_key(None, b"line a");
        assert!(a.starts_with("claude-line:") && a != dedupe_key(None, b"line b"));
        assert_eq!(a, dedupe_key(None, b"line a"));
    }
}
