//! The usage tables: events (tokens of one model response), sessions (one agent run) and
//! the rollups that queries read.
//!
//! Every change to the events goes through this module, which adjusts `usage_rollup` and
//! `usage_daily` in the same transaction: the rollups are always the sum of every event
//! ever stored, including those the retention has since dropped (see [`prune`]).
//!
//! An event is stored compactly (`usage_raw`): its key is a 64-bit hash of its dedupe
//! key, or for a proxy's events a time-ordered number (`row_key`) (the row id, so no
//! separate index), its names (profile, agent, provider, model,
//! source, session) one row of `usage_labels`, its time the seconds after that label's
//! first time (`dt`), its change number 0 unless a push is configured (see
//! `store::sync::track_changes`). The view `usage_events` shows them joined.
//! Events whose key is already stored keep the larger of the two token totals.

use rusqlite::{CachedStatement, Connection, OptionalExtension, Transaction, params};

use super::StoreError;
pub use crate::records::{UsageEvent, UsageSession};
use crate::tokens::Tokens;
use rollup::Names;
pub use rollup::{Fast, FastMap, Rollup};

/// Seconds per rollup bucket: 15 minutes keeps every real time-zone offset aligned.
pub const BUCKET_SECS: i64 = 900;

/// The stable 64-bit key of a dedupe key (FNV-1a, then a splitmix finaliser so close
/// keys spread over the whole range). Stored: never change it.
pub fn key_hash(key: &str) -> i64 {
    let h = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) as i64
}

/// The counts as stored: the four kinds, the one-hour cache writes, the reasoning
/// output. A count that does not fit a database integer is refused before it gets here
/// (see `validate`).
fn stored_counts(t: &Tokens) -> [i64; 6] {
    let c = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    [
        c(t.input_tokens),
        c(t.output_tokens),
        c(t.cache_creation_input_tokens),
        c(t.cache_read_input_tokens),
        c(t.one_hour_writes()),
        c(t.reasoning()),
    ]
}

fn tokens_of(c: [i64; 6]) -> Tokens {
    let u = |v: i64| v.max(0) as u64;
    Tokens {
        input_tokens: u(c[0]),
        output_tokens: u(c[1]),
        cache_creation_input_tokens: u(c[2]),
        cache_read_input_tokens: u(c[3]),
        cache_creation_1h_input_tokens: u(c[4]),
        reasoning_output_tokens: u(c[5]),
    }
}

/// Outcome of storing one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Added,
    /// Same response stored before (same key, a key it supersedes, or copies of it); this
    /// copy replaced it. What it added: each kind's growth (none below zero).
    Replaced(Tokens),
    /// Same dedupe key seen before with an equal or larger total, or a copy of a stored
    /// original.
    Duplicate,
}

/// A stored event: where it sits in the rollups and what it counts.
struct Old {
    ts: i64,
    label: i64,
    profile: String,
    agent: String,
    provider: String,
    model: String,
    source: String,
    counts: [i64; 6],
}

impl Old {
    fn names(&self) -> Names<'_> {
        Names {
            profile: &self.profile,
            agent: &self.agent,
            provider: &self.provider,
            model: &self.model,
            source: &self.source,
        }
    }
}

fn names_of(e: &UsageEvent) -> Names<'_> {
    Names {
        profile: &e.profile,
        agent: e.agent.as_deref().unwrap_or_default(),
        provider: e.provider.as_deref().unwrap_or_default(),
        model: &e.model,
        source: &e.source,
    }
}

fn old_event(tx: &Transaction, key: i64) -> Result<Option<Old>, StoreError> {
    Ok(tx
        .prepare_cached(
            "SELECT l.first_ts + r.dt, l.profile, l.model, r.input_tokens, r.output_tokens,
                    r.cache_creation_input_tokens, r.cache_read_input_tokens,
                    r.cache_creation_1h_tokens, r.reasoning_output_tokens, l.source, l.agent, l.provider,
                    r.label
             FROM usage_raw r JOIN usage_labels l ON l.id = r.label WHERE r.key = ?1",
        )?
        .query_row(params![key], |r| {
            Ok(Old {
                ts: r.get(0)?,
                label: r.get(12)?,
                profile: r.get(1)?,
                model: r.get(2)?,
                source: r.get(9)?,
                agent: r.get(10)?,
                provider: r.get(11)?,
                counts: [
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ],
            })
        })
        .optional()?)
}

