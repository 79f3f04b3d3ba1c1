//! Usage from many machines in a real PostgreSQL: two daemons (two machine ids) push the
//! same and different events, one over TLS; one is killed mid-push and restarted; the
//! database goes away and comes back; the all-machines report equals the sum of the local
//! reports exactly, each event is in the database once, and no secret ever got there.

use serde_json::{Value, json};

use crate::helpers::*;
use crate::pg::Postgres;
use crate::proxy::usage_events;

fn sync_config(url: &str, name: &str, ca: Option<&std::path::Path>) -> String {
    let ca = ca
        .map(|p| format!("ca_file = \"{}\"\n", p.display()))
        .unwrap_or_default();
    format!(
        "[sync]\nurl = \"{url}\"\nmachine_name = \"{name}\"\nbatch = 200\ninterval_ms = 200\nretry_max_ms = 300\n{ca}"
    )
}

fn events(prefix: &str, profile: &str, n: usize, now: i64) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let model = if i % 3 == 0 {
                "claude-opus-4"
            } else {
                "claude-sonnet-4"
            };
            json!({"profile": profile, "model": model, "source": "test",
                   "dedupe_key": format!("{prefix}{i}"),
                   // Spread over today and the two days before.
                   "ts": now - (i as i64 % 3) * 86_400 - (i as i64 % 500),
                   "input_tokens": 100 + i as u64, "output_tokens": 10 + (i as u64 % 7),
                   "cache_creation_input_tokens": i as u64 % 5, "cache_read_input_tokens": 1000})
        })
        .collect()
}

fn record(d: &Daemon, events: &[Value], sessions: Value) {
    for chunk in events.chunks(3000) {
        d.api(
            "POST",
            "/api/usage/record",
            Some(&json!({"events": chunk, "sessions": sessions})),
        )
        .expect_ok();
    }
}

fn status(d: &Daemon) -> Value {
    d.get("/api/sync/status").expect_ok()
}

fn wait_synced(d: &Daemon) {
    wait_until(WAIT * 3, "everything pushed", || {
        let s = status(d);
        (s["connected"] == true && s["backlog"] == 0 && s["last_push"].is_string()).then_some(())
    });
}

fn pg_events(pg: &Postgres, machine: &str) -> u64 {
    pg.psql(&format!(
        "SELECT COUNT(*) FROM clown_usage_events WHERE machine_id = '{machine}'"
    ))
    .parse()
    .unwrap()
}

const KINDS: [&str; 4] = [
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
];

fn tokens_sum(a: &Value, b: &Value) -> Value {
    let mut out = json!({});
    for k in KINDS {
        out[k] = json!(a[k].as_u64().unwrap() + b[k].as_u64().unwrap());
    }
    out
}

fn same_tokens(got: &Value, want: &Value, what: &str) {
    for k in KINDS {
        assert_eq!(got[k], want[k], "{what}: {k}: {got} vs {want}");
    }
}

