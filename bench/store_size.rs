//! The store's size after a year of heavy use (issue 17, "the store stays small"): a
//! year of proxy-recorded requests inserted through the same code the daemon runs
//! (`store::usage::record`, batches of 1,000 as the proxy's reporter sends them), the
//! retention pruning once a simulated day, then the file's size and the rollups' totals
//! against the sum of everything inserted (and the sums the labels keep, which a
//! conversation's tokens are read from), with the bytes of each table and index.
//!
//!     cargo bench --bench store_size            # 365 days × 20,000 requests, 90-day retention
//!     DAYS=365 PER_DAY=30000 RETENTION=90 SESSIONS=100 cargo bench --bench store_size
//!
//! Each simulated day has SESSIONS conversations (default 100; their requests in a row,
//! one profile each, any of its three models), as Claude Code's requests name theirs.
//!
//! Prints one JSON object.

use std::time::Instant;

use clown::records::UsageEvent;
use clown::store::{Store, retention, usage};
use clown::tokens::Tokens;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The process's CPU time so far (user + system, seconds) from `/proc/self/stat`, which
/// unlike the wall time does not grow with the machine's other load; `None` elsewhere.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (in parentheses, which may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

/// Rows (raw, rollup, daily, labels), free pages and page size, the rollups' and the
/// labels' totals, the bytes of each table and index.
type Found = (
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    [i64; 4],
    [i64; 4],
    Vec<(String, i64)>,
);

fn main() -> anyhow::Result<()> {
    let (days, per_day, keep, sessions) = (
        env("DAYS", 365),
        env("PER_DAY", 20_000),
        env("RETENTION", 90),
        env("SESSIONS", 100).max(1),
    );
    let dir = std::env::temp_dir().join(format!("clown-store-size-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("clown.db");
    let store = Store::open(&path)?;
    let profiles = [
        ("work", "claude", "anthropic"),
        ("side", "codex", "openai"),
        ("cheap", "claude", "minimax"),
    ];
    let models = [
        [
            "claude-sonnet-4-5-20250929",
            "claude-haiku-4-5-20251001",
            "claude-opus-4-5-20251101",
        ],
        ["gpt-5-codex", "gpt-5.1-codex-mini", "gpt-5.2"],
        ["MiniMax-M2.1", "MiniMax-M2", "MiniMax-M2.5"],
    ];
    let start = jiff::Timestamp::now().as_second() - days as i64 * 86_400;
    let prefix = "0f9e8d7c6b5a49382716051f2e3d4c5b";
    let mut rng = Rng(17);
    let mut sum = Tokens::default();
    let mut n = 0u64;
    let t0 = Instant::now();
    let mut insert_secs = 0.0;
    let mut prune_secs = 0.0;
    for day in 0..days {
        let day_start = start + day as i64 * 86_400;
        let mut batch = Vec::with_capacity(1000);
        for i in 0..per_day {
            let session = day * sessions + i * sessions / per_day;
            let p = (session % 3) as usize;
            let (profile, agent, provider) = profiles[p];
            let cached = rng.range(0, 150_000);
            let tokens = Tokens {
                input_tokens: rng.range(1, 6_000),
                output_tokens: rng.range(20, 3_000),
                cache_creation_input_tokens: rng.range(0, 8_000),
                cache_read_input_tokens: cached,
                ..Default::default()
            };
            sum.add(&tokens);
            batch.push(UsageEvent {
                profile: profile.into(),
                agent: Some(agent.into()),
                provider: Some(provider.into()),
                model: models[p][(rng.next() % 3) as usize].into(),
                ts: Some(day_start + (i * 86_400 / per_day) as i64),
                tokens,
                source: "proxy".into(),
                session_id: Some(format!("{:08x}-0000-4000-8000-{session:012x}", day)),
                dedupe_key: Some(format!("proxy:{prefix}:{n}")),
                key_label: None,
                key_hint: None,
                links: Default::default(),
            });
            n += 1;
            if batch.len() == 1000 || i + 1 == per_day {
                let t = Instant::now();
                let events = std::mem::take(&mut batch);
                store.call_blocking(|c| usage::record(c, &events, &[], 0).map(|_| ()))?;
                insert_secs += t.elapsed().as_secs_f64();
            }
        }
        if keep > 0 {
            let t = Instant::now();
            let before = day_start + 86_400 - keep as i64 * 86_400;
            store.call_blocking(|c| retention::prune(c, before))?;
            prune_secs += t.elapsed().as_secs_f64();
        }
    }
    store.flush()?;
    let bytes = std::fs::metadata(&path)?.len();
    let (raw, rollup, daily, labels, free, page, rolled, labelled, tables): Found = store.call_blocking(|c| {
        let q = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0));
        Ok((
            q("SELECT COUNT(*) FROM usage_raw")?,
            q("SELECT COUNT(*) FROM usage_rollup")?,
            q("SELECT COUNT(*) FROM usage_daily")?,
            q("SELECT COUNT(*) FROM usage_labels")? + q("SELECT COUNT(*) FROM usage_conversations")?,
            q("PRAGMA freelist_count")?,
            q("PRAGMA page_size")?,
            c.query_row(
                "SELECT SUM(input_tokens), SUM(output_tokens), SUM(cache_creation_input_tokens), SUM(cache_read_input_tokens) FROM usage_daily",
                [],
                |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]),
            )?,
            c.query_row(
                "SELECT SUM(i), SUM(o), SUM(cw), SUM(cr) FROM (
                     SELECT input_tokens AS i, output_tokens AS o, cache_creation_input_tokens AS cw, cache_read_input_tokens AS cr FROM usage_labels
                     UNION ALL
                     SELECT input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens FROM usage_conversations)",
                [],
                |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]),
            )?,
            c.prepare("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?,
        ))
    })?;
    let inserted = [
        sum.input_tokens,
        sum.output_tokens,
        sum.cache_creation_input_tokens,
        sum.cache_read_input_tokens,
    ]
    .map(|v| v as i64);
    let out = serde_json::json!({
        "days": days, "requests_per_day": per_day, "sessions_per_day": sessions, "retention_days": keep, "events_inserted": n,
        "file_bytes": bytes, "file_mib": bytes as f64 / 1048576.0,
        "free_pages_bytes": free * page,
        "raw_events_kept": raw, "rollup_rows": rollup, "daily_rows": daily, "labels_and_conversations": labels,
        "bytes_per_kept_event": (bytes as f64 - (free * page) as f64) / raw.max(1) as f64,
        "rollup_totals_equal_inserted": rolled == inserted,
        "label_totals_equal_inserted": labelled == inserted,
        "bytes_by_table": tables.into_iter().map(|(k, v)| (k, serde_json::Value::from(v))).collect::<serde_json::Map<_, _>>(),
        "insert_secs": insert_secs, "events_per_sec": n as f64 / insert_secs,
        "prune_secs_total": prune_secs, "wall_secs": t0.elapsed().as_secs_f64(),
        "cpu_secs": cpu_secs(), "load_average_at_end": std::fs::read_to_string("/proc/loadavg").ok().map(|l| l.trim().to_string()),
    });
    println!("{out}");
    std::fs::remove_dir_all(&dir)?;
    anyhow::ensure!(
        rolled == inserted,
        "rollup totals differ from what was inserted"
    );
    anyhow::ensure!(
        labelled == inserted,
        "label totals differ from what was inserted"
    );
    Ok(())
}
