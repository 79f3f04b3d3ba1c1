//! Reading usage events one by one, for what needs each event's own time or session:
//! billing blocks, the session report and the export. Everything else reads the rollups.
//!
//! Events older than the oldest one kept (raw events may be folded into the rollups after
//! a retention period) are read from the 15-minute rollup instead: one entry per bucket,
//! profile and model, at the bucket's last event. A profile filter is a list of profiles
//! (`None`: all).

use rusqlite::{Connection, params};

use super::StoreError;
use super::usage::BUCKET_SECS;
use crate::tokens::Tokens;

/// One event (or rollup bucket) as a reader sees it; strings are borrowed from the row.
pub struct Row<'a> {
    pub ts: i64,
    pub profile: &'a str,
    pub model: &'a str,
    pub agent: Option<&'a str>,
    pub provider: Option<&'a str>,
    pub source: &'a str,
    pub session_id: Option<&'a str>,
    pub tokens: Tokens,
    /// How many events it stands for (more than one for a rollup bucket).
    pub count: u64,
}

/// The filter as SQL takes it: a JSON array of profiles, or NULL for all.
fn filter(profiles: Option<&[String]>) -> Option<String> {
    profiles.map(|p| serde_json::to_string(p).unwrap_or_else(|_| "[]".into()))
}

const IN_FILTER: &str = "(?1 IS NULL OR profile IN (SELECT value FROM json_each(?1)))";

/// Events of `[?2, ?3)` are under the labels with an event then: an event's time is its
/// label's first time and the seconds after it, read for those labels' events alone.
const IN_PERIOD: &str = "label IN (SELECT id FROM usage_labels WHERE min_ts < ?3 AND max_ts >= ?2)";

fn count(r: &rusqlite::Row, i: usize) -> rusqlite::Result<u64> {
    Ok(r.get::<_, i64>(i)?.max(0) as u64)
}

fn tokens(r: &rusqlite::Row, first: usize) -> rusqlite::Result<Tokens> {
    Ok(Tokens {
        input_tokens: count(r, first)?,
        output_tokens: count(r, first + 1)?,
        cache_creation_input_tokens: count(r, first + 2)?,
        cache_read_input_tokens: count(r, first + 3)?,
        cache_creation_1h_input_tokens: count(r, first + 4)?,
        ..Tokens::default()
    })
}

fn text<'r>(r: &'r rusqlite::Row, i: usize) -> rusqlite::Result<&'r str> {
    r.get_ref(i)?.as_str().map_err(rusqlite::Error::from)
}

fn opt_text<'r>(r: &'r rusqlite::Row, i: usize) -> rusqlite::Result<Option<&'r str>> {
    r.get_ref(i)?
        .as_str_or_null()
        .map_err(rusqlite::Error::from)
}

/// The start of the oldest 15-minute bucket whose events are all still kept: before it,
/// only the rollup knows the usage. `None` when no event is kept at all.
pub fn horizon(conn: &Connection) -> Result<Option<i64>, StoreError> {
    // No event is older than its label's earliest (`min_ts`): the oldest is among the
    // labels that start no later than an event found. The earliest label's events bound
    // it, then those labels' events give it (an event's time, its label's first time and
    // the seconds after it, is read for theirs alone, not for every event).
    let oldest_of_labels_from = |first: i64| -> Result<Option<i64>, StoreError> {
        Ok(conn
            .prepare_cached(
                "SELECT MIN(l.first_ts + r.dt) FROM usage_raw r JOIN usage_labels l ON l.id = r.label
                 WHERE r.label IN (SELECT id FROM usage_labels WHERE min_ts <= ?1)",
            )?
            .query_row([first], |r| r.get(0))?)
    };
    let earliest: Option<i64> = conn
        .prepare_cached("SELECT MIN(min_ts) FROM usage_labels")?
        .query_row([], |r| r.get(0))?;
    let bound = match earliest {
        Some(first) => oldest_of_labels_from(first)?,
        None => return Ok(None),
    };
    let min: Option<i64> = match bound {
        Some(bound) => oldest_of_labels_from(bound)?,
        // The earliest labels have no events left: every label.
        None => conn
            .prepare_cached("SELECT MIN(ts) FROM usage_events")?
            .query_row([], |r| r.get(0))?,
    };
    Ok(min.map(|t| t.div_euclid(BUCKET_SECS) * BUCKET_SECS))
}

