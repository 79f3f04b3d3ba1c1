use super::*;
use crate::records::{Links, Replay};

fn open(name: &str) -> (std::path::PathBuf, Connection) {
    let dir = std::env::temp_dir().join(format!("clown-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let conn = super::super::db::open(&dir.join("t.db")).unwrap();
    (dir, conn)
}

/// An event of `n` input tokens under dedupe key `key` (also used by the sync tests).
pub(crate) fn event(n: u64, key: &str) -> UsageEvent {
    UsageEvent {
        profile: "p".into(),
        model: "m".into(),
        ts: Some(1_800_000_000),
        tokens: Tokens {
            input_tokens: n,
            ..Default::default()
        },
        source: "test".into(),
        dedupe_key: Some(key.into()),
        ..Default::default()
    }
}

fn total_input(conn: &Connection) -> (i64, i64, i64) {
    let q = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    (
        q("SELECT IFNULL(SUM(input_tokens), 0) FROM usage_events"),
        q("SELECT IFNULL(SUM(input_tokens), 0) FROM usage_rollup"),
        q("SELECT IFNULL(SUM(input_tokens), 0) FROM usage_daily"),
    )
}

fn put(conn: &mut Connection, events: &[UsageEvent]) -> Vec<Stored> {
    with_events(conn, |tx, rollup| {
        events.iter().map(|e| put_event(tx, rollup, e, 0)).collect()
    })
    .unwrap()
}

#[test]
fn sums_saturate_instead_of_failing() {
    let (dir, mut conn) = open("sat");
    record(&mut conn, &[event(5, "a")], &[], 0).unwrap();
    // As if a great many events had come before.
    conn.execute(
        "UPDATE usage_buckets SET input_tokens = 9223372036854775000",
        [],
    )
    .unwrap();
    conn.execute(
        "UPDATE usage_daily SET input_tokens = 9223372036854775000",
        [],
    )
    .unwrap();
    record(&mut conn, &[event(1_000_000_000_000, "b")], &[], 0).unwrap();
    for table in ["usage_rollup", "usage_daily"] {
        let n: i64 = conn
            .query_row(&format!("SELECT input_tokens FROM {table}"), [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(n, i64::MAX, "{table}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn larger_copies_replace_and_legacy_keys_are_taken_over() {
    let (dir, mut conn) = open("keys");
    assert_eq!(
        put(&mut conn, &[event(10, "claude:m")]),
        vec![Stored::Added]
    );
    // The same response under its new key: it takes the old row over.
    let mut newer = event(12, "claude:m:r1");
    newer.links.supersedes = Some("claude:m".into());
    let mut other = event(7, "claude:m:r2");
    other.links.supersedes = Some("claude:m".into());
    let got = put(&mut conn, &[newer.clone(), other, newer]);
    assert_eq!(
        got[0],
        Stored::Replaced(Tokens {
            input_tokens: 2,
            ..Default::default()
        })
    );
    // Another request under the same message id is another response.
    assert_eq!(got[1], Stored::Added);
    assert_eq!(got[2], Stored::Duplicate);
    assert_eq!(total_input(&conn), (19, 19, 19));
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM usage_events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_copy_never_counts_beside_its_original_in_either_order() {
    let (dir, mut conn) = open("replay");
    let with = |n: u64, key: &str, copy: bool| UsageEvent {
        links: Links {
            supersedes: None,
            replay: Some(Replay {
                group: "g".into(),
                copy,
            }),
        },
        ..event(n, key)
    };
    // Copy first: stored, then replaced by its original.
    put(&mut conn, &[with(100, "k-copy", true)]);
    assert_eq!(total_input(&conn), (100, 100, 100));
    put(&mut conn, &[with(100, "k-orig", false)]);
    assert_eq!(total_input(&conn), (100, 100, 100));
    // A copy after its original is dropped.
    assert_eq!(
        put(&mut conn, &[with(100, "k-copy2", true)]),
        vec![Stored::Duplicate]
    );
    // Another original in the group (same id and time, another request) counts.
    put(&mut conn, &[with(5, "k-orig2", false)]);
    assert_eq!(total_input(&conn), (105, 105, 105));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn pruning_keeps_every_total() {
    let (dir, mut conn) = open("prune");
    let mut old = event(3, "old");
    old.ts = Some(1_700_000_000);
    record(&mut conn, &[old, event(4, "new")], &[], 0).unwrap();
    let pruned = super::super::retention::prune(&mut conn, 1_750_000_000).unwrap();
    assert_eq!(pruned.events, 1);
    assert_eq!(total_input(&conn), (4, 7, 7));
    assert_eq!(
        super::super::retention::pruned_before(&conn).unwrap(),
        1_750_000_000
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn change_numbers_never_go_back_below_what_was_pushed_or_removed() {
    use super::super::sync;
    let (dir, mut conn) = open("revs");
    // Numbered as while a push is configured.
    sync::track_changes(&conn, true).unwrap();
    let mut old = event(3, "old");
    old.ts = Some(1_700_000_000);
    record(&mut conn, &[event(1, "a"), old], &[], 0).unwrap();
    let pushed = sync::latest(&conn).unwrap().0;
    sync::set_events_cursor(&conn, pushed).unwrap();
    // The newest change is pruned away: the next one is still after the cursor.
    super::super::retention::prune(&mut conn, 1_750_000_000).unwrap();
    record(&mut conn, &[event(2, "b")], &[], 0).unwrap();
    let after = sync::event_changes_after(&conn, pushed, 10).unwrap();
    assert_eq!(after.events.len(), 1, "{after:?}");
    assert!(after.removed.is_empty());
    // A copy taken over by its original is listed as removed, numbered after it.
    let with = |key: &str, copy: bool| UsageEvent {
        links: Links {
            supersedes: None,
            replay: Some(Replay {
                group: "g".into(),
                copy,
            }),
        },
        ..event(7, key)
    };
    put(&mut conn, &[with("copy", true)]);
    put(&mut conn, &[with("orig", false)]);
    let after = sync::event_changes_after(&conn, pushed, 10).unwrap();
    assert_eq!(after.removed, vec![format!("h:{}", key_hash("copy"))]);
    assert_eq!(after.events.len(), 2);
    assert!(!after.more);
    // Cut at one change: the cursor stops at the first, the rest follows.
    let first = sync::event_changes_after(&conn, pushed, 1).unwrap();
    assert!(first.more);
    assert_eq!(first.events.len() + first.removed.len(), 1);
    sync::forget_removed(&conn, after.upto).unwrap();
    assert!(
        sync::event_changes_after(&conn, pushed, 10)
            .unwrap()
            .removed
            .is_empty()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn keys_are_stable() {
    // Stored in every database: this value must never change.
    assert_eq!(key_hash("claude:msg_1"), key_hash("claude:msg_1"));
    assert_ne!(key_hash("claude:msg_1"), key_hash("claude:msg_2"));
    assert_eq!(key_hash("claude:msg_1"), -3769477115699078248);
}

#[test]
fn every_session_written_gets_a_higher_change_number() {
    use crate::records::UsageSession;
    use crate::store::imports::{ImportedFile, commit_stream};
    let (dir, mut conn) = open("session-revs");
    let session = |id: Option<&str>, ended: i64| UsageSession {
        profile: "p".into(),
        started_at: 100,
        ended_at: Some(ended),
        exit_code: None,
        source: "test".into(),
        session_id: id.map(Into::into),
    };
    let revs = |conn: &Connection| -> Vec<(String, i64)> {
        crate::store::sync::sessions_after(conn, 0, 100)
            .unwrap()
            .into_iter()
            .map(|s| (s.key, s.rev))
            .collect()
    };
    record(
        &mut conn,
        &[],
        &[session(Some("a"), 200), session(Some("b"), 200)],
        0,
    )
    .unwrap();
    assert_eq!(revs(&conn), vec![("s:a".into(), 1), ("s:b".into(), 2)]);
    // Updated: after everything before it.
    record(&mut conn, &[], &[session(Some("a"), 300)], 0).unwrap();
    record(&mut conn, &[], &[session(None, 300)], 0).unwrap();
    let got = revs(&conn);
    assert_eq!(got[..2], [("s:b".into(), 2), ("s:a".into(), 3)]);
    assert_eq!(got[2].1, 4);
    // An import's sessions, new and seen before, the same way.
    let file = |sid: &str| ImportedFile {
        key: format!("/f/{sid}"),
        agent: "droid".into(),
        profile: "p".into(),
        sessions: [(sid.to_string(), (100, 400))].into(),
        ..Default::default()
    };
    let commit = |conn: &mut rusqlite::Connection, files: Vec<ImportedFile>| {
        let mut once = Some(files);
        commit_stream(conn, "droid-log", "droid", 0, || once.take()).unwrap();
    };
    commit(&mut conn, vec![file("c")]);
    commit(&mut conn, vec![file("c")]);
    let got = revs(&conn);
    assert_eq!(got.last(), Some(&("s:droid:p:c".into(), 6)));
    assert_eq!(got.len(), 4);
    // Several in one commit: one number each, in turn.
    commit(&mut conn, vec![file("d"), file("e")]);
    let got = revs(&conn);
    assert_eq!(
        got[4..],
        [("s:droid:p:d".into(), 7), ("s:droid:p:e".into(), 8)]
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_conversation_keeps_its_tokens_after_the_retention() {
    let (dir, mut conn) = open("conversation");
    let in_session = |n: u64, key: &str, ts: i64, model: &str| UsageEvent {
        ts: Some(ts),
        session_id: Some("conv-1".into()),
        model: model.into(),
        ..event(n, key)
    };
    record(
        &mut conn,
        &[
            in_session(3, "a", 1_700_000_000, "m"),
            in_session(4, "b", 1_700_000_100, "m"),
            in_session(5, "c", 1_800_000_000, "m"),
            in_session(7, "d", 1_700_000_000, "other"),
        ],
        &[],
        0,
    )
    .unwrap();
    let tokens = |conn: &Connection| {
        let mut by_model: Vec<(String, u64)> =
            crate::store::conversations::tokens_by_session(conn, &["conv-1".to_string()])
                .unwrap()
                .remove("conv-1")
                .unwrap_or_default()
                .into_iter()
                .map(|(m, t)| (m, t.input_tokens))
                .collect();
        by_model.sort();
        by_model
    };
    let all = vec![("m".to_string(), 12), ("other".to_string(), 7)];
    assert_eq!(tokens(&conn), all);
    // The first two events and all of 'other' are dropped; the sums stay, also after a
    // new event under a label the retention removed.
    let pruned = super::super::retention::prune(&mut conn, 1_750_000_000).unwrap();
    assert_eq!(pruned.events, 3);
    assert_eq!(tokens(&conn), all);
    record(
        &mut conn,
        &[in_session(1, "e", 1_800_000_100, "other")],
        &[],
        0,
    )
    .unwrap();
    assert_eq!(
        tokens(&conn),
        vec![("m".to_string(), 12), ("other".to_string(), 8)]
    );
    // A replaced event counts once, with its larger copy.
    put(&mut conn, &[in_session(9, "c", 1_800_000_000, "m")]);
    assert_eq!(
        tokens(&conn),
        vec![("m".to_string(), 16), ("other".to_string(), 8)]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_proxys_events_are_keyed_in_time_order_and_a_resent_batch_counts_once() {
    let (dir, mut conn) = open("proxykeys");
    let proxy = |prefix: &str, n: u64, ts: i64| UsageEvent {
        source: "proxy".into(),
        ts: Some(ts),
        ..event(10, &format!("proxy:{prefix}:{n}"))
    };
    // Two proxy processes, counting from 0 at the same moments, over three seconds.
    let batch: Vec<UsageEvent> = (0..3)
        .flat_map(|s| (0..4).flat_map(move |n| [("aa", n, s), ("bb", n, s)]))
        .map(|(p, n, s)| proxy(p, s as u64 * 4 + n, 1_800_000_000 + s))
        .collect();
    assert!(put(&mut conn, &batch).iter().all(|s| *s == Stored::Added));
    // The same batch again (an answer lost on the way back): nothing more.
    assert!(
        put(&mut conn, &batch)
            .iter()
            .all(|s| *s == Stored::Duplicate)
    );
    assert_eq!(total_input(&conn), (240, 240, 240));
    // Keys follow the time, and a later second sorts after every key of an earlier one.
    let rows: Vec<(i64, i64)> = conn
        .prepare("SELECT id, ts FROM usage_events ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 24);
    assert!(rows.windows(2).all(|w| w[0].1 <= w[1].1), "{rows:?}");
    // Any other source, or a key of another shape, keeps the hash of its dedupe key.
    put(
        &mut conn,
        &[event(1, "proxy:aa:99"), proxy("aa", 0, 1_800_000_000)],
    );
    let hashed: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM usage_raw WHERE key = ?1",
            [key_hash("proxy:aa:99")],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(hashed, 1);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_new_label_holds_only_what_was_stored_under_it() {
    let (dir, mut conn) = open("label-sums");
    let under = |n: u64, key: &str, session: &str| UsageEvent {
        session_id: Some(session.into()),
        ..event(n, key)
    };
    // Each label's sums, and what its events add up to.
    let sums = |conn: &Connection| -> Vec<(String, i64, i64, i64)> {
        conn.prepare(
            "SELECT l.session_id, l.input_tokens, l.events,
                    (SELECT IFNULL(SUM(r.input_tokens), 0) FROM usage_raw r WHERE r.label = l.id)
             FROM usage_labels l ORDER BY l.session_id",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    };
    assert_eq!(put(&mut conn, &[under(50, "k", "a")]), [Stored::Added]);
    // A smaller copy under a label new in its transaction: not stored, the label stays
    // empty; a larger one under another new label takes the event over.
    let got = put(
        &mut conn,
        &[under(10, "k", "b"), under(80, "k", "c"), under(7, "j", "c")],
    );
    assert_eq!(got[0], Stored::Duplicate);
    assert_eq!(got[2], Stored::Added);
    assert_eq!(
        sums(&conn),
        [
            ("a".into(), 0, 0, 0),
            ("b".into(), 0, 0, 0),
            ("c".into(), 87, 2, 87)
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_import_fed_in_groups_stores_every_copy_after_every_original() {
    use crate::store::imports::{ImportedFile, commit_stream};
    let (dir, mut conn) = open("stream");
    let with = |key: &str, copy: bool, ts: i64| UsageEvent {
        links: Links {
            supersedes: None,
            replay: Some(Replay {
                group: "g".into(),
                copy,
            }),
        },
        ts: Some(ts),
        ..event(100, key)
    };
    let file = |name: &str, events: Vec<UsageEvent>| ImportedFile {
        key: format!("/f/{name}"),
        agent: "claude".into(),
        profile: "p".into(),
        events,
        ..Default::default()
    };
    // The copy's file comes in the first group, its original's in the second; a third
    // file two days later (another bucket and day).
    let day = 86_400;
    let mut groups = vec![
        vec![file("a", vec![with("k-copy", true, 1_800_000_000)])],
        vec![file("b", vec![with("k-orig", false, 1_800_000_000)])],
    ];
    groups.push(vec![file("c", vec![event(7, "later")])]);
    groups[2][0].events[0].ts = Some(1_800_000_000 + 2 * day);
    groups.reverse(); // taken from the end
    let (counted, back) =
        commit_stream(&mut conn, "claude-log", "claude", 0, || groups.pop()).unwrap();
    assert_eq!(
        (counted.added, counted.replaced, counted.duplicates),
        (2, 0, 1)
    );
    assert_eq!(back.len(), 3);
    assert_eq!(total_input(&conn), (107, 107, 107));
    let days: i64 = conn
        .query_row("SELECT COUNT(*) FROM usage_daily", [], |r| r.get(0))
        .unwrap();
    assert_eq!(days, 2);
    let marks: i64 = conn
        .query_row("SELECT COUNT(*) FROM import_files", [], |r| r.get(0))
        .unwrap();
    assert_eq!(marks, 3);
    std::fs::remove_dir_all(dir).unwrap();
}
