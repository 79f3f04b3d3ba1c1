//! Terminal sessions as records (`terminal_sessions`): what a restarted daemon needs to
//! find its sessions again (their holders, scrollback files), to list those that ended
//! while it was away, and to offer the interrupted ones for resuming (profile, directory,
//! agent, the agent's conversation id). `state` is `running`, `ended` (the program ended,
//! or was ended from a client) or `interrupted` (ended by the daemon's or the service's
//! stop, a reboot, or a lost holder).

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionRow {
    pub id: String,
    pub profile: String,
    pub agent_id: String,
    pub cwd: String,
    /// The arguments the agent was started with (JSON list).
    pub args: Vec<String>,
    pub created_at: String,
    /// Unix seconds.
    pub started_at: i64,
    pub pid: i32,
    pub holder_pid: i32,
    pub cols: u16,
    pub rows: u16,
    pub state: String,
    pub exit_code: Option<i32>,
    pub ended_at: Option<i64>,
    pub attention: String,
    /// Unix milliseconds.
    pub attention_since: i64,
    pub hooked: bool,
    pub conversation_id: Option<String>,
    /// The session's git worktree, as JSON (null without one).
    pub worktree: Option<String>,
}

const COLUMNS: &str = "id, profile, agent_id, cwd, args, created_at, started_at, pid, holder_pid, cols, rows, state, exit_code, ended_at, attention, attention_since, hooked, conversation_id, worktree";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<SessionRow> {
    let args: String = r.get(4)?;
    Ok(SessionRow {
        id: r.get(0)?,
        profile: r.get(1)?,
        agent_id: r.get(2)?,
        cwd: r.get(3)?,
        args: serde_json::from_str(&args).unwrap_or_default(),
        created_at: r.get(5)?,
        started_at: r.get(6)?,
        pid: r.get(7)?,
        holder_pid: r.get(8)?,
        cols: r.get(9)?,
        rows: r.get(10)?,
        state: r.get(11)?,
        exit_code: r.get(12)?,
        ended_at: r.get(13)?,
        attention: r.get(14)?,
        attention_since: r.get(15)?,
        hooked: r.get(16)?,
        conversation_id: r.get(17)?,
        worktree: r.get(18)?,
    })
}

pub fn insert(c: &Connection, s: &SessionRow) -> Result<(), StoreError> {
    c.execute(
        &format!("INSERT INTO terminal_sessions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"),
        params![
            s.id,
            s.profile,
            s.agent_id,
            s.cwd,
            serde_json::to_string(&s.args).unwrap_or_else(|_| "[]".into()),
            s.created_at,
            s.started_at,
            s.pid,
            s.holder_pid,
            s.cols,
            s.rows,
            s.state,
            s.exit_code,
            s.ended_at,
            s.attention,
            s.attention_since,
            s.hooked,
            s.conversation_id,
            s.worktree,
        ],
    )?;
    Ok(())
}

