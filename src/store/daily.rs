//! The daily rollup: usage per local calendar day (in the daemon's time zone), profile
//! and model. Usage periods are whole local days, so reports read this table: its size
//! grows with days × profiles × models, never with the number of events.
//!
//! The connection gets a SQL function `local_day(ts)` bound to the zone; every rollup
//! change is applied here in the same transaction ([`super::usage::Rollup`]). The zone
//! the table was built for is kept in `meta`; when the daemon starts in another zone the
//! table is rebuilt from the 15-minute rollup, whose buckets align with every real zone.

use std::sync::Mutex;

use jiff::tz::TimeZone;
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use crate::tokens::Tokens;

const ZONE_KEY: &str = "daily_zone";

fn zone_name(tz: &TimeZone) -> String {
    tz.iana_name()
        .map(String::from)
        .unwrap_or_else(|| format!("{tz:?}"))
}

/// Registers `local_day(ts)` for `tz` and rebuilds the table when it was built for
/// another zone.
pub fn sync_zone(conn: &mut Connection, tz: TimeZone) -> Result<(), StoreError> {
    let name = zone_name(&tz);
    // The same bucket is asked for many times in a row: remember the last day's span.
    let last: Mutex<(i64, i64, String)> = Mutex::new((0, 0, String::new()));
    conn.create_scalar_function(
        "local_day",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        move |ctx| {
            let ts: i64 = ctx.get(0)?;
            let mut cache = last.lock().unwrap_or_else(|p| p.into_inner());
            if !(cache.0..cache.1).contains(&ts) {
                let date = crate::time::local_date(ts, &tz);
                let start = date.map(|d| crate::time::day_start(d, &tz)).unwrap_or(ts);
                let end = date
                    .and_then(|d| d.tomorrow().ok())
                    .map(|d| crate::time::day_start(d, &tz))
                    .unwrap_or(ts + 1);
                *cache = (start, end, date.map(|d| d.to_string()).unwrap_or_default());
            }
            Ok(cache.2.clone())
        },
    )?;
    let built_for: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            params![ZONE_KEY],
            |r| r.get(0),
        )
        .optional()?;
    if built_for.as_deref() == Some(name.as_str()) {
        return Ok(());
    }
    let tx = conn.transaction()?;
    tx.execute("DELETE FROM usage_daily", [])?;
    let cols: Vec<&str> = super::COUNT_COLUMNS
        .into_iter()
        .chain([
            "lc_input_tokens",
            "lc_output_tokens",
            "lc_cache_creation_tokens",
            "lc_cache_read_tokens",
        ])
        .collect();
    let sums: Vec<String> = cols.iter().map(|c| super::saturated_sum(c)).collect();
    tx.execute(
        &format!(
            "INSERT INTO usage_daily (day, profile, model, {}, events, last_ts)
             SELECT local_day(bucket * 900), profile, model, {}, SUM(events), MAX(last_ts)
             FROM usage_rollup GROUP BY 1, 2, 3",
            cols.join(", "),
            sums.join(", ")
        ),
        [],
    )?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![ZONE_KEY, name],
    )?;
    tx.commit()?;
    Ok(())
}

/// One day's row: its tokens, the part of them from long-context requests, the last
/// event's time.
#[derive(Debug, Clone, Copy, Default)]
pub struct DayRow {
    pub tokens: Tokens,
    pub long: Tokens,
    pub last_ts: i64,
}

/// Calls `f(day, profile, model, row)` for each day in `[first, last]` (ISO dates;
/// `None` = from the beginning), optionally filtered. Strings are borrowed: nothing is
/// allocated per row.
pub fn fold(
    conn: &Connection,
    first: Option<&str>,
    last: &str,
    profile: Option<&str>,
    model: Option<&str>,
    mut f: impl FnMut(&str, &str, &str, DayRow),
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT day, profile, model, input_tokens, output_tokens, cache_creation_input_tokens,
                cache_read_input_tokens, cache_creation_1h_tokens, last_ts, reasoning_output_tokens,
                lc_input_tokens, lc_output_tokens, lc_cache_creation_tokens, lc_cache_read_tokens
         FROM usage_daily
         WHERE (?1 IS NULL OR day >= ?1) AND day <= ?2 AND (?3 IS NULL OR profile = ?3)
           AND (?4 IS NULL OR model = ?4) AND events > 0
         ORDER BY day",
    )?;
    let mut rows = stmt.query(params![first, last, profile, model])?;
    let count = |r: &rusqlite::Row, i: usize| -> rusqlite::Result<u64> {
        Ok(r.get::<_, i64>(i)?.max(0) as u64)
    };
    while let Some(r) = rows.next()? {
        let text = |i: usize| {
            r.get_ref(i)
                .and_then(|v| v.as_str().map_err(rusqlite::Error::from))
        };
        f(
            text(0)?,
            text(1)?,
            text(2)?,
            DayRow {
                tokens: Tokens {
                    input_tokens: count(r, 3)?,
                    output_tokens: count(r, 4)?,
                    cache_creation_input_tokens: count(r, 5)?,
                    cache_read_input_tokens: count(r, 6)?,
                    cache_creation_1h_input_tokens: count(r, 7)?,
                    reasoning_output_tokens: count(r, 9)?,
                },
                long: Tokens {
                    input_tokens: count(r, 10)?,
                    output_tokens: count(r, 11)?,
                    cache_creation_input_tokens: count(r, 12)?,
                    cache_read_input_tokens: count(r, 13)?,
                    ..Default::default()
                },
                last_ts: r.get(8)?,
            },
        );
    }
    Ok(())
}
