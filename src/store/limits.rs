//! The `limit_snapshots` table: the rate-limit headers each profile's proxy saw, one row
//! per distinct state. A snapshot equal to the profile's latest only moves that row's
//! `last_seen`; a different one (a new utilisation, a reset, a 429) adds a row, so the
//! table is both the latest state and its history.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use crate::records::LimitSnapshot;

/// A stored snapshot: what was seen, from when until when.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitRow {
    pub id: i64,
    pub snapshot: LimitSnapshot,
    pub first_seen: i64,
    pub last_seen: i64,
}

fn row(r: &rusqlite::Row) -> rusqlite::Result<LimitRow> {
    let headers: String = r.get(6)?;
    Ok(LimitRow {
        id: r.get(0)?,
        snapshot: LimitSnapshot {
            profile: r.get(1)?,
            provider: r.get(2)?,
            ts: r.get(4)?,
            http_status: r.get::<_, i64>(5)? as u16,
            headers: serde_json::from_str(&headers).unwrap_or_default(),
        },
        first_seen: r.get(3)?,
        last_seen: r.get(4)?,
    })
}

const COLUMNS: &str = "id, profile, provider, first_seen, last_seen, http_status, headers";

/// Records `snapshots` in one transaction; returns the profiles whose latest state
/// changed (a new row), in order, without repeats.
pub fn record(
    conn: &mut Connection,
    snapshots: &[LimitSnapshot],
) -> Result<Vec<String>, StoreError> {
    let tx = conn.transaction()?;
    let mut changed: Vec<String> = Vec::new();
    for s in snapshots {
        let headers = serde_json::to_string(&s.headers).unwrap_or_else(|_| "{}".into());
        let last = latest(&tx, &s.profile)?;
        match last {
            Some(l)
                if l.snapshot.headers == s.headers
                    && l.snapshot.http_status == s.http_status
                    && l.snapshot.provider == s.provider =>
            {
                if s.ts > l.last_seen {
                    tx.execute(
                        "UPDATE limit_snapshots SET last_seen = ?2 WHERE id = ?1",
                        params![l.id, s.ts],
                    )?;
                }
            }
            // An older report arriving late never replaces a newer state.
            Some(l) if s.ts < l.last_seen => {}
            _ => {
                tx.execute(
                    "INSERT INTO limit_snapshots (profile, provider, first_seen, last_seen, http_status, headers) VALUES (?1, ?2, ?3, ?3, ?4, ?5)",
                    params![s.profile, s.provider, s.ts, s.http_status, headers],
                )?;
                if !changed.contains(&s.profile) {
                    changed.push(s.profile.clone());
                }
            }
        }
    }
    tx.commit()?;
    Ok(changed)
}

/// The latest snapshot of `profile`.
pub fn latest(conn: &Connection, profile: &str) -> Result<Option<LimitRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM limit_snapshots WHERE profile = ?1 ORDER BY id DESC LIMIT 1"
    ))?;
    Ok(stmt.query_row(params![profile], row).optional()?)
}

/// The last `n` states of `profile`, newest first.
pub fn history(conn: &Connection, profile: &str, n: usize) -> Result<Vec<LimitRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM limit_snapshots WHERE profile = ?1 ORDER BY id DESC LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![profile, n as i64], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}
