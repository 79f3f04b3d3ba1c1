//! Import of Claude Code's own records: transcripts (`projects/**/*.jsonl`) and
//! `stats-cache.json`.
//!
//! Files are streamed line by line; lines without `"usage"` are skipped before any
//! parsing. Two threads parse files while the calling thread writes: each file's events,
//! sessions and read position are committed in one transaction, so a crash never leaves
//! half a file counted. A message is counted once per `message.id` (stricter than once per
//! (`message.id`, `requestId`): a sidechain replay with a new `requestId` is the same
//! response), keeping the copy with the largest token total, within a file and against
//! everything stored.
//! A file unchanged since the last import is not opened; a grown one is read from where
//! the last import stopped (only complete lines are consumed, so a line being written is
//! read next time). `stats-cache.json` then fills in the days no transcript covers.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc;

use jiff::tz::TimeZone;
use rusqlite::{Connection, params};
use serde::Deserialize;

use super::period::day_start;
use super::pricing::Tokens;
use super::scan::{Usage, parse_line};
use crate::store::StoreError;
use crate::store::usage::{Stored, UsageEvent, put_event, with_events};

/// The pseudo-profile for Claude data that belongs to no clown profile (the user's own
/// `~/.claude`, `CLAUDE_CONFIG_DIR`). It cannot collide with a real alias, which must
/// start with a letter or digit.
pub const UNASSIGNED_PROFILE: &str = "@claude";
pub const SOURCE_TRANSCRIPT: &str = "claude-transcript";
pub const SOURCE_STATS: &str = "claude-stats";

/// Whole files are committed together until a transaction holds about this many events.
const BATCH_EVENTS: usize = 20_000;

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
}

/// Progress after each file.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub files_done: usize,
    pub files_total: usize,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

struct FileJob {
    path: PathBuf,
    key: String,
    profile: String,
    size: u64,
    mtime_ns: i64,
    offset: u64,
}

struct FileResult {
    job: FileJob,
    events: Vec<UsageEvent>,
    /// sessionId → (first, last) timestamp.
    sessions: HashMap<String, (i64, i64)>,
    consumed: u64,
    malformed: u64,
    error: Option<String>,
}

/// All `*.jsonl` files under `dir/projects`, recursively, with their metadata (taken
/// from the directory entries: no extra path lookups), in byte order of their paths.
fn transcripts(dir: &Path) -> Vec<(PathBuf, std::fs::Metadata)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join("projects")];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            let p = e.path();
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file()
                && p.extension().is_some_and(|x| x == "jsonl")
                && let Ok(meta) = e.metadata()
            {
                out.push((p, meta));
            }
        }
    }
    out.sort_by(|a, b| {
        a.0.as_os_str()
            .as_encoded_bytes()
            .cmp(b.0.as_os_str().as_encoded_bytes())
    });
    out
}

fn parse_ts(raw: &[u8]) -> Option<i64> {
    std::str::from_utf8(raw)
        .ok()?
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_second())
}

fn text(raw: Option<&[u8]>) -> Option<String> {
    raw.map(|b| String::from_utf8_lossy(b).into_owned())
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    })
}

fn total(u: &Usage) -> u64 {
    u.input_tokens + u.output_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens
}

