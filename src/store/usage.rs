//! The usage tables: events (tokens of one model response), sessions (one agent run) and
//! the rollup that queries read.
//!
//! Every change to `usage_events` goes through this module, which adjusts `usage_rollup`
//! in the same transaction: the rollup is always exactly the sum of the events. Events
//! whose `dedupe_key` is already stored keep the larger of the two token totals.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::StoreError;
pub use crate::records::{UsageEvent, UsageSession};
use crate::tokens::Tokens;

/// Seconds per rollup bucket: 15 minutes keeps every real time-zone offset aligned.
pub const BUCKET_SECS: i64 = 900;

/// The counts as stored: the four kinds, then the one-hour cache writes. A count that
/// does not fit a database integer is refused before it gets here (see `validate`).
fn stored_counts(t: &Tokens) -> [i64; 5] {
    let c = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    [
        c(t.input_tokens),
        c(t.output_tokens),
        c(t.cache_creation_input_tokens),
        c(t.cache_read_input_tokens),
        c(t.one_hour_writes()),
    ]
}

#[derive(Debug, Clone, Copy, Default)]
struct Delta {
    counts: [i64; 5],
    events: i64,
    last_ts: i64,
}

impl Delta {
    fn add(&mut self, counts: [i64; 5], events: i64, ts: i64) {
        for (acc, c) in self.counts.iter_mut().zip(counts) {
            *acc = acc.saturating_add(c);
        }
        self.events += events;
        self.last_ts = self.last_ts.max(ts);
    }
}

/// Rollup changes accumulated during a transaction, applied once at its end; and the
/// next change number (`rev`) to give an event, read once per transaction.
#[derive(Debug, Default)]
pub struct Rollup {
    deltas: HashMap<(i64, String, String), Delta>,
    /// All-time totals by (profile, agent, provider, model); unknown names are ''.
    totals: HashMap<(String, String, String, String), Delta>,
    next_rev: Option<i64>,
}

/// Who an event's tokens are counted for in the totals.
struct Names<'a> {
    profile: &'a str,
    agent: &'a str,
    provider: &'a str,
    model: &'a str,
}

impl Rollup {
    /// A change number above every stored one (one writer: no other transaction races).
    fn rev(&mut self, tx: &Transaction) -> Result<i64, StoreError> {
        let next = match self.next_rev {
            Some(n) => n,
            None => tx.query_row(
                "SELECT COALESCE(MAX(rev), 0) + 1 FROM usage_events",
                [],
                |r| r.get(0),
            )?,
        };
        self.next_rev = Some(next + 1);
        Ok(next)
    }

    fn add(&mut self, ts: i64, n: &Names, counts: [i64; 5], events: i64) {
        let d = self
            .deltas
            .entry((
                ts.div_euclid(BUCKET_SECS),
                n.profile.to_string(),
                n.model.to_string(),
            ))
            .or_default();
        d.add(counts, events, ts);
        self.totals
            .entry((
                n.profile.to_string(),
                n.agent.to_string(),
                n.provider.to_string(),
                n.model.to_string(),
            ))
            .or_default()
            .add(counts, events, ts);
    }

