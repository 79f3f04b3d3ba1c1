//! Opening the database: pragmas and numbered migrations tracked in `user_version`.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use super::StoreError;

mod migration_compact;
mod migrations;

use migrations::MIGRATIONS;

pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

pub(super) fn open(path: &Path) -> Result<Connection, StoreError> {
    let open_err = |source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    };
    let mut conn = Connection::open(path).map_err(open_err)?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(open_err)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(open_err)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(open_err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(open_err)?;
    // After a checkpoint the WAL is cut back to this size: a large import does not leave a
    // WAL file as big as the data it wrote.
    conn.pragma_update(None, "journal_size_limit", 8 * 1024 * 1024)
        .map_err(open_err)?;
    // Deleted content is overwritten, so a deleted key does not linger in free pages.
    conn.pragma_update(None, "secure_delete", "ON")
        .map_err(open_err)?;
    // Imports write in bulk: a bigger page cache, and rarer checkpoints.
    conn.pragma_update(None, "cache_size", -16_384)
        .map_err(open_err)?;
    conn.pragma_update(None, "wal_autocheckpoint", 10_000)
        .map_err(open_err)?;
    // One connection writes everything: room for every statement a commit of an import
    // prepares, so none is compiled again each batch.
    conn.set_prepared_statement_cache_capacity(64);
    // Migration 12 hashes the stored dedupe keys with the function every write uses.
    conn.create_scalar_function(
        "usage_key",
        1,
        rusqlite::functions::FunctionFlags::SQLITE_UTF8
            | rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| Ok(super::usage::key_hash(&ctx.get::<String>(0)?)),
    )
    .map_err(open_err)?;
    migrate(&mut conn)?;
    super::daily::sync_zone(&mut conn, jiff::tz::TimeZone::system())?;
    Ok(conn)
}

/// A read-only connection to the database the writer opened (and migrated).
pub(super) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let open_err = |source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    };
    let conn = Connection::open(path).map_err(open_err)?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(open_err)?;
    conn.pragma_update(None, "query_only", "ON")
        .map_err(open_err)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: usize =
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let version = i + 1;
        let tx = conn.transaction()?;
        tx.execute_batch(sql)
            .and_then(|_| tx.pragma_update(None, "user_version", version as i64))
            .and_then(|_| tx.commit())
            .map_err(|source| StoreError::Migrate { version, source })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