/// Reads a file from its offset: usage events (deduplicated within the file), sessions.
fn parse_file(job: FileJob) -> FileResult {
    let mut r = FileResult {
        consumed: job.offset,
        job,
        events: Vec::new(),
        sessions: HashMap::new(),
        malformed: 0,
        error: None,
    };
    let file =
        File::open(&r.job.path).and_then(|mut f| f.seek(SeekFrom::Start(r.job.offset)).map(|_| f));
    let mut reader = match file {
        Ok(f) => BufReader::with_capacity(256 * 1024, f),
        Err(e) => {
            r.error = Some(e.to_string());
            return r;
        }
    };
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut line = Vec::with_capacity(64 * 1024);
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(n) => {
                if line.last() != Some(&b'\n') {
                    break; // an incomplete last line: read it next time
                }
                r.consumed += n as u64;
            }
            Err(e) => {
                r.error = Some(e.to_string());
                break;
            }
        }
        if memchr::memmem::find(&line, b"\"usage\"").is_none() {
            continue;
        }
        let Ok(l) = parse_line(&line) else {
            r.malformed += 1;
            continue;
        };
        let Some(usage) = l.usage else { continue };
        let Some(ts) = l.timestamp.and_then(parse_ts) else {
            r.malformed += 1;
            continue;
        };
        if let Some(s) = l.session_id {
            let e = r
                .sessions
                .entry(String::from_utf8_lossy(s).into_owned())
                .or_insert((ts, ts));
            e.0 = e.0.min(ts);
            e.1 = e.1.max(ts);
        }
        // Message ids are unique per response: keying on the id alone is the
        // (message.id, requestId) rule and also catches a sidechain replay that carries a
        // new requestId.
        let key = match l.message_id {
            Some(id) => format!("claude:{}", String::from_utf8_lossy(id)),
            None => format!("claude-line:{:016x}", fnv(&line)),
        };
        let event = UsageEvent {
            profile: r.job.profile.clone(),
            agent: Some("claude".into()),
            provider: None,
            model: text(l.model).unwrap_or_else(|| "unknown".into()),
            ts: Some(ts),
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cache_creation_input_tokens: usage.cache_creation_input_tokens,
            cache_read_input_tokens: usage.cache_read_input_tokens,
            cache_creation_1h_input_tokens: usage
                .cache_creation
                .map(|c| c.ephemeral_1h_input_tokens)
                .unwrap_or(0),
            source: SOURCE_TRANSCRIPT.into(),
            session_id: text(l.session_id),
            dedupe_key: Some(key.clone()),
        };
        match index.get(&key) {
            Some(&i) => {
                let kept = &r.events[i];
                let kept_total = kept.input_tokens
                    + kept.output_tokens
                    + kept.cache_creation_input_tokens
                    + kept.cache_read_input_tokens;
                if total(&usage) > kept_total {
                    r.events[i] = event;
                }
            }
            None => {
                index.insert(key, r.events.len());
                r.events.push(event);
            }
        }
    }
    r
}

/// Writes whole parsed files in one transaction: a crash never leaves part of a file
/// counted, and batching many small files keeps the write cost per event low.
fn commit_file(
    conn: &mut Connection,
    batch: &[FileResult],
    summary: &mut Summary,
    now: i64,
) -> Result<(), StoreError> {
    let (added, replaced, dups, tokens) = with_events(conn, |tx, rollup| {
        let (mut added, mut replaced, mut dups) = (0u64, 0u64, 0u64);
        let mut tokens = Tokens::default();
        for r in batch {
            for e in &r.events {
                match put_event(tx, rollup, e, now)? {
                    Stored::Added => {
                        added += 1;
                        tokens.add(&Tokens {
                            input_tokens: e.input_tokens,
                            output_tokens: e.output_tokens,
                            cache_creation_input_tokens: e.cache_creation_input_tokens,
                            cache_read_input_tokens: e.cache_read_input_tokens,
                        });
                    }
                    Stored::Replaced(d) => {
                        replaced += 1;
                        // A larger copy of a message already counted: only the growth is new.
                        tokens.add(&Tokens {
                            input_tokens: d[0].max(0) as u64,
                            output_tokens: d[1].max(0) as u64,
                            cache_creation_input_tokens: d[2].max(0) as u64,
                            cache_read_input_tokens: d[3].max(0) as u64,
                        });
                    }
                    Stored::Duplicate => dups += 1,
                }
            }
            let mut stmt = tx.prepare_cached(
            "INSERT INTO usage_sessions (profile, started_at, ended_at, runtime_secs, exit_code, source, session_id)
             VALUES (?1, ?2, ?3, ?3 - ?2, NULL, ?4, ?5)
             ON CONFLICT(session_id) DO UPDATE SET
                 started_at = MIN(started_at, excluded.started_at),
                 ended_at = MAX(COALESCE(ended_at, excluded.ended_at), excluded.ended_at),
                 runtime_secs = MAX(COALESCE(ended_at, excluded.ended_at), excluded.ended_at)
                                - MIN(started_at, excluded.started_at)",
        )?;
            for (sid, (first, last)) in &r.sessions {
                stmt.execute(params![
                    r.job.profile,
                    first,
                    last,
                    SOURCE_TRANSCRIPT,
                    format!("claude:{}:{sid}", r.job.profile)
                ])?;
            }
            tx.prepare_cached(
            "INSERT INTO import_files (path, size, mtime_ns, offset, profile) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,
                 offset = excluded.offset, profile = excluded.profile",
        )?
        .execute(params![
            r.job.key,
            r.job.size as i64,
            r.job.mtime_ns,
            r.consumed as i64,
            r.job.profile
        ])?;
        }
        Ok((added, replaced, dups, tokens))
    })?;
    summary.events_added += added;
    summary.events_replaced += replaced;
    summary.duplicates += dups;
    summary.tokens.add(&tokens);
    Ok(())
}

