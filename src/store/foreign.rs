//! Reading other programs' SQLite databases (opencode's `opencode.db`): read-only, with a
//! short busy timeout, never holding them open between imports.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, params};

use super::StoreError;

/// One row of opencode's `message` table.
#[derive(Debug)]
pub struct OpencodeMessage {
    pub id: String,
    pub session_id: String,
    pub time_updated: i64,
    pub data: String,
}

/// The messages of an opencode database updated at or after `since` (milliseconds), in
/// update order; every message when the table has no `time_updated`.
pub fn opencode_messages(path: &Path, since: i64) -> Result<Vec<OpencodeMessage>, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    conn.busy_timeout(Duration::from_millis(500))?;
    let row = |r: &rusqlite::Row| {
        Ok(OpencodeMessage {
            id: r.get(0)?,
            session_id: r.get(1)?,
            time_updated: r.get(2)?,
            data: r.get(3)?,
        })
    };
    let rows = match conn.prepare(
        "SELECT id, session_id, time_updated, data FROM message WHERE time_updated >= ?1 ORDER BY time_updated",
    ) {
        Ok(mut stmt) => stmt
            .query_map(params![since], row)?
            .collect::<Result<Vec<_>, _>>()?,
        Err(_) => conn
            .prepare("SELECT id, session_id, 0, data FROM message")?
            .query_map([], row)?
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(rows)
}
