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
    // Every event still there, with its change number.
    let revs: i64 = conn
        .query_row("SELECT SUM(rev) FROM usage_events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(revs, 29);
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
