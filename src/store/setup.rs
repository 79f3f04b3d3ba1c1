//! The shared setup's tables: `shared_setup` (one JSON document) and
//! `setup_projections` (per profile and file of its home: the format and the entries the
//! last projection wrote, as JSON). A profile's projection records are replaced whole in
//! one transaction.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// The stored setup document, if any was saved.
pub fn get(conn: &Connection) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row("SELECT doc FROM shared_setup WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?)
}

pub fn put(conn: &Connection, doc: &str, now: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO shared_setup (id, doc, updated_at) VALUES (1, ?1, ?2)
         ON CONFLICT(id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
        params![doc, now],
    )?;
    Ok(())
}

/// One file's record: its path relative to the home, format, and entries (JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectionRow {
    pub file: String,
    pub format: String,
    pub entries: String,
}

pub fn records(conn: &Connection, profile: &str) -> Result<Vec<ProjectionRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT file, format, entries FROM setup_projections WHERE profile = ?1 ORDER BY file",
    )?;
    let rows = stmt.query_map(params![profile], |r| {
        Ok(ProjectionRow {
            file: r.get(0)?,
            format: r.get(1)?,
            entries: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Replaces the records of `profile` (a profile deleted meanwhile keeps none).
pub fn put_records(
    conn: &mut Connection,
    profile: &str,
    rows: &[ProjectionRow],
    now: &str,
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    tx.execute(
        "DELETE FROM setup_projections WHERE profile = ?1",
        params![profile],
    )?;
    let exists: bool = tx
        .query_row(
            "SELECT 1 FROM profiles WHERE alias = ?1",
            params![profile],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if exists {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO setup_projections (profile, file, format, entries, projected_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for r in rows {
            stmt.execute(params![profile, r.file, r.format, r.entries, now])?;
        }
    }
    tx.commit()?;
    Ok(())
}