/// A time from which billing blocks can be computed as if from the very first event:
/// the latest moment at or before `before` that follows a silence longer than `length`
/// (no usage of the filtered profiles in between), looked for in the 15-minute rollup
/// back to `not_before`. A bucket's last event and the next bucket's start bound the
/// silence from below, so a silence found is a real one. `not_before` when none is found.
pub fn quiet_before(
    conn: &Connection,
    profiles: Option<&[String]>,
    before: i64,
    length: i64,
    not_before: i64,
) -> Result<i64, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT bucket, MAX(last_ts) FROM usage_rollup
         WHERE bucket <= ?2 AND bucket >= ?3 AND events > 0 AND {IN_FILTER}
         GROUP BY bucket ORDER BY bucket DESC"
    ))?;
    let mut rows = stmt.query(params![
        filter(profiles),
        before.div_euclid(BUCKET_SECS),
        not_before.div_euclid(BUCKET_SECS)
    ])?;
    let mut later: Option<i64> = None;
    while let Some(r) = rows.next()? {
        let bucket: i64 = r.get(0)?;
        let last: i64 = r.get(1)?;
        if let Some(next) = later
            && next - last > length
        {
            return Ok(next);
        }
        later = Some(bucket * BUCKET_SECS);
    }
    // No usage before the earliest bucket found, or the search reached its limit.
    Ok(not_before)
}

/// Calls `f` for the usage in `[from, to)` of the filtered profiles, in time order: the
/// rollup's buckets before the `horizon`, then each event. Events of the same second come
/// by label, in the order labels were first stored (a billing block lists its models in
/// the order it meets them, as ccusage does in file order); events carry no arrival
/// number unless a push is configured.
pub fn fold(
    conn: &Connection,
    profiles: Option<&[String]>,
    from: i64,
    to: i64,
    mut f: impl FnMut(&Row),
) -> Result<(), StoreError> {
    let profiles = filter(profiles);
    let horizon = horizon(conn)?.unwrap_or(i64::MAX);
    if from < horizon {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT last_ts, profile, model, input_tokens, output_tokens, cache_creation_input_tokens,
                    cache_read_input_tokens, cache_creation_1h_tokens, events
             FROM usage_rollup
             WHERE bucket >= ?2 AND bucket < ?3 AND events > 0 AND {IN_FILTER}
             ORDER BY bucket, last_ts"
        ))?;
        let mut rows = stmt.query(params![
            profiles,
            from.div_euclid(BUCKET_SECS),
            horizon.min(to).div_euclid(BUCKET_SECS)
        ])?;
        while let Some(r) = rows.next()? {
            f(&Row {
                ts: r.get(0)?,
                profile: text(r, 1)?,
                model: text(r, 2)?,
                agent: None,
                provider: None,
                source: "rollup",
                session_id: None,
                tokens: tokens(r, 3)?,
                count: count(r, 8)?,
            });
        }
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT ts, profile, model, input_tokens, output_tokens, cache_creation_input_tokens,
                cache_read_input_tokens, cache_creation_1h_tokens, agent, provider, source, session_id
         FROM usage_events
         WHERE ts >= ?2 AND ts < ?3 AND {IN_FILTER} AND {IN_PERIOD}
         ORDER BY ts, label, id"
    ))?;
    let mut rows = stmt.query(params![profiles, from.max(horizon.min(to)), to])?;
    while let Some(r) = rows.next()? {
        f(&Row {
            ts: r.get(0)?,
            profile: text(r, 1)?,
            model: text(r, 2)?,
            tokens: tokens(r, 3)?,
            agent: opt_text(r, 8)?,
            provider: opt_text(r, 9)?,
            source: text(r, 10)?,
            session_id: opt_text(r, 11)?,
            count: 1,
        });
    }
    Ok(())
}

/// One session's usage of one model: `(profile, session, model, tokens, events, first
/// and last time)`.
pub type SessionRow = (String, String, String, Tokens, u64, i64, i64);