    fn apply(self, tx: &Transaction) -> Result<(), StoreError> {
        let mut rollup = tx.prepare_cached(
            "INSERT INTO usage_rollup (bucket, profile, model, input_tokens, output_tokens,
                 cache_creation_input_tokens, cache_read_input_tokens, events, last_ts, cache_creation_1h_tokens)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT(bucket, profile, model) DO UPDATE SET
                 input_tokens = MIN(input_tokens + excluded.input_tokens, 9223372036854775807),
                 output_tokens = MIN(output_tokens + excluded.output_tokens, 9223372036854775807),
                 cache_creation_input_tokens = MIN(cache_creation_input_tokens + excluded.cache_creation_input_tokens, 9223372036854775807),
                 cache_read_input_tokens = MIN(cache_read_input_tokens + excluded.cache_read_input_tokens, 9223372036854775807),
                 cache_creation_1h_tokens = MIN(cache_creation_1h_tokens + excluded.cache_creation_1h_tokens, 9223372036854775807),
                 events = events + excluded.events,
                 last_ts = MAX(last_ts, excluded.last_ts)",
        )?;
        // The same change per local day (`local_day` is bound to the daemon's zone).
        let mut daily = tx.prepare_cached(
            "INSERT INTO usage_daily (day, profile, model, input_tokens, output_tokens,
                 cache_creation_input_tokens, cache_read_input_tokens, cache_creation_1h_tokens, events, last_ts)
             VALUES (local_day(?1 * 900), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT(day, profile, model) DO UPDATE SET
                 input_tokens = MIN(input_tokens + excluded.input_tokens, 9223372036854775807),
                 output_tokens = MIN(output_tokens + excluded.output_tokens, 9223372036854775807),
                 cache_creation_input_tokens = MIN(cache_creation_input_tokens + excluded.cache_creation_input_tokens, 9223372036854775807),
                 cache_read_input_tokens = MIN(cache_read_input_tokens + excluded.cache_read_input_tokens, 9223372036854775807),
                 cache_creation_1h_tokens = MIN(cache_creation_1h_tokens + excluded.cache_creation_1h_tokens, 9223372036854775807),
                 events = events + excluded.events,
                 last_ts = MAX(last_ts, excluded.last_ts)",
        )?;
        for ((bucket, profile, model), d) in self.deltas {
            let [i, o, cw, cr, cw1h] = d.counts;
            rollup.execute(params![
                bucket, profile, model, i, o, cw, cr, d.events, d.last_ts, cw1h
            ])?;
            daily.execute(params![
                bucket, profile, model, i, o, cw, cr, cw1h, d.events, d.last_ts
            ])?;
        }
        // And the all-time totals.
        let mut totals = tx.prepare_cached(
            "INSERT INTO usage_totals (profile, agent, provider, model, input_tokens, output_tokens,
                 cache_creation_input_tokens, cache_read_input_tokens, cache_creation_1h_tokens, events, last_ts, rev)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT(profile, agent, provider, model) DO UPDATE SET
                 input_tokens = MIN(input_tokens + excluded.input_tokens, 9223372036854775807),
                 output_tokens = MIN(output_tokens + excluded.output_tokens, 9223372036854775807),
                 cache_creation_input_tokens = MIN(cache_creation_input_tokens + excluded.cache_creation_input_tokens, 9223372036854775807),
                 cache_read_input_tokens = MIN(cache_read_input_tokens + excluded.cache_read_input_tokens, 9223372036854775807),
                 cache_creation_1h_tokens = MIN(cache_creation_1h_tokens + excluded.cache_creation_1h_tokens, 9223372036854775807),
                 events = events + excluded.events,
                 last_ts = MAX(last_ts, excluded.last_ts),
                 rev = excluded.rev",
        )?;
        // The last change number given in this transaction (readers ask for rows above
        // the last they saw).
        let rev = self.next_rev.map_or(0, |n| n - 1);
        for ((profile, agent, provider, model), d) in self.totals {
            let [i, o, cw, cr, cw1h] = d.counts;
            totals.execute(params![
                profile, agent, provider, model, i, o, cw, cr, cw1h, d.events, d.last_ts, rev
            ])?;
        }
        Ok(())
    }
}

/// Outcome of storing one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Added,
    /// Same dedupe key seen before; this copy had the larger total and replaced it. What
    /// it added: each kind's growth (none below zero).
    Replaced(Tokens),
    /// Same dedupe key seen before with an equal or larger total.
    Duplicate,
}

