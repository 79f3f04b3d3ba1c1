//! The `profiles` and `secrets` tables. The key lives only in `secrets`; nothing here
//! returns it except [`secret`], which only launch preparation calls.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

#[derive(Debug, Clone, PartialEq)]
pub struct ProfileRow {
    pub alias: String,
    pub agent_id: String,
    pub provider_id: String,
    pub endpoint_id: String,
    pub model: String,
    pub base_url: Option<String>,
    pub profile_home: String,
    /// The proxy settings, as JSON.
    pub proxy: String,
    /// The sandbox settings, as JSON.
    pub sandbox: String,
    /// `key`, `token` or `login` (see `crate::profiles::AuthMethod`).
    pub auth: String,
    pub created_at: String,
    pub last_used: Option<String>,
}

/// A profile's credentials.
#[derive(Clone)]
pub struct Secret {
    pub api_key: Option<String>,
    /// The per-profile token an agent presents to the profile's proxy.
    pub proxy_token: String,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

const COLUMNS: &str = "alias, agent_id, provider_id, endpoint_id, model, base_url, profile_home, proxy, created_at, last_used, sandbox, auth";

fn row(r: &rusqlite::Row) -> rusqlite::Result<ProfileRow> {
    Ok(ProfileRow {
        alias: r.get(0)?,
        agent_id: r.get(1)?,
        provider_id: r.get(2)?,
        endpoint_id: r.get(3)?,
        model: r.get(4)?,
        base_url: r.get(5)?,
        profile_home: r.get(6)?,
        proxy: r.get(7)?,
        created_at: r.get(8)?,
        last_used: r.get(9)?,
        sandbox: r.get(10)?,
        auth: r.get(11)?,
    })
}

/// Inserts the profile and its secret in one transaction; `false` when the alias exists.
pub fn insert(conn: &mut Connection, p: &ProfileRow, secret: &Secret) -> Result<bool, StoreError> {
    let tx = conn.transaction()?;
    let added = tx.execute(
        &format!("INSERT INTO profiles ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT(alias) DO NOTHING"),
        params![
            p.alias,
            p.agent_id,
            p.provider_id,
            p.endpoint_id,
            p.model,
            p.base_url,
            p.profile_home,
            p.proxy,
            p.created_at,
            p.last_used,
            p.sandbox,
            p.auth
        ],
    )?;
    if added == 0 {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO secrets (alias, api_key, proxy_token) VALUES (?1, ?2, ?3)",
        params![p.alias, secret.api_key, secret.proxy_token],
    )?;
    tx.commit()?;
    Ok(true)
}

pub fn list(conn: &Connection, agent: Option<&str>) -> Result<Vec<ProfileRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM profiles WHERE (?1 IS NULL OR agent_id = ?1) ORDER BY alias"
    ))?;
    let rows = stmt.query_map(params![agent], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get(conn: &Connection, alias: &str) -> Result<Option<ProfileRow>, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM profiles WHERE alias = ?1"))?;
    Ok(stmt.query_row(params![alias], row).optional()?)
}

/// Deletes the profile (its secret goes with it) and the limits its proxy saw; `false`
/// when there was none.
pub fn delete(conn: &mut Connection, alias: &str) -> Result<bool, StoreError> {
    let tx = conn.transaction()?;
    tx.execute(
        "DELETE FROM limit_snapshots WHERE profile = ?1",
        params![alias],
    )?;
    let deleted = tx.execute("DELETE FROM profiles WHERE alias = ?1", params![alias])? > 0;
    tx.commit()?;
    Ok(deleted)
}

/// Replaces the stored credential (key or token) of `alias`; `false` when no such profile.
pub fn set_credential(
    conn: &Connection,
    alias: &str,
    credential: Option<&str>,
) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE secrets SET api_key = ?2 WHERE alias = ?1",
        params![alias, credential],
    )? > 0)
}

pub fn secret(conn: &Connection, alias: &str) -> Result<Option<Secret>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT api_key, proxy_token FROM secrets WHERE alias = ?1")?;
    Ok(stmt
        .query_row(params![alias], |r| {
            Ok(Secret {
                api_key: r.get(0)?,
                proxy_token: r.get(1)?,
            })
        })
        .optional()?)
}

pub fn touch(conn: &Connection, alias: &str, when: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE profiles SET last_used = ?2 WHERE alias = ?1 AND (last_used IS NULL OR last_used < ?2)",
        params![alias, when],
    )?;
    Ok(())
}

pub fn set_proxy(conn: &Connection, alias: &str, proxy: &str) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE profiles SET proxy = ?2 WHERE alias = ?1",
        params![alias, proxy],
    )? > 0)
}

pub fn set_sandbox(conn: &Connection, alias: &str, sandbox: &str) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE profiles SET sandbox = ?2 WHERE alias = ?1",
        params![alias, sandbox],
    )? > 0)
}

/// Profiles per agent id.
pub fn counts_by_agent(conn: &Connection) -> Result<Vec<(String, usize)>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT agent_id, COUNT(*) FROM profiles GROUP BY agent_id")?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