#[test]
fn two_machines_push_exactly_through_a_kill_and_an_outage() {
    let mut pg = Postgres::start(true);
    let env_a = TestEnv::new("sync-a");
    let env_b = TestEnv::new("sync-b");
    // A over TLS (verified against the test CA), B in plain text.
    env_a.write_config(&sync_config(
        &pg.url("require"),
        "alpha",
        Some(&pg.ca_file()),
    ));
    env_b.write_config(&sync_config(&pg.url("disable"), "beta", None));
    // Both in a zone whose days do not start at a UTC hour, so every day's bucket
    // grouping is checked.
    let zone = |c: &mut std::process::Command| {
        c.env("TZ", "Asia/Kolkata");
    };
    let mut a = Daemon::start_with(&env_a, zone);
    let b = Daemon::start_with(&env_b, zone);
    let secret = "sk-ant-api03-SYNCSECRET-never-in-the-shared-database";
    create_profile(
        &a,
        json!({"alias": "work", "agent_id": "claude", "provider_id": "anthropic", "api_key": secret}),
    );
    let now = jiff::Timestamp::now().as_second();
    let session = |id: &str| {
        json!([{"profile": "work", "started_at": now - 600, "ended_at": now - 60,
                                     "exit_code": 0, "source": "test", "session_id": id}])
    };
    // The same 300 events on both machines, and each machine's own.
    let shared = events("same-", "work", 300, now);
    record(&b, &shared, session("b-1"));
    record(&b, &events("b-", "other", 1000, now), json!([]));
    record(&a, &shared, session("a-1"));
    let own = events("a-", "work", 20_000, now);
    let (first, rest) = own.split_at(10_000);
    record(&a, first, session("a-2"));
    let machine_a = status(&a)["machine_id"].as_str().unwrap().to_string();
    let machine_b = status(&b)["machine_id"].as_str().unwrap().to_string();
    assert_ne!(machine_a, machine_b);
    assert_eq!(machine_a.len(), 32, "a random id");
    wait_synced(&a);
    let pushed = pg_events(&pg, &machine_a);
    assert_eq!(pushed, 10_300);

    // Killed in the middle of a push, restarted on the same data. A batch writes its
    // events, then moves the rollup; a transaction here holds the rollup, so A's next
    // batch stays open in the database with its events written, and the kill lands then.
    wait_synced(&b);
    let held = pg.open_transaction("LOCK TABLE clown_usage_rollup IN SHARE MODE");
    record(&a, rest, session("a-2"));
    wait_until(WAIT, "A's next batch waiting in the database", || {
        let waiting: u64 = pg
            .psql("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            .parse()
            .ok()?;
        (waiting > 0).then_some(())
    });
    a.signal(SIGKILL);
    a.wait_exit(WAIT);
    drop(held);
    let total_a = 20_300;
    assert_eq!(
        pg_events(&pg, &machine_a),
        pushed,
        "nothing of the batch under way was committed"
    );
    let a = Daemon::start_with(&env_a, zone);
    assert_eq!(
        status(&a)["machine_id"],
        machine_a.as_str(),
        "the id is kept"
    );
    wait_synced(&a);
    wait_synced(&b);
    assert_eq!(pg_events(&pg, &machine_a), total_a);

    // The database goes away: both keep recording, the local report answers, the
    // all-machines one says why it cannot.
    pg.stop();
    let later = events("late-", "work", 150, now);
    record(&a, &later, session("a-3"));
    record(&b, &later, json!([]));
    // A replaced event (same key, larger counts) while it is down.
    let mut grown = events("a-", "work", 1, now);
    grown[0]["output_tokens"] = json!(5000);
    record(&a, &grown, json!([]));
    a.get("/api/usage?period=all").expect_ok();
    let msg = a
        .get("/api/usage?period=all&scope=all-machines")
        .expect_error(502);
    assert!(msg.contains("shared database"), "{msg}");
    // It notices, and counts what waits to be pushed.
    wait_until(WAIT, "A noticing the outage", || {
        let s = status(&a);
        (s["connected"] == false && s["backlog"].as_u64()? > 0).then_some(())
    });
    pg.run();
    wait_synced(&a);
    wait_synced(&b);

    // Every event once; the all-machines report is the sum of the local ones.
    assert_eq!(
        pg_events(&pg, &machine_a),
        usage_events(&env_a).len() as u64
    );
    assert_eq!(
        pg_events(&pg, &machine_b),
        usage_events(&env_b).len() as u64
    );
    for period in ["all", "today", "7d", "yesterday"] {
        let la = a.get(&format!("/api/usage?period={period}")).expect_ok();
        let lb = b.get(&format!("/api/usage?period={period}")).expect_ok();
        for d in [&a, &b] {
            let all = d
                .get(&format!("/api/usage?period={period}&scope=all-machines"))
                .expect_ok();
            let what = format!("{period} total");
            same_tokens(
                &all["total_tokens"],
                &tokens_sum(&la["total_tokens"], &lb["total_tokens"]),
                &what,
            );
            assert_eq!(
                all["total_sessions"].as_u64().unwrap(),
                la["total_sessions"].as_u64().unwrap() + lb["total_sessions"].as_u64().unwrap()
            );
            assert_eq!(
                all["total_runtime_secs"].as_u64().unwrap(),
                la["total_runtime_secs"].as_u64().unwrap()
                    + lb["total_runtime_secs"].as_u64().unwrap()
            );
            let cost = all["total_cost"]["total_cost"].as_f64().unwrap();
            let want = la["total_cost"]["total_cost"].as_f64().unwrap()
                + lb["total_cost"]["total_cost"].as_f64().unwrap();
            assert!((cost - want).abs() < 1e-9, "{period}: {cost} vs {want}");
            // Per machine: each machine's own report.
            let machines = &all["aggregates"]["by_machine"];
            assert_eq!(machines.as_object().unwrap().len(), 2, "{machines}");
            for (id, name, local) in [(&machine_a, "alpha", &la), (&machine_b, "beta", &lb)] {
                let m = &machines[id.as_str()];
                assert_eq!(m["name"], name);
                same_tokens(
                    &m["tokens"],
                    &local["total_tokens"],
                    &format!("{period} {name}"),
                );
                assert_eq!(m["sessions"], local["total_sessions"]);
            }
            // Per day and per profile too.
            let days = |r: &Value| -> Vec<Value> {
                r["aggregates"]["by_day"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| json!([d["date"], d["tokens"]]))
                    .collect()
            };
            if period != "all" {
                let (da, db, dall) = (days(&la), days(&lb), days(&all));
                assert_eq!(dall.len(), da.len());
                for ((x, y), z) in da.iter().zip(&db).zip(&dall) {
                    assert_eq!(x[0], z[0]);
                    same_tokens(
                        &z[1],
                        &tokens_sum(&x[1], &y[1]),
                        &format!("{period} {}", z[0]),
                    );
                }
            }
            let work = &all["aggregates"]["by_profile"]["work"]["tokens"];
            let zero = json!({"input_tokens": 0, "output_tokens": 0,
                              "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0});
            let local_b = lb["aggregates"]["by_profile"]
                .get("work")
                .map(|p| p["tokens"].clone())
                .unwrap_or(zero);
            same_tokens(
                work,
                &tokens_sum(&la["aggregates"]["by_profile"]["work"]["tokens"], &local_b),
                &format!("{period} work"),
            );
        }
    }

    // Only usage left the machines: no key, no token, no path.
    let dump = pg.dump();
    assert!(dump.contains("alpha") && dump.contains("claude-sonnet-4"));
    for s in [secret, a.token.as_str(), b.token.as_str()] {
        assert!(!dump.contains(s), "a secret in the shared database");
    }
    assert!(!dump.contains(&env_a.home.display().to_string()));
}

/// A replayed copy pushed before its original arrives is removed from the shared
/// database when the original takes its place here, so the all-machines report keeps
/// equalling the local one.
#[test]
fn a_copy_pushed_before_its_original_leaves_the_shared_database() {
    use crate::usage::{assistant, import, write_lines};
    let pg = Postgres::start(false);
    let env = TestEnv::new("sync-replay");
    env.write_config(&sync_config(&pg.url("disable"), "solo", None));
    let d = Daemon::start(&env);
    let machine = status(&d)["machine_id"].as_str().unwrap().to_string();
    let dir = env.root.join("claude-data");
    let ts = jiff::Timestamp::now().to_string();
    let counts = [100, 50, 10, 1000];
    // First only a sub-agent's replay of the response (a new requestId), and another one.
    write_lines(
        &dir.join("projects/-w/agent-x.jsonl"),
        &[assistant(
            "msg_A",
            Some("req_A_replayed"),
            &ts,
            true,
            counts,
        )],
        false,
    );
    write_lines(
        &dir.join("projects/-w/sess-1.jsonl"),
        &[assistant("msg_B", Some("req_B"), &ts, false, [5, 5, 0, 0])],
        false,
    );
    import(&d, &dir);
    wait_synced(&d);
    assert_eq!(pg_events(&pg, &machine), 2);
    // Then the original: it replaces the copy here, and there.
    write_lines(
        &dir.join("projects/-w/sess-1.jsonl"),
        &[assistant("msg_A", Some("req_A"), &ts, false, counts)],
        true,
    );
    import(&d, &dir);
    wait_synced(&d);
    assert_eq!(usage_events(&env).len(), 2);
    assert_eq!(
        pg_events(&pg, &machine),
        2,
        "the copy left the shared database"
    );
    for period in ["all", "today"] {
        let local = d.get(&format!("/api/usage?period={period}")).expect_ok();
        let all = d
            .get(&format!("/api/usage?period={period}&scope=all-machines"))
            .expect_ok();
        same_tokens(&all["total_tokens"], &local["total_tokens"], period);
        assert_eq!(local["total_tokens"]["input_tokens"], 105);
    }
}

#[test]
fn without_a_shared_database_the_daemon_runs_and_says_so() {
    let env = TestEnv::new("sync-off");
    let d = Daemon::start(&env);
    let s = status(&d);
    assert_eq!(s["enabled"], false);
    assert_eq!(s["machine_id"].as_str().map(str::len), Some(32));
    let msg = d
        .get("/api/usage?period=all&scope=all-machines")
        .expect_error(409);
    assert!(msg.contains("[sync]"), "{msg}");
    d.get("/api/usage?period=all&scope=everywhere")
        .expect_error(400);
    // The CLI says the same.
    let out = env.cli(&d).args(["usage", "sync"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("sync        off"),
        "{text}"
    );
    let out = env
        .cli(&d)
        .args(["usage", "--all-machines"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("[sync]"));

    // A database that is not there: the daemon runs, records, and keeps trying.
    let env = TestEnv::new("sync-away");
    let url = format!("postgres://clown@127.0.0.1:{}/x", free_port());
    env.write_config(&sync_config(&url, "gamma", None));
    let d = Daemon::start(&env);
    record(
        &d,
        &events("x-", "p", 10, jiff::Timestamp::now().as_second()),
        json!([]),
    );
    let s = wait_until(WAIT, "a failed connection", || {
        let s = status(&d);
        (s["errors"].as_u64()? >= 2).then_some(s)
    });
    assert_eq!(s["connected"], false);
    assert_eq!(s["machine_name"], "gamma");
    assert!(s["backlog"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(
        d.get("/api/usage?period=all").expect_ok()["total_tokens"]["cache_read_input_tokens"],
        10_000
    );
    d.get("/api/usage?period=all&scope=all-machines")
        .expect_error(502);
}
