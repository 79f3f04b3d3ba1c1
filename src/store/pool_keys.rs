//! The `pool_keys` table: a profile's further keys and subscription tokens. The secret
//! leaves this module only through [`with_secrets`], which the proxy's plan calls.

use rusqlite::{Connection, params};

use super::StoreError;

/// A pool key as the API shows it (no secret: its last four characters).
#[derive(Debug, Clone, PartialEq)]
pub struct PoolKeyRow {
    pub label: String,
    /// `key` or `token` (a subscription's OAuth token).
    pub kind: String,
    pub priority: i64,
    pub provider_id: Option<String>,
    pub endpoint_id: Option<String>,
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub created_at: String,
    pub hint: String,
}

/// A pool key with its secret, for the plan.
#[derive(Clone)]
pub struct PoolKeySecret {
    pub row: PoolKeyRow,
    pub secret: String,
}

impl std::fmt::Debug for PoolKeySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolKeySecret")
            .field("row", &self.row)
            .finish_non_exhaustive()
    }
}

/// The last four characters of a secret (all of it hidden when shorter than 12).
pub fn hint(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 12 {
        return "…".into();
    }
    format!("…{}", chars[chars.len() - 4..].iter().collect::<String>())
}

const COLUMNS: &str =
    "label, kind, priority, provider_id, endpoint_id, base_url, model, created_at, secret";

fn read(r: &rusqlite::Row) -> rusqlite::Result<PoolKeySecret> {
    let secret: String = r.get(8)?;
    Ok(PoolKeySecret {
        row: PoolKeyRow {
            label: r.get(0)?,
            kind: r.get(1)?,
            priority: r.get(2)?,
            provider_id: r.get(3)?,
            endpoint_id: r.get(4)?,
            base_url: r.get(5)?,
            model: r.get(6)?,
            created_at: r.get(7)?,
            hint: hint(&secret),
        },
        secret,
    })
}

/// The keys of `profile` with their secrets, by priority then age.
pub fn with_secrets(conn: &Connection, profile: &str) -> Result<Vec<PoolKeySecret>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM pool_keys WHERE profile = ?1 ORDER BY priority, id"
    ))?;
    let rows = stmt.query_map([profile], read)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The keys of `profile`, without secrets.
pub fn list(conn: &Connection, profile: &str) -> Result<Vec<PoolKeyRow>, StoreError> {
    Ok(with_secrets(conn, profile)?
        .into_iter()
        .map(|k| k.row)
        .collect())
}

/// Adds a key; `false` when the profile already has one with that label.
pub fn add(conn: &Connection, profile: &str, key: &PoolKeySecret) -> Result<bool, StoreError> {
    let k = &key.row;
    let n = conn.execute(
        "INSERT INTO pool_keys (profile, label, secret, kind, priority, provider_id, endpoint_id, base_url, model, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT(profile, label) DO NOTHING",
        params![
            profile,
            k.label,
            key.secret,
            k.kind,
            k.priority,
            k.provider_id,
            k.endpoint_id,
            k.base_url,
            k.model,
            k.created_at
        ],
    )?;
    Ok(n == 1)
}

/// Removes a key; `false` when there was none of that label.
pub fn remove(conn: &Connection, profile: &str, label: &str) -> Result<bool, StoreError> {
    let n = conn.execute(
        "DELETE FROM pool_keys WHERE profile = ?1 AND label = ?2",
        params![profile, label],
    )?;
    Ok(n == 1)
}