/// Removes a stored event (its share of the rollups too); what it counted.
fn remove(tx: &Transaction, rollup: &mut Rollup, key: i64) -> Result<Option<Tokens>, StoreError> {
    let Some(old) = old_event(tx, key)? else {
        return Ok(None);
    };
    tx.prepare_cached("DELETE FROM usage_raw WHERE key = ?1")?
        .execute(params![key])?;
    tx.prepare_cached("DELETE FROM usage_replays WHERE key = ?1")?
        .execute(params![key])?;
    // A change like any other, so a shared database that has the event drops it too.
    let rev = rollup.next_rev(tx)?;
    tx.prepare_cached("INSERT INTO usage_removed (rev, key) VALUES (?1, ?2)")?
        .execute(params![rev, key])?;
    rollup.take_rev(rev);
    rollup.add(old.ts, old.label, &old.names(), old.counts, -1);
    Ok(Some(tokens_of(old.counts)))
}

fn sum4(c: &[i64; 6]) -> i64 {
    c[..4].iter().fold(0i64, |a, b| a.saturating_add(*b))
}

/// Rewrites a stored event with a larger copy; takes its old share off the rollups.
fn replace(
    tx: &Transaction,
    rollup: &mut Rollup,
    key: i64,
    ts: i64,
    (label, first_ts): (i64, i64),
    counts: [i64; 6],
    old: &Old,
) -> Result<(), StoreError> {
    let rev = rollup.next_rev(tx)?;
    let stored_rev = rollup.event_rev(tx, rev)?;
    tx.prepare_cached(
        "UPDATE usage_raw SET dt = ?2, label = ?3, input_tokens = ?4, output_tokens = ?5,
             cache_creation_input_tokens = ?6, cache_read_input_tokens = ?7,
             cache_creation_1h_tokens = ?8, reasoning_output_tokens = ?9, rev = ?10
         WHERE key = ?1",
    )?
    .execute(params![
        key,
        ts.wrapping_sub(first_ts),
        label,
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        counts[4],
        counts[5],
        stored_rev
    ])?;
    rollup.take_rev(rev);
    rollup.add(old.ts, old.label, &old.names(), old.counts, -1);
    Ok(())
}

/// The statements every stored event runs, each prepared when first needed and then
/// held for the transaction: taking one from the statement cache per event (hashing its
/// text, resetting it on return) cost a tenth of an import of many one-event files.
#[derive(Default)]
pub struct Held<'t> {
    raw: Option<CachedStatement<'t>>,
    pub(super) find_label: Option<CachedStatement<'t>>,
    pub(super) insert_label: Option<CachedStatement<'t>>,
}

/// `slot`'s statement, prepared (from the connection's cache) when it is empty.
pub(super) fn held<'s, 't>(
    slot: &'s mut Option<CachedStatement<'t>>,
    tx: &'t Transaction,
    sql: &str,
) -> Result<&'s mut CachedStatement<'t>, StoreError> {
    let stmt = match slot.take() {
        Some(stmt) => stmt,
        None => tx.prepare_cached(sql)?,
    };
    Ok(slot.insert(stmt))
}

/// Stores one event inside `tx`, noting the rollup change in `rollup`.
pub fn put_event(
    tx: &Transaction,
    rollup: &mut Rollup,
    e: &UsageEvent,
    now: i64,
) -> Result<Stored, StoreError> {
    put_event_held(tx, rollup, &mut Held::default(), e, now)
}

/// [`put_event`] with statements held from one event to the next.
pub fn put_event_held<'t>(
    tx: &'t Transaction,
    rollup: &mut Rollup,
    stmts: &mut Held<'t>,
    e: &UsageEvent,
    now: i64,
) -> Result<Stored, StoreError> {
    let ts = e.ts.unwrap_or(now);
    let counts = stored_counts(&e.tokens);
    let key = match &e.dedupe_key {
        Some(k) => rollup.prefixes.key(tx, k, &e.source, ts)?,
        None => random_key(),
    };
    let group = e
        .links
        .replay
        .as_ref()
        .map(|r| (key_hash(&r.group), r.copy));
    if let Some((g, true)) = group {
        let original: bool = tx
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM usage_replays WHERE grp = ?1 AND copy = 0 AND key != ?2)",
            )?
            .query_row(params![g, key], |r| r.get(0))?;
        if original {
            return Ok(Stored::Duplicate);
        }
    }
    let (label, first_ts) = rollup.label(tx, stmts, e, ts, counts)?;
    let rev = rollup.next_rev(tx)?;
    let stored_rev = rollup.event_rev(tx, rev)?;
    let added = held(
        &mut stmts.raw,
        tx,
        "INSERT INTO usage_raw (key, dt, label, input_tokens, output_tokens,
             cache_creation_input_tokens, cache_read_input_tokens, cache_creation_1h_tokens,
             reasoning_output_tokens, rev)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT(key) DO NOTHING",
    )?
    .execute(params![
        key,
        ts.wrapping_sub(first_ts),
        label,
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        counts[4],
        counts[5],
        stored_rev
    ])?;
    let mut outcome = if added == 1 {
        rollup.take_rev(rev);
        rollup.add(ts, label, &names_of(e), counts, 1);
        // The same response under a key an earlier version used: taken over.
        let superseded = match e.links.supersedes.as_deref().map(key_hash) {
            Some(old) if old != key => remove(tx, rollup, old)?,
            _ => None,
        };
        match superseded {
            Some(old) => Stored::Replaced(e.tokens.minus(&old)),
            None => Stored::Added,
        }
    } else {
        match old_event(tx, key)? {
            Some(old) if sum4(&counts) > sum4(&old.counts) => {
                replace(tx, rollup, key, ts, (label, first_ts), counts, &old)?;
                rollup.add(ts, label, &names_of(e), counts, 1);
                Stored::Replaced(e.tokens.minus(&tokens_of(old.counts)))
            }
            _ => Stored::Duplicate,
        }
    };
    if let Some((g, copy)) = group {
        tx.prepare_cached(
            "INSERT INTO usage_replays (grp, key, copy) VALUES (?1, ?2, ?3)
             ON CONFLICT(grp, key) DO UPDATE SET copy = MIN(copy, excluded.copy)",
        )?
        .execute(params![g, key, copy])?;
        if !copy {
            let copies: Vec<i64> = tx
                .prepare_cached(
                    "SELECT key FROM usage_replays WHERE grp = ?1 AND copy = 1 AND key != ?2",
                )?
                .query_map(params![g, key], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let mut removed = Tokens::default();
            for k in copies {
                if let Some(t) = remove(tx, rollup, k)? {
                    removed.add(&t);
                }
            }
            if removed != Tokens::default() {
                outcome = match outcome {
                    Stored::Added => Stored::Replaced(e.tokens.minus(&removed)),
                    Stored::Replaced(g) => Stored::Replaced(g.minus(&removed)),
                    d => d,
                };
            }
        }
    }
    Ok(outcome)
}