/// Usage per session and model of events in `[from, to)` that name a session.
pub fn sessions(
    conn: &Connection,
    profiles: Option<&[String]>,
    from: i64,
    to: i64,
) -> Result<Vec<SessionRow>, StoreError> {
    let sat = |col: &str| format!("CAST(MIN(TOTAL({col}), 9223372036854775807.0) AS INTEGER)");
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT profile, session_id, model, {}, {}, {}, {}, {}, COUNT(*), MIN(ts), MAX(ts)
         FROM usage_events
         WHERE ts >= ?2 AND ts < ?3 AND session_id IS NOT NULL AND {IN_FILTER} AND {IN_PERIOD}
         GROUP BY profile, session_id, model",
        sat("input_tokens"),
        sat("output_tokens"),
        sat("cache_creation_input_tokens"),
        sat("cache_read_input_tokens"),
        sat("cache_creation_1h_tokens"),
    ))?;
    let rows = stmt.query_map(params![filter(profiles), from, to], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            tokens(r, 3)?,
            count(r, 8)?,
            r.get(9)?,
            r.get(10)?,
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::UsageEvent;

    fn event(profile: &str, ts: i64, key: &str) -> UsageEvent {
        UsageEvent {
            profile: profile.into(),
            model: "m".into(),
            ts: Some(ts),
            tokens: Tokens {
                input_tokens: 10,
                ..Default::default()
            },
            source: "test".into(),
            session_id: Some("s".into()),
            dedupe_key: Some(key.into()),
            ..Default::default()
        }
    }

    #[test]
    fn the_horizon_is_the_oldest_event_kept_whichever_label_it_has() {
        let dir = std::env::temp_dir().join(format!("clown-horizon-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut conn = crate::store::db::open(&dir.join("t.db")).unwrap();
        let day = 86_400;
        let t0 = 1_800_000_000 - 1_800_000_000 % day;
        // Conversation "s" starts first and goes on for days; "t" starts a day later.
        let mut later = event("a", t0 + day, "t1");
        later.session_id = Some("t".into());
        let events = [event("a", t0, "s1"), event("a", t0 + 3 * day, "s2"), later];
        crate::store::usage::record(&mut conn, &events, &[], 0).unwrap();
        assert_eq!(horizon(&conn).unwrap(), Some(t0));
        // Its first event gone: the oldest kept is the other conversation's, not the
        // first conversation's next one.
        conn.execute(
            "DELETE FROM usage_raw WHERE key = ?1",
            [crate::store::usage::key_hash("s1")],
        )
        .unwrap();
        assert_eq!(horizon(&conn).unwrap(), Some(t0 + day));
        // An event older than its conversation's first (stored before it): found as
        // the oldest, and read in its period.
        let older = [event("a", t0 - day, "s0")];
        crate::store::usage::record(&mut conn, &older, &[], 0).unwrap();
        assert_eq!(horizon(&conn).unwrap(), Some(t0 - day));
        let mut seen = Vec::new();
        fold(&conn, None, t0 - 2 * day, t0, |r| seen.push(r.ts)).unwrap();
        assert_eq!(seen, vec![t0 - day]);
        conn.execute("DELETE FROM usage_raw", []).unwrap();
        assert_eq!(horizon(&conn).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn quiet_points_and_the_rollup_before_the_horizon() {
        let dir = std::env::temp_dir().join(format!("clown-events-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut conn = super::super::db::open(&dir.join("t.db")).unwrap();
        let h = 3600;
        let t0: i64 = 1_800_000_000 / 900 * 900;
        let events = [
            event("a", t0, "1"),
            event("a", t0 + 3 * h, "2"),
            // 6 hours of silence for 'a' (but 'b' speaks in between).
            event("b", t0 + 5 * h, "3"),
            event("a", t0 + 9 * h + 60, "4"),
            event("a", t0 + 10 * h, "5"),
        ];
        super::super::usage::record(&mut conn, &events, &[], 0).unwrap();
        let a = Some(&["a".to_string()][..]);
        let end = t0 + 11 * h;
        assert_eq!(
            quiet_before(&conn, a, end, 5 * h, t0 - 24 * h).unwrap(),
            t0 + 9 * h
        );
        // Counting 'b', no silence is long enough: back to the first bucket.
        assert_eq!(
            quiet_before(&conn, None, end, 5 * h, t0 - 24 * h).unwrap(),
            t0 - 24 * h
        );
        let mut seen = Vec::new();
        fold(&conn, a, t0, end, |r| {
            seen.push((r.ts, r.count, r.source.to_string()))
        })
        .unwrap();
        assert_eq!(seen.len(), 4);
        assert!(seen.iter().all(|(_, n, s)| *n == 1 && s == "test"));
        // Raw events before t0 + 9h gone (as retention would leave it): the rollup
        // stands in for them, one entry per bucket.
        conn.execute(
            "DELETE FROM usage_raw WHERE key IN (SELECT id FROM usage_events WHERE ts < ?1)",
            params![t0 + 9 * h],
        )
        .unwrap();
        let mut seen = Vec::new();
        fold(&conn, a, t0, end, |r| {
            seen.push((r.ts, r.source.to_string()))
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                (t0, "rollup".into()),
                (t0 + 3 * h, "rollup".into()),
                (t0 + 9 * h + 60, "test".into()),
                (t0 + 10 * h, "test".into())
            ]
        );
        let s = sessions(&conn, None, 0, end).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].4, 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
