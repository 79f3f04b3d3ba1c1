//! The `bindings` table: directories bound to a profile, as listed by the API (the
//! `.clown-profile` file in each directory is what resolution reads).

use rusqlite::{Connection, params};

use super::StoreError;

#[derive(Debug, Clone, PartialEq)]
pub struct BindingRow {
    pub dir: String,
    pub profile: String,
    pub created_at: String,
}

pub fn put(conn: &Connection, dir: &str, profile: &str, now: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO bindings (dir, profile, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(dir) DO UPDATE SET profile = excluded.profile, created_at = excluded.created_at",
        params![dir, profile, now],
    )?;
    Ok(())
}

/// Whether `dir` is listed as bound to `profile`.
pub fn has(conn: &Connection, dir: &str, profile: &str) -> Result<bool, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM bindings WHERE dir = ?1 AND profile = ?2",
        params![dir, profile],
        |r| r.get::<_, i64>(0),
    )? > 0)
}

pub fn delete(conn: &Connection, dir: &str) -> Result<bool, StoreError> {
    Ok(conn.execute("DELETE FROM bindings WHERE dir = ?1", params![dir])? > 0)
}

pub fn list(conn: &Connection) -> Result<Vec<BindingRow>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT dir, profile, created_at FROM bindings ORDER BY dir")?;
    let rows = stmt.query_map([], |r| {
        Ok(BindingRow {
            dir: r.get(0)?,
            profile: r.get(1)?,
            created_at: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
