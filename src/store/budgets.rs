//! The `budgets` table (one row per scope and period) and `budget_alerts`, the thresholds
//! already announced per budget period, so each is announced once even across restarts.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use crate::records::budget::{Budget, Period, Window};

fn row(r: &rusqlite::Row) -> rusqlite::Result<Budget> {
    let period: String = r.get(1)?;
    let window: Option<String> = r.get(3)?;
    Ok(Budget {
        scope: r.get(0)?,
        period: Period::parse(&period).unwrap_or(Period::Daily),
        limit_usd: r.get(2)?,
        window: window.as_deref().and_then(Window::parse),
        window_percent: r.get(4)?,
        hard_stop: r.get::<_, i64>(5)? != 0,
    })
}

const COLUMNS: &str = "scope, period, limit_usd, window, window_percent, hard_stop";

pub fn list(conn: &Connection) -> Result<Vec<Budget>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM budgets ORDER BY scope, period"
    ))?;
    let rows = stmt.query_map([], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get(conn: &Connection, scope: &str, period: Period) -> Result<Option<Budget>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM budgets WHERE scope = ?1 AND period = ?2"
    ))?;
    Ok(stmt
        .query_row(params![scope, period.as_str()], row)
        .optional()?)
}

/// Creates or replaces a budget; the alerts of its current period are forgotten, so a
/// changed limit announces its thresholds afresh. Returns whether it existed.
pub fn put(conn: &mut Connection, b: &Budget, now: &str) -> Result<bool, StoreError> {
    let tx = conn.transaction()?;
    let existed = tx
        .prepare_cached("SELECT 1 FROM budgets WHERE scope = ?1 AND period = ?2")?
        .exists(params![b.scope, b.period.as_str()])?;
    tx.execute(
        "INSERT INTO budgets (scope, period, limit_usd, window, window_percent, hard_stop, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(scope, period) DO UPDATE SET limit_usd = excluded.limit_usd,
             window = excluded.window, window_percent = excluded.window_percent,
             hard_stop = excluded.hard_stop, updated_at = excluded.updated_at",
        params![
            b.scope,
            b.period.as_str(),
            b.limit_usd,
            b.window.map(Window::as_str),
            b.window_percent,
            b.hard_stop as i64,
            now
        ],
    )?;
    tx.execute(
        "DELETE FROM budget_alerts WHERE scope = ?1 AND period = ?2",
        params![b.scope, b.period.as_str()],
    )?;
    tx.commit()?;
    Ok(existed)
}

/// Removes a budget and its alerts; returns whether it existed.
pub fn remove(conn: &mut Connection, scope: &str, period: Period) -> Result<bool, StoreError> {
    let tx = conn.transaction()?;
    let n = tx.execute(
        "DELETE FROM budgets WHERE scope = ?1 AND period = ?2",
        params![scope, period.as_str()],
    )?;
    tx.execute(
        "DELETE FROM budget_alerts WHERE scope = ?1 AND period = ?2",
        params![scope, period.as_str()],
    )?;
    tx.commit()?;
    Ok(n > 0)
}

/// Removes every budget of `scope` (its profile is gone).
pub fn remove_scope(conn: &mut Connection, scope: &str) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    tx.execute("DELETE FROM budgets WHERE scope = ?1", params![scope])?;
    tx.execute("DELETE FROM budget_alerts WHERE scope = ?1", params![scope])?;
    tx.commit()?;
    Ok(())
}

/// Records that `threshold` was announced for the budget's period `period_id`; false
/// when it already was.
pub fn alert_once(
    conn: &mut Connection,
    b: &Budget,
    period_id: &str,
    threshold: u32,
    at: i64,
) -> Result<bool, StoreError> {
    let n = conn.execute(
        "INSERT INTO budget_alerts (scope, period, period_id, threshold, at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT DO NOTHING",
        params![b.scope, b.period.as_str(), period_id, threshold, at],
    )?;
    Ok(n == 1)
}
