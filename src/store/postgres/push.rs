//! Pushing one batch of this machine's events (or sessions) in one transaction: the
//! events upserted by (machine, key), and the rollup moved by exactly what changed —
//! the new counts minus those the shared database already held for the same keys — so
//! pushing a batch again adds nothing.

use std::collections::HashMap;

use tokio_postgres::Client;

use super::SharedError;
use crate::store::sync::{SyncEvent, SyncSession};

const BUCKET_SECS: i64 = 900;

/// Counts per rollup row: the five token counts and the number of events.
type Delta = [i64; 6];

fn add(d: &mut Delta, counts: &[i64; 5], events: i64, sign: i64) {
    for (acc, c) in d.iter_mut().zip(counts) {
        *acc = acc.saturating_add(sign.saturating_mul(*c));
    }
    d[5] += sign * events;
}

/// Removes the machine's `removed` events, then upserts its name and `batch`, adjusting
/// the rollup by both, in one transaction (a key removed and stored again since is in
/// `batch`: it ends up stored).
pub async fn events(
    client: &mut Client,
    machine: &str,
    name: &str,
    batch: &[SyncEvent],
    removed: &[String],
) -> Result<(), SharedError> {
    let tx = client.transaction().await?;
    let mut old = Vec::new();
    if !removed.is_empty() {
        old = tx
            .query(
                "DELETE FROM clown_usage_events WHERE machine_id = $1 AND event_key = ANY($2)
                 RETURNING ts, profile, model, input_tokens, output_tokens,
                     cache_creation_input_tokens, cache_read_input_tokens, cache_creation_1h_tokens",
                &[&machine, &removed],
            )
            .await?;
    }
    let keys: Vec<&str> = batch.iter().map(|e| e.key.as_str()).collect();
    old.extend(
        tx.query(
            "SELECT ts, profile, model, input_tokens, output_tokens, cache_creation_input_tokens,
                    cache_read_input_tokens, cache_creation_1h_tokens
             FROM clown_usage_events WHERE machine_id = $1 AND event_key = ANY($2)",
            &[&machine, &keys],
        )
        .await?,
    );
    let mut deltas: HashMap<(i64, String, String), (Delta, i64)> = HashMap::new();
    for row in &old {
        let ts: i64 = row.get(0);
        let counts = [row.get(3), row.get(4), row.get(5), row.get(6), row.get(7)];
        let slot = deltas
            .entry((ts.div_euclid(BUCKET_SECS), row.get(1), row.get(2)))
            .or_default();
        add(&mut slot.0, &counts, 1, -1);
    }
    for e in batch {
        let slot = deltas
            .entry((
                e.ts.div_euclid(BUCKET_SECS),
                e.profile.clone(),
                e.model.clone(),
            ))
            .or_default();
        add(&mut slot.0, &e.counts, 1, 1);
        slot.1 = slot.1.max(e.ts);
    }
    let col = |i: usize| batch.iter().map(|e| e.counts[i]).collect::<Vec<i64>>();
    tx.execute(
        "INSERT INTO clown_usage_events (machine_id, event_key, ts, profile, agent, provider, model,
             input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens,
             cache_creation_1h_tokens, source, session_id)
         SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[],
             $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[],
             $13::text[], $14::text[])
         ON CONFLICT (machine_id, event_key) DO UPDATE SET
             ts = excluded.ts, profile = excluded.profile, agent = excluded.agent,
             provider = excluded.provider, model = excluded.model,
             input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
             cache_creation_input_tokens = excluded.cache_creation_input_tokens,
             cache_read_input_tokens = excluded.cache_read_input_tokens,
             cache_creation_1h_tokens = excluded.cache_creation_1h_tokens,
             source = excluded.source, session_id = excluded.session_id",
        &[
            &machine,
            &keys,
            &batch.iter().map(|e| e.ts).collect::<Vec<i64>>(),
            &batch.iter().map(|e| e.profile.as_str()).collect::<Vec<_>>(),
            &batch.iter().map(|e| e.agent.as_deref()).collect::<Vec<_>>(),
            &batch.iter().map(|e| e.provider.as_deref()).collect::<Vec<_>>(),
            &batch.iter().map(|e| e.model.as_str()).collect::<Vec<_>>(),
            &col(0),
            &col(1),
            &col(2),
            &col(3),
            &col(4),
            &batch.iter().map(|e| e.source.as_str()).collect::<Vec<_>>(),
            &batch.iter().map(|e| e.session_id.as_deref()).collect::<Vec<_>>(),
        ],
    )
    .await?;
    let changed: Vec<_> = deltas
        .into_iter()
        .filter(|(_, (d, _))| d.iter().any(|v| *v != 0))
        .collect();
    if !changed.is_empty() {
        let dcol = |i: usize| changed.iter().map(|(_, (d, _))| d[i]).collect::<Vec<i64>>();
        tx.execute(
            "INSERT INTO clown_usage_rollup AS r (machine_id, bucket, profile, model, input_tokens,
                 output_tokens, cache_creation_input_tokens, cache_read_input_tokens,
                 cache_creation_1h_tokens, events, last_ts)
             SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[],
                 $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[])
             ON CONFLICT (machine_id, bucket, profile, model) DO UPDATE SET
                 input_tokens = r.input_tokens + excluded.input_tokens,
                 output_tokens = r.output_tokens + excluded.output_tokens,
                 cache_creation_input_tokens = r.cache_creation_input_tokens + excluded.cache_creation_input_tokens,
                 cache_read_input_tokens = r.cache_read_input_tokens + excluded.cache_read_input_tokens,
                 cache_creation_1h_tokens = r.cache_creation_1h_tokens + excluded.cache_creation_1h_tokens,
                 events = r.events + excluded.events,
                 last_ts = GREATEST(r.last_ts, excluded.last_ts)",
            &[
                &machine,
                &changed.iter().map(|((b, _, _), _)| *b).collect::<Vec<i64>>(),
                &changed
                    .iter()
                    .map(|((_, p, _), _)| p.as_str())
                    .collect::<Vec<_>>(),
                &changed
                    .iter()
                    .map(|((_, _, m), _)| m.as_str())
                    .collect::<Vec<_>>(),
                &dcol(0),
                &dcol(1),
                &dcol(2),
                &dcol(3),
                &dcol(4),
                &dcol(5),
                &changed.iter().map(|(_, (_, ts))| *ts).collect::<Vec<i64>>(),
            ],
        )
        .await?;
    }
    machine_row(&tx, machine, name).await?;
    tx.commit().await?;
    Ok(())
}

