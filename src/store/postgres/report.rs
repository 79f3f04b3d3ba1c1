//! Reading every machine's usage back for a report: rollup rows in a range of 15-minute
//! buckets (in bucket order, so the caller can group them into its own local days),
//! session totals, and the machines' names.

use tokio_postgres::Client;

use super::SharedError;
use crate::tokens::Tokens;

pub struct Row {
    pub machine: String,
    /// The local day (`YYYY-MM-DD`) when grouped by day in the database, else `None` and
    /// `bucket` says when.
    pub day: Option<String>,
    pub bucket: i64,
    pub profile: String,
    pub model: String,
    pub tokens: Tokens,
    pub last_ts: i64,
}

pub struct Sessions {
    pub machine: String,
    pub profile: String,
    pub count: u64,
    pub runtime_secs: u64,
    pub last: i64,
}

fn count(v: i64) -> u64 {
    v.max(0) as u64
}

/// Rollup rows with buckets in `[first, end)`, optionally for one profile or model:
/// summed per local day of `zone` (an IANA name) in the database when one is given — a
/// long period then sends days × pairs rows, not buckets × pairs — else per bucket.
pub async fn rows(
    client: &Client,
    (first, end): (i64, i64),
    profile: Option<&str>,
    model: Option<&str>,
    zone: Option<&str>,
) -> Result<Vec<Row>, SharedError> {
    if let Some(zone) = zone {
        let rows = client
            .query(
                "SELECT machine_id, to_char(to_timestamp(bucket * 900) AT TIME ZONE $5, 'YYYY-MM-DD'),
                        profile, model, SUM(input_tokens)::bigint, SUM(output_tokens)::bigint,
                        SUM(cache_creation_input_tokens)::bigint, SUM(cache_read_input_tokens)::bigint,
                        SUM(cache_creation_1h_tokens)::bigint, MAX(last_ts)
                 FROM clown_usage_rollup
                 WHERE bucket >= $1 AND bucket < $2 AND ($3::text IS NULL OR profile = $3)
                   AND ($4::text IS NULL OR model = $4) AND events > 0
                 GROUP BY 1, 2, 3, 4
                 ORDER BY 2",
                &[&first, &end, &profile, &model, &zone],
            )
            .await?;
        return Ok(rows
            .into_iter()
            .map(|r| row(&r, Some(r.get(1)), 0))
            .collect());
    }
    let rows = client
        .query(
            "SELECT machine_id, bucket, profile, model, input_tokens, output_tokens,
                    cache_creation_input_tokens, cache_read_input_tokens, cache_creation_1h_tokens, last_ts
             FROM clown_usage_rollup
             WHERE bucket >= $1 AND bucket < $2 AND ($3::text IS NULL OR profile = $3)
               AND ($4::text IS NULL OR model = $4) AND events > 0
             ORDER BY bucket",
            &[&first, &end, &profile, &model],
        )
        .await?;
    Ok(rows.into_iter().map(|r| row(&r, None, r.get(1))).collect())
}

/// machine, (day or bucket), profile, model, the five counts, last_ts.
fn row(r: &tokio_postgres::Row, day: Option<String>, bucket: i64) -> Row {
    Row {
        machine: r.get(0),
        day,
        bucket,
        profile: r.get(2),
        model: r.get(3),
        tokens: Tokens {
            input_tokens: count(r.get(4)),
            output_tokens: count(r.get(5)),
            cache_creation_input_tokens: count(r.get(6)),
            cache_read_input_tokens: count(r.get(7)),
            cache_creation_1h_input_tokens: count(r.get(8)),
            ..Tokens::default()
        },
        last_ts: r.get(9),
    }
}

/// Sessions started in `[start, end)` per machine and profile.
pub async fn sessions(
    client: &Client,
    (start, end): (i64, i64),
    profile: Option<&str>,
) -> Result<Vec<Sessions>, SharedError> {
    let rows = client
        .query(
            "SELECT machine_id, profile, COUNT(*)::bigint, COALESCE(SUM(runtime_secs), 0)::bigint,
                    MAX(COALESCE(ended_at, started_at))
             FROM clown_usage_sessions
             WHERE started_at >= $1 AND started_at < $2 AND ($3::text IS NULL OR profile = $3)
             GROUP BY 1, 2",
            &[&start, &end, &profile],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| Sessions {
            machine: r.get(0),
            profile: r.get(1),
            count: count(r.get(2)),
            runtime_secs: count(r.get(3)),
            last: r.get(4),
        })
        .collect())
}

/// Every machine that ever pushed: (id, name).
pub async fn machines(client: &Client) -> Result<Vec<(String, String)>, SharedError> {
    let rows = client
        .query("SELECT machine_id, name FROM clown_machines", &[])
        .await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}
