use super::*;

#[test]
fn migrates_once_and_reopens() {
    let dir = std::env::temp_dir().join(format!("clown-db-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.db");
    drop(open(&path).unwrap());
    let conn = open(&path).unwrap();
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v as usize, SCHEMA_VERSION);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn migration_19_keeps_each_labels_sums_and_the_last_change_number() {
    let dir = std::env::temp_dir().join(format!("clown-db-m19-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.db");
    {
        // A store as version 16 left it, with events of two conversations.
        let conn = Connection::open(&path).unwrap();
        conn.create_scalar_function(
            "usage_key",
            1,
            rusqlite::functions::FunctionFlags::SQLITE_UTF8,
            |ctx| Ok(crate::store::usage::key_hash(&ctx.get::<String>(0)?)),
        )
        .unwrap();
        for sql in &MIGRATIONS[..16] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 16).unwrap();
        conn.execute_batch(
            "INSERT INTO usage_labels (id, profile, agent, provider, model, source, session_id)
                VALUES (1, 'p', 'claude', 'anthropic', 'm1', 'claude', 's1'),
                       (2, 'p', 'claude', 'anthropic', 'm2', 'claude', 's1'),
                       (3, 'p', 'codex', 'openai', 'm3', 'codex', 's2');
             INSERT INTO usage_raw VALUES (11, 100, 1, 1, 2, 3, 4, 1, 0, 7),
                                          (-12, 200, 1, 10, 20, 30, 40, 0, 0, 9),
                                          (13, 300, 2, 5, 0, 0, 0, 0, 0, 8),
                                          (14, 400, 3, 6, 7, 0, 0, 0, 3, 5);
             INSERT INTO usage_totals VALUES ('p', 'claude', 'anthropic', 'm1', 0, 0, 0, 0, 0, 0, 0, 4);",
        )
        .unwrap();
    }
    let conn = open(&path).unwrap();
    let sums: Vec<(i64, [i64; 7])> = conn
        .prepare(
            "SELECT id, input_tokens, output_tokens, cache_creation_input_tokens,
                    cache_read_input_tokens, cache_creation_1h_tokens, reasoning_output_tokens, events
             FROM usage_labels ORDER BY id",
        )
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?],
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        sums,
        [
            (1, [11, 22, 33, 44, 1, 0, 2]),
            (2, [5, 0, 0, 0, 0, 0, 1]),
            (3, [6, 7, 0, 0, 0, 3, 1])
        ]
    );
    let last: i64 = conn
        .query_row("SELECT last_rev FROM usage_change", [], |r| r.get(0))
        .unwrap();
    assert_eq!(last, 9);
    let indexes: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_schema WHERE name IN ('usage_raw_rev', 'usage_raw_label')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexes, 0);
    // Every event still there; no push configured, so (migration 23) with change number
    // 0 until one is.
    let (n, revs): (i64, i64) = conn
        .query_row("SELECT COUNT(*), SUM(rev) FROM usage_events", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((n, revs), (4, 0));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A store as version 20 left it: the rollup of two profiles and three models over three
/// buckets, and three events numbered 5, 6, 7 (the last change number given: 9); with
/// the index of events by change number when `synced`.
fn store_at_20(path: &std::path::Path, synced: bool) {
    let conn = Connection::open(path).unwrap();
    conn.create_scalar_function(
        "usage_key",
        1,
        rusqlite::functions::FunctionFlags::SQLITE_UTF8,
        |ctx| Ok(crate::store::usage::key_hash(&ctx.get::<String>(0)?)),
    )
    .unwrap();
    for sql in &MIGRATIONS[..20] {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", 20).unwrap();
    conn.execute_batch(
        "INSERT INTO usage_rollup (bucket, profile, model, input_tokens, output_tokens,
                cache_creation_input_tokens, cache_read_input_tokens, events, last_ts,
                cache_creation_1h_tokens, reasoning_output_tokens, lc_input_tokens,
                lc_output_tokens, lc_cache_creation_tokens, lc_cache_read_tokens)
            VALUES (10, 'work', 'opus', 1, 2, 3, 4, 2, 9001, 1, 0, 1, 0, 0, 0),
                   (10, 'side', 'gpt', 5, 6, 7, 8, 1, 9002, 0, 3, 0, 0, 0, 0),
                   (11, 'work', 'opus', 9, 10, 11, 12, 4, 9903, 0, 0, 0, 0, 0, 0),
                   (12, 'work', 'haiku', 13, 14, 15, 16, 1, 10801, 0, 0, 0, 0, 0, 0);
         INSERT INTO usage_labels (id, profile, agent, provider, model, source, session_id)
            VALUES (1, 'work', 'claude', 'anthropic', 'opus', 'proxy', 's1');
         INSERT INTO usage_raw VALUES (11, 9001, 1, 1, 2, 3, 4, 1, 0, 5),
                                      (-12, 9002, 1, 10, 20, 30, 40, 0, 0, 6),
                                      (13, 9003, 1, 5, 0, 0, 0, 0, 0, 7);
         UPDATE usage_change SET last_rev = 9;
         INSERT INTO usage_conversations VALUES ('s0', 'opus', 1, 2, 3, 4, 5, 6, 7),
                                                ('s0', 'haiku', 8, 9, 10, 11, 12, 13, 14);",
    )
    .unwrap();
    if synced {
        conn.execute_batch("CREATE INDEX usage_raw_rev ON usage_raw(rev)")
            .unwrap();
    }
}

fn rollup_rows(conn: &Connection) -> Vec<(i64, String, String, [i64; 12])> {
    conn.prepare(
        "SELECT bucket, profile, model, input_tokens, output_tokens, cache_creation_input_tokens,
                cache_read_input_tokens, events, last_ts, cache_creation_1h_tokens,
                reasoning_output_tokens, lc_input_tokens, lc_output_tokens,
                lc_cache_creation_tokens, lc_cache_read_tokens
         FROM usage_rollup ORDER BY bucket, profile, model",
    )
    .unwrap()
    .query_map([], |r| {
        let mut n = [0i64; 12];
        for (i, v) in n.iter_mut().enumerate() {
            *v = r.get(3 + i)?;
        }
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, n))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn event_revs(conn: &Connection) -> Vec<(i64, i64)> {
    conn.prepare("SELECT id, rev FROM usage_events ORDER BY ts")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn migration_23_names_the_rollup_by_id_and_unnumbers_events_while_nothing_pushes() {
    let dir = std::env::temp_dir().join(format!("clown-db-m21-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.db");
    store_at_20(&path, false);
    let before = rollup_rows(&Connection::open(&path).unwrap());
    assert_eq!(before.len(), 4);
    let conn = open(&path).unwrap();
    // The same rows, through the view, from three names and four 15-minute rows.
    assert_eq!(rollup_rows(&conn), before);
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT COUNT(*) FROM usage_names"), 3);
    assert_eq!(count("SELECT COUNT(*) FROM usage_buckets"), 4);
    // Each event's time, stored as the seconds after its label's first time.
    let times: Vec<(i64, i64, i64)> = conn
        .prepare("SELECT r.key, r.dt, e.ts FROM usage_raw r JOIN usage_events e ON e.id = r.key ORDER BY e.ts")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(times, vec![(11, 0, 9001), (-12, 1, 9002), (13, 2, 9003)]);
    // No push configured: the events lose their numbers, the last one given stays.
    assert_eq!(event_revs(&conn), vec![(11, 0), (-12, 0), (13, 0)]);
    assert_eq!(count("SELECT last_rev FROM usage_change"), 9);
    // The label keeps its id, names and sums without the unique index over its names;
    // an event under the same names finds it.
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM sqlite_schema WHERE name LIKE 'sqlite_autoindex_usage_labels%'"
        ),
        0
    );
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM usage_events WHERE profile = 'work' AND session_id = 's1' AND model = 'opus'"
        ),
        3
    );
    // A dropped conversation's sums, per model, read as before.
    let kept = crate::store::conversations::tokens_by_session(&conn, &["s0".into()]).unwrap();
    let mut kept: Vec<(String, u64, u64)> = kept["s0"]
        .iter()
        .map(|(m, t)| (m.clone(), t.input_tokens, t.cache_creation_1h_input_tokens))
        .collect();
    kept.sort();
    assert_eq!(kept, vec![("haiku".into(), 8, 12), ("opus".into(), 1, 5)]);
    assert_eq!(count("SELECT COUNT(*) FROM usage_models"), 2);
    // A push configured numbers them after it, in time order.
    crate::store::sync::track_changes(&conn, true).unwrap();
    assert_eq!(event_revs(&conn), vec![(11, 10), (-12, 11), (13, 12)]);
    assert_eq!(count("SELECT last_rev FROM usage_change"), 12);
    drop(conn);
    let mut conn = open(&path).unwrap();
    let mut again = crate::store::usage::tests::event(1, "again");
    again.profile = "work".into();
    again.agent = Some("claude".into());
    again.provider = Some("anthropic".into());
    again.model = "opus".into();
    again.source = "proxy".into();
    again.session_id = Some("s1".into());
    crate::store::usage::record(&mut conn, &[again], &[], 0).unwrap();
    let labels: Vec<i64> = conn
        .prepare("SELECT DISTINCT label FROM usage_raw")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(labels, vec![1]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn migration_23_keeps_the_numbers_while_a_push_is_configured() {
    let dir = std::env::temp_dir().join(format!("clown-db-m21s-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.db");
    store_at_20(&path, true);
    let conn = open(&path).unwrap();
    assert_eq!(event_revs(&conn), vec![(11, 5), (-12, 6), (13, 7)]);
    // The index goes with the old table; made again when the push starts, nothing
    // renumbered.
    crate::store::sync::track_changes(&conn, true).unwrap();
    assert!(crate::store::sync::numbering(&conn).unwrap());
    assert_eq!(event_revs(&conn), vec![(11, 5), (-12, 6), (13, 7)]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn migration_22_keeps_every_import_mark_keyed_on_its_path_alone() {
    let dir = std::env::temp_dir().join(format!("clown-db-m22-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.db");
    {
        // A store as version 21 left it, with two files' marks.
        let conn = Connection::open(&path).unwrap();
        conn.create_scalar_function(
            "usage_key",
            1,
            rusqlite::functions::FunctionFlags::SQLITE_UTF8,
            |ctx| Ok(crate::store::usage::key_hash(&ctx.get::<String>(0)?)),
        )
        .unwrap();
        for sql in &MIGRATIONS[..21] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 21).unwrap();
        conn.execute_batch(
            "INSERT INTO import_files (path, size, mtime_ns, offset, profile, agent, state, inode, tail)
                VALUES ('/h/a.jsonl', 10, 20, 8, 'p', 'codex', '{\"m\":1}', 30, -4),
                       ('/h/b.settings.json', 11, 21, 11, '@droid', 'droid', NULL, 31, 0);",
        )
        .unwrap();
    }
    let conn = open(&path).unwrap();
    let marks: Vec<String> = conn
        .prepare(
            "SELECT printf('%s %d %d %d %s %s %s %d %d', path, size, mtime_ns, offset, profile,
                           agent, IFNULL(state, '-'), inode, tail)
             FROM import_files ORDER BY path",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        marks,
        [
            "/h/a.jsonl 10 20 8 p codex {\"m\":1} 30 -4",
            "/h/b.settings.json 11 21 11 @droid droid - 31 0"
        ]
    );
    // One b-tree: no row id, no separate index of the paths.
    assert!(conn.prepare("SELECT rowid FROM import_files").is_err());
    let indexes: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'import_files'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexes, 0);
    std::fs::remove_dir_all(&dir).unwrap();
}
