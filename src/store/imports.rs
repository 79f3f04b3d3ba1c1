//! What imports of agents' own records write: their events and sessions, and how far
//! each file was read (`import_files`), committed together per batch of whole files; and
//! the days a daily summary adds where no finer record covers them.
//!
//! A crash never leaves part of a file counted: a file's events, sessions and read
//! position are in the same transaction.

use std::collections::HashMap;
use std::fmt::Write as _;

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use super::usage::{Held, Stored, put_event, put_event_held, with_events};
use crate::records::UsageEvent;
use crate::tokens::Tokens;

/// Where the last import stopped in a file: size and mtime then, the offset consumed,
/// and the state its reader carries to the next read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMark {
    pub size: u64,
    pub mtime_ns: i64,
    pub offset: u64,
    pub state: Option<String>,
    /// The file's inode then (0: not known).
    pub inode: u64,
    /// A hash of the bytes just before `offset` (0: not known).
    pub tail: i64,
}

/// One file's share of an import: its events, the sessions it saw, and its new mark.
#[derive(Debug, Default)]
pub struct ImportedFile {
    /// The file's key (its canonical path).
    pub key: String,
    /// The agent whose log it is.
    pub agent: String,
    pub profile: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub inode: u64,
    /// A hash of the bytes just before `consumed`.
    pub tail: i64,
    /// The offset consumed (only whole lines are).
    pub consumed: u64,
    pub events: Vec<UsageEvent>,
    /// Session id → first and last timestamp seen in this file.
    pub sessions: HashMap<String, (i64, i64)>,
    /// What the reader carries to the next read of this file.
    pub state: Option<String>,
}

/// What a commit did with the events it was given.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub added: u64,
    pub replaced: u64,
    pub duplicates: u64,
    /// The tokens that are new: added events whole, replaced ones by their growth.
    pub tokens: Tokens,
}

impl Counted {
    fn count(&mut self, stored: Stored, e: &UsageEvent) {
        match stored {
            Stored::Added => {
                self.added += 1;
                self.tokens.add(&e.tokens);
            }
            Stored::Replaced(growth) => {
                self.replaced += 1;
                self.tokens.add(&growth);
            }
            Stored::Duplicate => self.duplicates += 1,
        }
    }
}