/// Imports every source; `progress` is called after each file.
pub fn run(
    conn: &mut Connection,
    sources: &[ImportSource],
    tz: &TimeZone,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Summary, StoreError> {
    let mut summary = Summary::default();
    // A bigger page cache and rarer checkpoints while importing; restored afterwards.
    conn.pragma_update(None, "cache_size", -16_384)?;
    conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
    let result = import_all(conn, sources, tz, progress, &mut summary);
    conn.pragma_update(None, "cache_size", -2_000)?;
    conn.pragma_update(None, "wal_autocheckpoint", 1_000)?;
    result.map(|_| summary)
}

fn import_all(
    conn: &mut Connection,
    sources: &[ImportSource],
    tz: &TimeZone,
    progress: &(dyn Fn(Progress) + Sync),
    summary: &mut Summary,
) -> Result<(), StoreError> {
    let known: HashMap<String, (u64, i64, u64)> = {
        let mut stmt = conn.prepare("SELECT path, size, mtime_ns, offset FROM import_files")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                (
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)? as u64,
                ),
            ))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let mut jobs = Vec::new();
    for source in sources {
        // Canonical once per source: file keys are stable however the directory was named.
        let base = source
            .dir
            .canonicalize()
            .unwrap_or_else(|_| source.dir.clone());
        for (path, meta) in transcripts(&base) {
            let key = path.display().to_string();
            let (size, mtime_ns) = (meta.len(), meta.mtime() * 1_000_000_000 + meta.mtime_nsec());
            let offset = match known.get(&key) {
                Some(&(s, m, _)) if s == size && m == mtime_ns => {
                    summary.files_unchanged += 1;
                    continue;
                }
                Some(&(_, _, off)) if off <= size => off,
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
    let files_total = jobs.len();
    let bytes_total: u64 = jobs.iter().map(|j| j.size - j.offset).sum();
    let now = jiff::Timestamp::now().as_second();
    let mut session_ids = std::collections::HashSet::new();
    let queue = Mutex::new(jobs.into_iter());
    let (tx, rx) = mpsc::sync_channel::<FileResult>(8);
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
                    if tx.send(parse_file(job)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let (mut files_done, mut bytes_done) = (0, 0);
        let mut batch: Vec<FileResult> = Vec::new();
        let mut batch_events = 0;
        for r in rx {
            files_done += 1;
            bytes_done += r.job.size - r.job.offset;
            if failure.is_some() {
                continue;
            }
            if let Some(e) = &r.error {
                summary
                    .unreadable
                    .push(format!("{}: {e}", r.job.path.display()));
            }
            summary.malformed_lines += r.malformed;
            session_ids.extend(r.sessions.keys().cloned());
            if r.error.is_none() || r.consumed > r.job.offset {
                summary.files_read += 1;
                batch_events += r.events.len() + 1;
                batch.push(r);
                if batch_events >= BATCH_EVENTS {
                    if let Err(e) = commit_file(conn, &batch, summary, now) {
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
            && let Err(e) = commit_file(conn, &batch, summary, now)
        {
            failure = Some(e);
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    summary.sessions = session_ids.len();
    for source in sources {
        import_stats(conn, source, tz, summary, now)?;
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatsCache {
    #[serde(default)]
    daily_model_tokens: Vec<DailyModelTokens>,
    #[serde(default)]
    model_usage: HashMap<String, ModelUsage>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DailyModelTokens {
    date: String,
    #[serde(default)]
    tokens_by_model: HashMap<String, u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ModelUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: u64,
    #[serde(default)]
    cache_creation_input_tokens: u64,
}

/// Splits a day's total over the four kinds in the model's all-time proportions (the
/// daily figures carry only totals); without proportions it counts as input.
fn split(total: u64, mix: Option<&ModelUsage>) -> Tokens {
    let Some(m) = mix else {
        return Tokens {
            input_tokens: total,
            ..Default::default()
        };
    };
    let parts = [
        m.input_tokens,
        m.cache_creation_input_tokens,
        m.cache_read_input_tokens,
        m.output_tokens,
    ];
    let sum: u128 = parts.iter().map(|&p| p as u128).sum();
    if sum == 0 {
        return Tokens {
            input_tokens: total,
            ..Default::default()
        };
    }
    let share = |p: u64| ((total as u128 * p as u128) / sum) as u64;
    let (i, cw, cr) = (share(parts[0]), share(parts[1]), share(parts[2]));
    Tokens {
        input_tokens: i,
        cache_creation_input_tokens: cw,
        cache_read_input_tokens: cr,
        output_tokens: total - i - cw - cr,
    }
}

/// Adds the days of `stats-cache.json` that no transcript of this source's profile covers.
fn import_stats(
    conn: &mut Connection,
    source: &ImportSource,
    tz: &TimeZone,
    summary: &mut Summary,
    now: i64,
) -> Result<(), StoreError> {
    let path = source.dir.join("stats-cache.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let stats: StatsCache = match serde_json::from_str(&text) {
        Ok(s) => s,
        Err(e) => {
            summary.unreadable.push(format!("{}: {e}", path.display()));
            return Ok(());
        }
    };
    let mut days = 0;
    let mut tokens = Tokens::default();
    with_events(conn, |tx, rollup| {
        for day in &stats.daily_model_tokens {
            let Ok(date) = day.date.parse::<jiff::civil::Date>() else {
                summary.malformed_lines += 1;
                continue;
            };
            let start = day_start(date, tz);
            let end = date
                .tomorrow()
                .map(|d| day_start(d, tz))
                .unwrap_or(start + 86_400);
            let covered: bool = tx
                .prepare_cached(
                    "SELECT EXISTS(SELECT 1 FROM usage_events WHERE ts >= ?1 AND ts < ?2 AND profile = ?3 AND source = ?4)",
                )?
                .query_row(params![start, end, source.profile, SOURCE_TRANSCRIPT], |r| r.get(0))?;
            if covered {
                continue;
            }
            let mut counted = false;
            for (model, &total) in &day.tokens_by_model {
                let t = split(total, stats.model_usage.get(model));
                let e = UsageEvent {
                    profile: source.profile.clone(),
                    agent: Some("claude".into()),
                    provider: None,
                    model: model.clone(),
                    ts: Some(start + (end - start) / 2),
                    input_tokens: t.input_tokens,
                    output_tokens: t.output_tokens,
                    cache_creation_input_tokens: t.cache_creation_input_tokens,
                    cache_read_input_tokens: t.cache_read_input_tokens,
                    cache_creation_1h_input_tokens: 0,
                    source: SOURCE_STATS.into(),
                    session_id: None,
                    dedupe_key: Some(format!(
                        "claude-stats:{}:{}:{model}",
                        source.profile, day.date
                    )),
                };
                if put_event(tx, rollup, &e, now)? != Stored::Duplicate {
                    tokens.add(&t);
                    counted = true;
                }
            }
            if counted {
                days += 1;
            }
        }
        Ok(())
    })?;
    summary.stats_days += days;
    summary.stats_tokens.add(&tokens);
    Ok(())
}
