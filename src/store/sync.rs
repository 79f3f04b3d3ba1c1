//! The local side of the push to a shared database: this machine's id, how far the push
//! has come (a cursor per table, in `meta`), and the changes after it.
//!
//! Every stored or replaced event, and every stored or updated session, gets a change
//! number (`rev`) higher than all before it (see [`super::usage`]; a session's is set by
//! the statements that write it, `super::imports` and `super::usage::record`), so "everything after the cursor" is exactly what the shared database
//! may not have yet. The cursor moves only after the shared database committed a batch;
//! a batch sent twice is harmless there (keyed by machine and event).

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

const MACHINE_KEY: &str = "machine_id";
const EVENTS_CURSOR: &str = "sync_events_rev";
const SESSIONS_CURSOR: &str = "sync_sessions_rev";

/// An event as pushed: its key on this machine (`h:` and the 64-bit hash of its dedupe
/// key, the row key of `usage_raw`) and what it counts. An event the retention pruned
/// stays in the shared database; one removed because another took its place (a replayed
/// copy when its original arrives) is removed there too ([`EventChanges::removed`]).
#[derive(Debug, Clone)]
pub struct SyncEvent {
    pub rev: i64,
    pub key: String,
    pub ts: i64,
    pub profile: String,
    pub agent: Option<String>,
    pub provider: Option<String>,
    pub model: String,
    /// input, output, cache writes, cache reads, one-hour cache writes.
    pub counts: [i64; 5],
    pub source: String,
    pub session_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SyncSession {
    pub rev: i64,
    pub key: String,
    pub profile: String,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub runtime_secs: i64,
    pub exit_code: Option<i32>,
    pub source: String,
}

fn meta(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
            r.get(0)
        })
        .optional()?)
}

fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// This machine's id: created once (`fresh` is called only then) and kept in the
/// database, so it moves with the data and is never derived from the hardware.
pub fn machine_id(conn: &Connection, fresh: impl FnOnce() -> String) -> Result<String, StoreError> {
    if let Some(id) = meta(conn, MACHINE_KEY)? {
        return Ok(id);
    }
    let id = fresh();
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO NOTHING",
        params![MACHINE_KEY, id],
    )?;
    Ok(meta(conn, MACHINE_KEY)?.unwrap_or(id))
}

/// The last event and session changes the shared database has.
pub fn cursors(conn: &Connection) -> Result<(i64, i64), StoreError> {
    let get = |k| -> Result<i64, StoreError> {
        Ok(meta(conn, k)?.and_then(|v| v.parse().ok()).unwrap_or(0))
    };
    Ok((get(EVENTS_CURSOR)?, get(SESSIONS_CURSOR)?))
}

pub fn set_events_cursor(conn: &Connection, rev: i64) -> Result<(), StoreError> {
    set_meta(conn, EVENTS_CURSOR, &rev.to_string())
}

pub fn set_sessions_cursor(conn: &Connection, rev: i64) -> Result<(), StoreError> {
    set_meta(conn, SESSIONS_CURSOR, &rev.to_string())
}

/// The highest event and session change numbers (the last one given, and the sessions'
/// index).
pub fn latest(conn: &Connection) -> Result<(i64, i64), StoreError> {
    let events = conn
        .prepare_cached("SELECT last_rev FROM usage_change WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    let sessions = conn.query_row(
        "SELECT COALESCE(MAX(rev), 0) FROM usage_sessions",
        [],
        |r| r.get(0),
    )?;
    Ok((events, sessions))
}

/// Event changes after a cursor: the events stored or replaced, and the keys removed,
/// all numbered up to `upto` (the cursor to keep once both are in the shared database).
#[derive(Debug, Default)]
pub struct EventChanges {
    pub events: Vec<SyncEvent>,
    /// Keys as [`SyncEvent::key`] spells them.
    pub removed: Vec<String>,
    pub upto: i64,
    /// A list was cut at `limit`: more changes follow `upto`.
    pub more: bool,
}