/// Stores one event inside `tx`, noting the rollup change in `rollup`.
pub fn put_event(
    tx: &Transaction,
    rollup: &mut Rollup,
    e: &UsageEvent,
    now: i64,
) -> Result<Stored, StoreError> {
    let ts = e.ts.unwrap_or(now);
    let counts = stored_counts(&e.tokens);
    let rev = rollup.rev(tx)?;
    let added = tx
        .prepare_cached(
            "INSERT INTO usage_events (ts, profile, agent, provider, model, input_tokens, output_tokens,
                 cache_creation_input_tokens, cache_read_input_tokens, source, session_id, dedupe_key,
                 cache_creation_1h_tokens, rev, key_label, key_hint)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
             ON CONFLICT(dedupe_key) DO NOTHING",
        )?
        .execute(params![
            ts,
            e.profile,
            e.agent,
            e.provider,
            e.model,
            counts[0],
            counts[1],
            counts[2],
            counts[3],
            e.source,
            e.session_id,
            e.dedupe_key,
            counts[4],
            rev,
            e.key_label,
            e.key_hint
        ])?;
    let names = Names {
        profile: &e.profile,
        agent: e.agent.as_deref().unwrap_or_default(),
        provider: e.provider.as_deref().unwrap_or_default(),
        model: &e.model,
    };
    if added == 1 {
        rollup.add(ts, &names, counts, 1);
        return Ok(Stored::Added);
    }
    let old = tx
        .prepare_cached(
            "SELECT id, ts, profile, model, input_tokens, output_tokens, cache_creation_input_tokens,
                    cache_read_input_tokens, cache_creation_1h_tokens, COALESCE(agent, ''), COALESCE(provider, '')
             FROM usage_events WHERE dedupe_key = ?1",
        )?
        .query_row(params![e.dedupe_key], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                [r.get::<_, String>(2)?, r.get(3)?, r.get(9)?, r.get(10)?],
                [r.get::<_, i64>(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?],
            ))
        })
        .optional()?;
    let Some((id, old_ts, [old_profile, old_model, old_agent, old_provider], old_counts)) = old
    else {
        return Ok(Stored::Duplicate);
    };
    if counts[..4].iter().sum::<i64>() <= old_counts[..4].iter().sum::<i64>() {
        return Ok(Stored::Duplicate);
    }
    tx.prepare_cached(
        "UPDATE usage_events SET ts = ?2, profile = ?3, model = ?4, input_tokens = ?5, output_tokens = ?6,
             cache_creation_input_tokens = ?7, cache_read_input_tokens = ?8, cache_creation_1h_tokens = ?9,
             rev = ?10
         WHERE id = ?1",
    )?
    .execute(params![id, ts, e.profile, e.model, counts[0], counts[1], counts[2], counts[3], counts[4], rev])?;
    // The stored row keeps its agent and provider (the UPDATE leaves them).
    let old_names = Names {
        profile: &old_profile,
        agent: &old_agent,
        provider: &old_provider,
        model: &old_model,
    };
    rollup.add(old_ts, &old_names, old_counts.map(|c| -c), -1);
    let kept = Names {
        agent: &old_agent,
        provider: &old_provider,
        ..names
    };
    rollup.add(ts, &kept, counts, 1);
    let grow = |i: usize| counts[i].saturating_sub(old_counts[i]).max(0) as u64;
    Ok(Stored::Replaced(Tokens {
        input_tokens: grow(0),
        output_tokens: grow(1),
        cache_creation_input_tokens: grow(2),
        cache_read_input_tokens: grow(3),
        cache_creation_1h_input_tokens: grow(4),
    }))
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
        for e in events {
            if put_event(tx, rollup, e, now)? == Stored::Added {
                added_events += 1;
            }
        }
        let mut stmt = tx.prepare_cached(
            "INSERT INTO usage_sessions (profile, started_at, ended_at, runtime_secs, exit_code, source, session_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(session_id) DO UPDATE SET ended_at = excluded.ended_at,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_saturate_instead_of_failing() {
        let dir = std::env::temp_dir().join(format!("clown-sat-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut conn = super::super::db::open(&dir.join("t.db")).unwrap();
        let event = |n: u64, key: &str| UsageEvent {
            profile: "p".into(),
            model: "m".into(),
            ts: Some(1_800_000_000),
            tokens: Tokens {
                input_tokens: n,
                ..Default::default()
            },
            source: "test".into(),
            dedupe_key: Some(key.into()),
            ..Default::default()
        };
        record(&mut conn, &[event(5, "a")], &[], 0).unwrap();
        // As if a great many events had come before.
        conn.execute(
            "UPDATE usage_rollup SET input_tokens = 9223372036854775000",
            [],
        )
        .unwrap();
        conn.execute(
            "UPDATE usage_daily SET input_tokens = 9223372036854775000",
            [],
        )
        .unwrap();
        record(&mut conn, &[event(1_000_000_000_000, "b")], &[], 0).unwrap();
        for table in ["usage_rollup", "usage_daily"] {
            let n: i64 = conn
                .query_row(&format!("SELECT input_tokens FROM {table}"), [], |r| {
                    r.get(0)
                })
                .unwrap();
            assert_eq!(n, i64::MAX, "{table}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
