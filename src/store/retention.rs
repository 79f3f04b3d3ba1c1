//! How long raw usage events are kept. Every event is in the rollups from the moment it
//! is stored (`usage_rollup`, `usage_daily`), so dropping old events changes no report:
//! the rollups are the folded form. What goes with them is what needs single events:
//! their keys (so a copy of one can no longer be recognised: the imports skip what is
//! older than [`pruned_before`] in files they read before), the replay links, and the
//! labels no event uses any more; each label keeps the sums of its events (a
//! conversation's tokens), which move to `usage_conversations` when it goes.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

const PRUNED_KEY: &str = "usage_pruned_before";

/// Events before this time (Unix seconds) may have been dropped; 0 when none were.
pub fn pruned_before(conn: &Connection) -> Result<i64, StoreError> {
    let v: Option<String> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row(params![PRUNED_KEY], |r| r.get(0))
        .optional()?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// What one pruning removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub events: u64,
    pub labels: u64,
}

/// Drops the events older than `before` in one transaction, with their replay links and
/// the labels left unused (their sums folded into their conversation's); the rollups
/// keep their totals.
pub fn prune(conn: &mut Connection, before: i64) -> Result<Pruned, StoreError> {
    let tx = conn.transaction()?;
    // An event's time is its label's first time and the seconds after it: only the
    // labels with an event before `before` (`min_ts`) can have older events (the label's
    // time is read for theirs alone, not for every event).
    let events = tx.execute(
        "DELETE FROM usage_raw
         WHERE label IN (SELECT id FROM usage_labels WHERE min_ts < ?1)
           AND dt < ?1 - (SELECT first_ts FROM usage_labels l WHERE l.id = usage_raw.label)",
        params![before],
    )? as u64;
    let mut labels = 0;
    if events > 0 {
        tx.execute(
            "DELETE FROM usage_replays WHERE NOT EXISTS (SELECT 1 FROM usage_raw r WHERE r.key = usage_replays.key)",
            [],
        )?;
        let sum = |c: &str| format!("{c} = MIN({c} + excluded.{c}, 9223372036854775807)");
        let cols = super::COUNT_COLUMNS;
        // A conversation's rows name their model by its id in `usage_models`.
        tx.execute(
            "INSERT INTO usage_models (model) SELECT DISTINCT model FROM usage_labels WHERE true
             ON CONFLICT(model) DO NOTHING",
            [],
        )?;
        tx.execute(
            &format!(
                "INSERT INTO usage_conversations (session_id, model_id, {}, events)
                 SELECT l.session_id, m.id, {}, SUM(l.events)
                 FROM usage_labels l JOIN usage_models m ON m.model = l.model
                 WHERE l.session_id != '' AND l.events != 0 AND l.id NOT IN (SELECT label FROM usage_raw)
                 GROUP BY l.session_id, m.id
                 ON CONFLICT(session_id, model_id) DO UPDATE SET {}, events = events + excluded.events",
                cols.join(", "),
                cols.map(super::saturated_sum).join(", "),
                cols.map(sum).join(", "),
            ),
            [],
        )?;
        labels = tx.execute(
            "DELETE FROM usage_labels WHERE id NOT IN (SELECT label FROM usage_raw)",
            [],
        )? as u64;
    }
    let previous = pruned_before(&tx)?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![PRUNED_KEY, previous.max(before).to_string()],
    )?;
    tx.commit()?;
    Ok(Pruned { events, labels })
}