/// Up to `limit` event changes of each kind after `rev`, read in one snapshot with the
/// last change number given, so no change numbered up to `upto` is left out (and numbers
/// given to changes that stored nothing are passed too).
pub fn event_changes_after(
    conn: &Connection,
    rev: i64,
    limit: usize,
) -> Result<EventChanges, StoreError> {
    let tx = conn.unchecked_transaction()?;
    let last = latest(&tx)?.0;
    let mut events = events_after(&tx, rev, limit)?;
    let mut removed: Vec<(i64, i64)> = tx
        .prepare_cached("SELECT rev, key FROM usage_removed WHERE rev > ?1 ORDER BY rev LIMIT ?2")?
        .query_map(params![rev, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    tx.finish()?;
    // A full list may go on past its last number: stop both there.
    let full = |n: usize, last: Option<i64>| if n == limit { last } else { None };
    let cut = (
        full(events.len(), events.last().map(|e| e.rev)),
        full(removed.len(), removed.last().map(|r| r.0)),
    );
    let more = cut != (None, None);
    let upto = match cut {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => events
            .last()
            .map(|e| e.rev)
            .max(removed.last().map(|r| r.0))
            .unwrap_or(rev)
            .max(last),
    };
    events.retain(|e| e.rev <= upto);
    removed.retain(|r| r.0 <= upto);
    Ok(EventChanges {
        events,
        removed: removed.into_iter().map(|(_, k)| format!("h:{k}")).collect(),
        upto,
        more,
    })
}

/// Forgets the removals the shared database has (below the cursor).
pub fn forget_removed(conn: &Connection, upto: i64) -> Result<(), StoreError> {
    conn.execute("DELETE FROM usage_removed WHERE rev <= ?1", params![upto])?;
    Ok(())
}

/// Whether events carry their change number and are indexed by it, which only a push
/// reads: while `[sync]` is configured. While it is not, events are stored with change
/// number 0 (no bytes in SQLite's record format; the number and its index would take
/// about a quarter of the store) and the index is dropped; turning it on numbers those
/// events, in time order, after every number given before, so the next push sends them.
/// Removals (`usage_removed`) and the totals are numbered either way.
pub fn track_changes(conn: &Connection, on: bool) -> Result<(), StoreError> {
    if !on {
        conn.execute_batch("DROP INDEX IF EXISTS usage_raw_rev")?;
        return Ok(());
    }
    let tx = conn.unchecked_transaction()?;
    if !numbering(&tx)? {
        tx.execute_batch(
            "UPDATE usage_raw SET rev = n.rev
               FROM (SELECT id AS key, (SELECT COALESCE(MAX(last_rev), 0) FROM usage_change)
                                 + ROW_NUMBER() OVER (ORDER BY ts, id) AS rev
                     FROM usage_events WHERE rev = 0) AS n
              WHERE usage_raw.key = n.key;
             -- (`WHERE true`: an upsert after a SELECT needs a WHERE to parse.)
             INSERT INTO usage_change (id, last_rev) SELECT 1, COALESCE(MAX(rev), 0) FROM usage_raw WHERE true
              ON CONFLICT(id) DO UPDATE SET last_rev = MAX(last_rev, excluded.last_rev);
             CREATE INDEX usage_raw_rev ON usage_raw(rev);",
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Whether events are numbered as they are stored (see [`track_changes`]).
pub fn numbering(conn: &Connection) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = 'usage_raw_rev')",
        )?
        .query_row([], |r| r.get(0))?)
}

/// Up to `limit` events changed after `rev`, in change order (read inside
/// [`event_changes_after`]'s snapshot).
fn events_after(conn: &Connection, rev: i64, limit: usize) -> Result<Vec<SyncEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT rev, 'h:' || id, ts, profile, agent, provider, model,
                input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens,
                cache_creation_1h_tokens, source, session_id
         FROM usage_events WHERE rev > ?1 ORDER BY rev LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![rev, limit as i64], |r| {
        Ok(SyncEvent {
            rev: r.get(0)?,
            key: r.get(1)?,
            ts: r.get(2)?,
            profile: r.get(3)?,
            agent: r.get(4)?,
            provider: r.get(5)?,
            model: r.get(6)?,
            counts: [r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?],
            source: r.get(12)?,
            session_id: r.get(13)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Up to `limit` sessions changed after `rev`, in change order.
pub fn sessions_after(
    conn: &Connection,
    rev: i64,
    limit: usize,
) -> Result<Vec<SyncSession>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT rev, COALESCE('s:' || session_id, 'id:' || id), profile, started_at, ended_at, runtime_secs,
                exit_code, source
         FROM usage_sessions WHERE rev > ?1 ORDER BY rev LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![rev, limit as i64], |r| {
        Ok(SyncSession {
            rev: r.get(0)?,
            key: r.get(1)?,
            profile: r.get(2)?,
            started_at: r.get(3)?,
            ended_at: r.get(4)?,
            runtime_secs: r.get(5)?,
            exit_code: r.get(6)?,
            source: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::UsageEvent;
    use crate::store::usage::tests::event as stored;

    fn event(key: &str, n: u64) -> UsageEvent {
        stored(n, key)
    }

    fn keys_after(conn: &Connection, rev: i64) -> (Vec<String>, i64) {
        let changes = event_changes_after(conn, rev, 100).unwrap();
        (
            changes.events.into_iter().map(|e| e.key).collect(),
            changes.upto,
        )
    }

    fn hashed(keys: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = keys
            .iter()
            .map(|k| format!("h:{}", crate::store::usage::key_hash(k)))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn events_are_numbered_only_while_a_push_is_configured() {
        let dir = std::env::temp_dir().join(format!("clown-sync-numbers-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut conn = super::super::db::open(&dir.join("t.db")).unwrap();
        let record = |c: &mut Connection, e: &[UsageEvent]| {
            super::super::usage::record(c, e, &[], 0).unwrap();
        };
        let index = |c: &Connection| -> i64 {
            c.query_row(
                "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'usage_raw_rev'",
                [],
                |r| r.get(0),
            )
            .unwrap()
        };
        let stored_revs = |c: &Connection| -> Vec<i64> {
            c.prepare("SELECT rev FROM usage_raw ORDER BY rev")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        // No push configured: no index, the events carry no number (0), and the
        // numbers given still move on.
        track_changes(&conn, false).unwrap();
        assert_eq!(index(&conn), 0);
        record(&mut conn, &[event("a", 1), event("b", 2)]);
        assert_eq!(stored_revs(&conn), vec![0, 0]);
        assert_eq!(latest(&conn).unwrap().0, 2);
        // Configured: the unnumbered events are numbered after every number given, so
        // a push from any cursor sends them.
        track_changes(&conn, true).unwrap();
        assert_eq!(index(&conn), 1);
        assert_eq!(stored_revs(&conn), vec![3, 4]);
        let (mut keys, last) = keys_after(&conn, 2);
        keys.sort();
        assert_eq!(keys, hashed(&["a", "b"]));
        assert_eq!(last, 4);
        // Configured again (a restart): nothing moves.
        track_changes(&conn, true).unwrap();
        assert_eq!(stored_revs(&conn), vec![3, 4]);
        // A new event and a replaced one come after the cursor; a duplicate takes no
        // number.
        record(&mut conn, &[event("c", 1), event("a", 5), event("b", 1)]);
        let (mut keys, last) = keys_after(&conn, 4);
        keys.sort();
        assert_eq!(keys, hashed(&["a", "c"]));
        assert_eq!(last, 6);
        // The prune empties the table: numbers still go on from the last one given.
        super::super::retention::prune(&mut conn, 1_900_000_000).unwrap();
        record(&mut conn, &[event("d", 1)]);
        let (keys, last) = keys_after(&conn, 6);
        assert_eq!(keys, hashed(&["d"]));
        assert_eq!(last, 7);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
