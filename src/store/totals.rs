//! All-time usage totals per profile, agent, provider and model (`usage_totals`), kept
//! by [`super::usage`] in the same transactions as the events: what `/metrics` serves.
//! Its size grows with the pairs in use, never with the number of events, and reading
//! it on a reader connection never waits for a write. Each row carries the change number
//! (`rev`) of the last event that moved it, so a reader can ask for what changed only.

use rusqlite::Connection;

use super::StoreError;
use crate::tokens::Tokens;

/// One totals row, its strings borrowed from the statement.
pub struct Total<'a> {
    pub profile: &'a str,
    /// '' when the events did not say (then the profile's own agent applies).
    pub agent: &'a str,
    pub provider: &'a str,
    pub model: &'a str,
    pub tokens: Tokens,
    pub events: u64,
}

/// Calls `f(row, change number)` for every totals row changed after `rev` (all of them
/// for -1); nothing is allocated per row.
pub fn fold_after(
    conn: &Connection,
    rev: i64,
    mut f: impl FnMut(Total, i64),
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT profile, agent, provider, model, input_tokens, output_tokens,
                cache_creation_input_tokens, cache_read_input_tokens, cache_creation_1h_tokens, events, rev
         FROM usage_totals WHERE rev > ?1",
    )?;
    let mut rows = stmt.query([rev])?;
    let count = |r: &rusqlite::Row, i: usize| -> rusqlite::Result<u64> {
        Ok(r.get::<_, i64>(i)?.max(0) as u64)
    };
    while let Some(r) = rows.next()? {
        let text = |i: usize| {
            r.get_ref(i)
                .and_then(|v| v.as_str().map_err(rusqlite::Error::from))
        };
        f(
            Total {
                profile: text(0)?,
                agent: text(1)?,
                provider: text(2)?,
                model: text(3)?,
                tokens: Tokens {
                    input_tokens: count(r, 4)?,
                    output_tokens: count(r, 5)?,
                    cache_creation_input_tokens: count(r, 6)?,
                    cache_read_input_tokens: count(r, 7)?,
                    cache_creation_1h_input_tokens: count(r, 8)?,
                    ..Tokens::default()
                },
                events: count(r, 9)?,
            },
            r.get(10)?,
        );
    }
    Ok(())
}

/// The profiles' change number: moves whenever a profile is created, deleted, renamed or
/// given another agent or provider.
pub fn profiles_rev(conn: &Connection) -> Result<i64, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT rev FROM profiles_rev WHERE id = 1")?;
    Ok(stmt.query_row([], |r| r.get(0))?)
}

/// Every profile's agent and provider: `(alias, agent_id, provider_id)`.
pub fn profile_names(conn: &Connection) -> Result<Vec<(String, String, String)>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT alias, agent_id, provider_id FROM profiles")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