/// Upserts sessions by (machine, key).
pub async fn sessions(
    client: &mut Client,
    machine: &str,
    name: &str,
    batch: &[SyncSession],
) -> Result<(), SharedError> {
    let tx = client.transaction().await?;
    tx.execute(
        "INSERT INTO clown_usage_sessions (machine_id, session_key, profile, started_at, ended_at,
             runtime_secs, exit_code, source)
         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[],
             $7::integer[], $8::text[])
         ON CONFLICT (machine_id, session_key) DO UPDATE SET
             profile = excluded.profile, started_at = excluded.started_at,
             ended_at = excluded.ended_at, runtime_secs = excluded.runtime_secs,
             exit_code = excluded.exit_code, source = excluded.source",
        &[
            &machine,
            &batch.iter().map(|s| s.key.as_str()).collect::<Vec<_>>(),
            &batch.iter().map(|s| s.profile.as_str()).collect::<Vec<_>>(),
            &batch.iter().map(|s| s.started_at).collect::<Vec<i64>>(),
            &batch
                .iter()
                .map(|s| s.ended_at)
                .collect::<Vec<Option<i64>>>(),
            &batch.iter().map(|s| s.runtime_secs).collect::<Vec<i64>>(),
            &batch
                .iter()
                .map(|s| s.exit_code)
                .collect::<Vec<Option<i32>>>(),
            &batch.iter().map(|s| s.source.as_str()).collect::<Vec<_>>(),
        ],
    )
    .await?;
    machine_row(&tx, machine, name).await?;
    tx.commit().await?;
    Ok(())
}

async fn machine_row(
    tx: &tokio_postgres::Transaction<'_>,
    machine: &str,
    name: &str,
) -> Result<(), SharedError> {
    tx.execute(
        "INSERT INTO clown_machines (machine_id, name, last_push) VALUES ($1, $2, now())
         ON CONFLICT (machine_id) DO UPDATE SET name = excluded.name, last_push = now()",
        &[&machine, &name],
    )
    .await?;
    Ok(())
}

/// Registers the machine (its name) without pushing anything.
pub async fn register(client: &Client, machine: &str, name: &str) -> Result<(), SharedError> {
    client
        .execute(
            "INSERT INTO clown_machines (machine_id, name) VALUES ($1, $2)
             ON CONFLICT (machine_id) DO UPDATE SET name = excluded.name",
            &[&machine, &name],
        )
        .await?;
    Ok(())
}