/// The marks of every file of `agent` imported so far.
pub fn marks(conn: &Connection, agent: &str) -> Result<HashMap<String, FileMark>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT path, size, mtime_ns, offset, state, inode, tail FROM import_files WHERE agent = ?1",
    )?;
    let rows = stmt.query_map(params![agent], |r| {
        Ok((
            r.get::<_, String>(0)?,
            FileMark {
                size: r.get::<_, i64>(1)?.max(0) as u64,
                mtime_ns: r.get(2)?,
                offset: r.get::<_, i64>(3)?.max(0) as u64,
                state: r.get(4)?,
                inode: r.get::<_, i64>(5)? as u64,
                tail: r.get(6)?,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The marks of these files (those imported before).
pub fn marks_of(
    conn: &Connection,
    paths: &[String],
) -> Result<HashMap<String, FileMark>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT size, mtime_ns, offset, state, inode, tail FROM import_files WHERE path = ?1",
    )?;
    let mut out = HashMap::new();
    for p in paths {
        let mark = stmt
            .query_row(params![p], |r| {
                Ok(FileMark {
                    size: r.get::<_, i64>(0)?.max(0) as u64,
                    mtime_ns: r.get(1)?,
                    offset: r.get::<_, i64>(2)?.max(0) as u64,
                    state: r.get(3)?,
                    inode: r.get::<_, i64>(4)? as u64,
                    tail: r.get(5)?,
                })
            })
            .optional()?;
        if let Some(m) = mark {
            out.insert(p.clone(), m);
        }
    }
    Ok(out)
}

/// Commits whole files in one transaction (sessions stored under
/// `<session_prefix>:<profile>:<id>` with the given `source`), taking them from `next` a
/// group at a time (as they are read) until it returns `None`: each group is written as
/// it comes, so the writing keeps pace with the reading instead of waiting for a whole
/// batch. Copies of
/// replayed events are stored after every original of the transaction (a copy stored
/// first would be counted, then taken off). Returns what was counted and the groups
/// (to be freed wherever the caller likes).
pub fn commit_stream(
    conn: &mut Connection,
    source: &str,
    session_prefix: &str,
    now: i64,
    mut next: impl FnMut() -> Option<Vec<ImportedFile>>,
) -> Result<(Counted, Vec<Vec<ImportedFile>>), StoreError> {
    with_events(conn, |tx, rollup| {
        let mut counted = Counted::default();
        let mut groups = Vec::new();
        let mut held = Held::default();
        let is_copy = |e: &UsageEvent| e.links.replay.as_ref().is_some_and(|r| r.copy);
        let mut copies = false;
        // Each session written gets the next change number (one seek for the largest).
        let mut rev: i64 = tx
            .prepare_cached("SELECT COALESCE(MAX(rev), 0) FROM usage_sessions")?
            .query_row([], |r| r.get(0))?;
        let mut session = tx.prepare_cached(
            "INSERT INTO usage_sessions (profile, started_at, ended_at, runtime_secs, exit_code, source, session_id, rev)
             VALUES (?1, ?2, ?3, ?3 - ?2, NULL, ?4, ?5, ?6)
             ON CONFLICT(session_id) DO UPDATE SET
                 rev = excluded.rev,
                 started_at = MIN(started_at, excluded.started_at),
                 ended_at = MAX(COALESCE(ended_at, excluded.ended_at), excluded.ended_at),
                 runtime_secs = MAX(COALESCE(ended_at, excluded.ended_at), excluded.ended_at)
                                - MIN(started_at, excluded.started_at)",
        )?;
        let mut mark = tx.prepare_cached(
            "INSERT INTO import_files (path, size, mtime_ns, offset, profile, agent, state, inode, tail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,
                 offset = excluded.offset, profile = excluded.profile, agent = excluded.agent,
                 state = excluded.state, inode = excluded.inode, tail = excluded.tail",
        )?;
        let mut session_key = String::new();
        while let Some(files) = next() {
            for f in &files {
                for e in &f.events {
                    if is_copy(e) {
                        copies = true;
                    } else {
                        counted.count(put_event_held(tx, rollup, &mut held, e, now)?, e);
                    }
                }
                for (sid, (first, last)) in &f.sessions {
                    rev += 1;
                    session_key.clear();
                    let _ = write!(session_key, "{session_prefix}:{}:{sid}", f.profile);
                    session.execute(params![f.profile, first, last, source, session_key, rev])?;
                }
                mark.execute(params![
                    f.key,
                    i64::try_from(f.size).unwrap_or(i64::MAX),
                    f.mtime_ns,
                    i64::try_from(f.consumed).unwrap_or(i64::MAX),
                    f.profile,
                    f.agent,
                    f.state,
                    f.inode as i64,
                    f.tail
                ])?;
            }
            groups.push(files);
        }
        if copies {
            let all = groups.iter().flatten().flat_map(|f| f.events.iter());
            for e in all.filter(|e| is_copy(e)) {
                counted.count(put_event_held(tx, rollup, &mut held, e, now)?, e);
            }
        }
        Ok((counted, groups))
    })
}

/// One day of a daily summary: `[start, end)` and its events.
#[derive(Debug)]
pub struct SummaryDay {
    pub start: i64,
    pub end: i64,
    pub events: Vec<UsageEvent>,
}

/// Adds the days on which `profile` has no usage yet (from any source: the rollup keeps
/// what the retention dropped), in one transaction; returns how many days added
/// anything, and what was added. Days whose summary was added before count as covered.
pub fn add_uncovered_days(
    conn: &mut Connection,
    profile: &str,
    days: &[SummaryDay],
    now: i64,
) -> Result<(usize, Counted), StoreError> {
    with_events(conn, |tx, rollup| {
        let mut counted = Counted::default();
        let mut added_days = 0;
        let mut covered = tx.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM usage_rollup WHERE bucket >= ?1 AND bucket < ?2 AND profile = ?3 AND events > 0)",
        )?;
        for day in days {
            let bucket = |ts: i64| ts.div_euclid(super::usage::BUCKET_SECS);
            let is_covered: bool = covered
                .query_row(params![bucket(day.start), bucket(day.end), profile], |r| {
                    r.get(0)
                })?;
            if is_covered {
                continue;
            }
            let before = counted.added + counted.replaced;
            for e in &day.events {
                counted.count(put_event(tx, rollup, e, now)?, e);
            }
            if counted.added + counted.replaced > before {
                added_days += 1;
            }
        }
        Ok((added_days, counted))
    })
}