/// A key for an event that brings none: random, so it never meets another.
fn random_key() -> i64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        // No randomness: the time and a counter still make it unique in this process.
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        return key_hash(&format!("{:?}:{n}", std::time::SystemTime::now()));
    }
    i64::from_le_bytes(b)
}

/// Runs `f` in one transaction and applies the rollup it accumulated before committing.
pub fn with_events<T>(
    conn: &mut Connection,
    f: impl FnOnce(&Transaction, &mut Rollup) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let tx = conn.transaction()?;
    let mut rollup = Rollup::default();
    let out = f(&tx, &mut rollup)?;
    rollup.apply(&tx)?;
    tx.commit()?;
    Ok(out)
}

/// Stores events and sessions in one transaction; returns how many of each were new.
pub fn record(
    conn: &mut Connection,
    events: &[UsageEvent],
    sessions: &[UsageSession],
    now: i64,
) -> Result<(usize, usize), StoreError> {
    with_events(conn, |tx, rollup| {
        let mut added_events = 0;
        // A busy proxy's batch is thousands of events: stored in pieces of a few hundred
        // µs (`lane::Pace`), in one transaction still.
        let mut pace = crate::lane::Pace::every(32);
        for e in events {
            if put_event(tx, rollup, e, now)? == Stored::Added {
                added_events += 1;
            }
            pace.step();
        }
        let mut stmt = tx.prepare_cached(
            "INSERT INTO usage_sessions (profile, started_at, ended_at, runtime_secs, exit_code, source, session_id, rev)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, (SELECT COALESCE(MAX(rev), 0) + 1 FROM usage_sessions))
             ON CONFLICT(session_id) DO UPDATE SET rev = (SELECT MAX(rev) FROM usage_sessions) + 1,
                 ended_at = excluded.ended_at,
                 runtime_secs = excluded.runtime_secs, exit_code = excluded.exit_code",
        )?;
        let mut added_sessions = 0;
        for s in sessions {
            let runtime = s
                .ended_at
                .map(|end| (end - s.started_at).max(0))
                .unwrap_or(0);
            added_sessions += stmt.execute(params![
                s.profile,
                s.started_at,
                s.ended_at,
                runtime,
                s.exit_code,
                s.source,
                s.session_id
            ])?;
        }
        Ok((added_events, added_sessions))
    })
}

/// Per profile: sessions started in `[start, end)`, their runtime and last activity.
pub fn session_totals(
    conn: &Connection,
    start: i64,
    end: i64,
    profile: Option<&str>,
) -> Result<Vec<(String, u64, u64, i64)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT profile, COUNT(*), SUM(runtime_secs), MAX(COALESCE(ended_at, started_at))
         FROM usage_sessions
         WHERE started_at >= ?1 AND started_at < ?2 AND (?3 IS NULL OR profile = ?3)
         GROUP BY profile",
    )?;
    let rows = stmt.query_map(params![start, end, profile], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?.max(0) as u64,
            r.get::<_, Option<i64>>(2)?.unwrap_or(0).max(0) as u64,
            r.get::<_, i64>(3)?,
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

mod rollup;
mod row_key;
#[cfg(test)]
pub(crate) mod tests;
