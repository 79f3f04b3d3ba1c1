//! The `limit_snapshots` table: the rate-limit headers each profile's proxy saw, one row
//! per distinct state. A snapshot equal to the profile's latest only moves that row's
//! `last_seen`; a different one (a new utilisation, a reset, a 429) adds a row, so the
//! table is both the latest state and its history. Each row says where it came from:
//! `proxy` (the response headers) or `statusline` (the `rate_limits` an agent passes to
//! its status-line command, for profiles without the proxy).

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
    /// `proxy` or `statusline`.
    pub source: String,
}

/// The two sources of snapshots.
pub const FROM_PROXY: &str = "proxy";
pub const FROM_STATUSLINE: &str = "statusline";

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
        source: r.get(7)?,
    })
}

const COLUMNS: &str = "id, profile, provider, first_seen, last_seen, http_status, headers, source";

/// Records `snapshots` (seen by `source`) in one transaction; returns the profiles whose
/// latest state changed (a new row), in order, without repeats.
pub fn record(
    conn: &mut Connection,
    snapshots: &[LimitSnapshot],
    source: &str,
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
                    && l.snapshot.provider == s.provider
                    && l.source == source =>
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
                    "INSERT INTO limit_snapshots (profile, provider, first_seen, last_seen, http_status, headers, source) VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6)",
                    params![s.profile, s.provider, s.ts, s.http_status, headers, source],
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

/// The latest snapshot of every profile that has one.
pub fn latest_all(conn: &Connection) -> Result<Vec<LimitRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM limit_snapshots
         WHERE id IN (SELECT MAX(id) FROM limit_snapshots GROUP BY profile) ORDER BY profile"
    ))?;
    let rows = stmt.query_map([], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}