pub fn get(c: &Connection, id: &str) -> Result<Option<SessionRow>, StoreError> {
    Ok(c.query_row(
        &format!("SELECT {COLUMNS} FROM terminal_sessions WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()?)
}

/// The records in `state`, in the order the sessions started.
pub fn in_state(c: &Connection, state: &str) -> Result<Vec<SessionRow>, StoreError> {
    let mut stmt = c.prepare(&format!(
        "SELECT {COLUMNS} FROM terminal_sessions WHERE state = ?1 ORDER BY rowid"
    ))?;
    let rows = stmt
        .query_map([state], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The records of sessions still listed (running or ended, not cleaned up), in the
/// order they started.
pub fn listed(c: &Connection) -> Result<Vec<SessionRow>, StoreError> {
    let mut stmt = c.prepare(&format!(
        "SELECT {COLUMNS} FROM terminal_sessions WHERE state IN ('running', 'ended') ORDER BY rowid"
    ))?;
    let rows = stmt
        .query_map([], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn set_attention(
    c: &Connection,
    id: &str,
    attention: &str,
    since_ms: i64,
    hooked: bool,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE terminal_sessions SET attention = ?2, attention_since = ?3, hooked = ?4 WHERE id = ?1",
        params![id, attention, since_ms, hooked],
    )?;
    Ok(())
}

pub fn set_conversation(c: &Connection, id: &str, conversation: &str) -> Result<(), StoreError> {
    c.execute(
        "UPDATE terminal_sessions SET conversation_id = ?2 WHERE id = ?1",
        params![id, conversation],
    )?;
    Ok(())
}

pub fn set_size(c: &Connection, id: &str, cols: u16, rows: u16) -> Result<(), StoreError> {
    c.execute(
        "UPDATE terminal_sessions SET cols = ?2, rows = ?3 WHERE id = ?1",
        params![id, cols, rows],
    )?;
    Ok(())
}

pub fn set_worktree(c: &Connection, id: &str, worktree: Option<&str>) -> Result<(), StoreError> {
    c.execute(
        "UPDATE terminal_sessions SET worktree = ?2 WHERE id = ?1",
        params![id, worktree],
    )?;
    Ok(())
}

/// The program ended with `code`: `ended`, unless it was already marked `interrupted`
/// (ended by a stop), or `interrupted` when `interrupted` says so.
pub fn end(
    c: &Connection,
    id: &str,
    code: i32,
    ended_at: i64,
    interrupted: bool,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE terminal_sessions SET exit_code = ?2, ended_at = ?3,
            state = CASE WHEN ?4 OR state = 'interrupted' THEN 'interrupted' ELSE 'ended' END,
            attention = 'exited'
         WHERE id = ?1",
        params![id, code, ended_at, interrupted],
    )?;
    Ok(())
}

/// Marks `id` as interrupted (its program is being ended by a stop, or was lost).
pub fn interrupt(c: &Connection, id: &str) -> Result<(), StoreError> {
    c.execute(
        "UPDATE terminal_sessions SET state = 'interrupted' WHERE id = ?1",
        [id],
    )?;
    Ok(())
}

pub fn delete(c: &Connection, id: &str) -> Result<bool, StoreError> {
    Ok(c.execute("DELETE FROM terminal_sessions WHERE id = ?1", [id])? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn row(id: &str) -> SessionRow {
        SessionRow {
            id: id.into(),
            profile: "p".into(),
            agent_id: "claude".into(),
            cwd: "/w".into(),
            args: vec!["-x".into()],
            created_at: "2026-01-01T00:00:00Z".into(),
            started_at: 1_800_000_000,
            pid: 10,
            holder_pid: 9,
            cols: 80,
            rows: 24,
            state: "running".into(),
            exit_code: None,
            ended_at: None,
            attention: "idle".into(),
            attention_since: 0,
            hooked: false,
            conversation_id: None,
            worktree: None,
        }
    }

    #[test]
    fn records_follow_a_session() {
        let dir = std::env::temp_dir().join(format!("clown-sessions-db-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = crate::store::Store::open(&dir.join("t.db")).unwrap();
        store
            .call_blocking(|c| {
                c.execute(
                    "INSERT INTO profiles (alias, agent_id, provider_id, endpoint_id, model, profile_home, created_at) VALUES ('p','claude','anthropic','default','m','/h','t')",
                    [],
                )?;
                insert(c, &row("a"))?;
                insert(c, &row("b"))?;
                set_attention(c, "a", "needs_input", 5, true)?;
                set_conversation(c, "a", "conv")?;
                let a = get(c, "a")?.unwrap();
                assert_eq!((a.attention.as_str(), a.attention_since, a.hooked), ("needs_input", 5, true));
                assert_eq!(a.conversation_id.as_deref(), Some("conv"));
                assert_eq!(a.args, ["-x"]);
                interrupt(c, "b")?;
                end(c, "b", 129, 1_800_000_100, false)?;
                end(c, "a", 0, 1_800_000_100, false)?;
                assert_eq!(get(c, "b")?.unwrap().state, "interrupted", "a stop's mark stays");
                assert_eq!(get(c, "a")?.unwrap().state, "ended");
                assert_eq!(in_state(c, "interrupted")?.len(), 1);
                // A deleted profile takes its records along.
                c.execute("DELETE FROM profiles WHERE alias = 'p'", [])?;
                assert!(get(c, "a")?.is_none());
                Ok(())
            })
            .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
