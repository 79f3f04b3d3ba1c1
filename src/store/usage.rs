//! The usage tables: events (tokens of one model response) and sessions (one agent run).
//! Inserts are batched in one transaction; events with a `dedupe_key` already stored are
//! ignored, so re-recording is harmless.

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use super::StoreError;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageEvent {
    pub profile: String,
    #[serde(default)]
    pub agent: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    pub model: String,
    /// Unix seconds; defaults to now when recorded.
    #[serde(default)]
    pub ts: Option<i64>,
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_creation_input_tokens: u64,
    #[serde(default)]
    pub cache_read_input_tokens: u64,
    pub source: String,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub dedupe_key: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageSession {
    pub profile: String,
    /// Unix seconds.
    pub started_at: i64,
    #[serde(default)]
    pub ended_at: Option<i64>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    pub source: String,
    #[serde(default)]
    pub session_id: Option<String>,
}

/// Stores events and sessions in one transaction; returns how many of each were new.
pub fn record(
    conn: &mut Connection,
    events: &[UsageEvent],
    sessions: &[UsageSession],
    now: i64,
) -> Result<(usize, usize), StoreError> {
    let tx = conn.transaction()?;
    let mut added_events = 0;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO usage_events (ts, profile, agent, provider, model, input_tokens, output_tokens,
                 cache_creation_input_tokens, cache_read_input_tokens, source, session_id, dedupe_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT(dedupe_key) DO NOTHING",
        )?;
        for e in events {
            added_events += stmt.execute(params![
                e.ts.unwrap_or(now),
                e.profile,
                e.agent,
                e.provider,
                e.model,
                e.input_tokens as i64,
                e.output_tokens as i64,
                e.cache_creation_input_tokens as i64,
                e.cache_read_input_tokens as i64,
                e.source,
                e.session_id,
                e.dedupe_key
            ])?;
        }
    }
    let mut added_sessions = 0;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO usage_sessions (profile, started_at, ended_at, runtime_secs, exit_code, source, session_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(session_id) DO UPDATE SET ended_at = excluded.ended_at,
                 runtime_secs = excluded.runtime_secs, exit_code = excluded.exit_code",
        )?;
        for s in sessions {
            let runtime = s
                .ended_at
                .map(|end| (end - s.started_at).max(0))
                .unwrap_or(0);
            added_sessions += stmt.execute(params![
                s.profile,
                s.started_at,
                s.ended_at,
                runtime,
                s.exit_code,
                s.source,
                s.session_id
            ])?;
        }
    }
    tx.commit()?;
    Ok((added_events, added_sessions))
}
