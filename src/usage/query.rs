//! `GET /api/usage`: totals, costs and aggregates (by profile, model and day) for a
//! period, computed from the rollup (never by scanning events).

use std::collections::{BTreeMap, BTreeSet};

use jiff::Zoned;
use jiff::tz::TimeZone;
use serde::Serialize;

use super::period::{Period, local_date};
use super::pricing::{Cost, ExactCost, Tokens};
use crate::registry::Catalogue;
use crate::store::usage::{RollupRow, rollup_rows, session_totals};

#[derive(Debug, Serialize)]
pub struct UsageReport {
    pub period: &'static str,
    pub period_id: String,
    pub start: Option<String>,
    pub end: String,
    pub time_zone: String,
    pub total_tokens: Tokens,
    pub total_cost: Cost,
    pub total_sessions: u64,
    pub total_runtime_secs: u64,
    pub aggregates: Aggregates,
    /// Models that had usage but no price in the registry; their cost counts as 0.
    pub unpriced_models: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Aggregates {
    pub by_profile: BTreeMap<String, ProfileAggregate>,
    pub by_model: BTreeMap<String, ModelAggregate>,
    pub by_day: Vec<DayAggregate>,
}

#[derive(Debug, Serialize)]
pub struct ProfileAggregate {
    pub profile: String,
    pub tokens: Tokens,
    pub cost: Cost,
    pub sessions: u64,
    pub runtime_secs: u64,
    pub last_used: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ModelAggregate {
    pub model: String,
    pub tokens: Tokens,
    pub cost: Cost,
    pub priced: bool,
}

#[derive(Debug, Serialize)]
pub struct DayAggregate {
    pub date: String,
    pub tokens: Tokens,
    pub cost: Cost,
}

#[derive(Default)]
struct Acc {
    tokens: Tokens,
    cost: ExactCost,
    sessions: u64,
    runtime: u64,
    last_ts: Option<i64>,
}

impl Acc {
    fn add(&mut self, t: &Tokens, c: &ExactCost, ts: i64) {
        self.tokens.add(t);
        self.cost.add(c);
        self.last_ts = Some(self.last_ts.map_or(ts, |l| l.max(ts)));
    }
}

fn rfc3339(ts: i64) -> Option<String> {
    jiff::Timestamp::from_second(ts)
        .ok()
        .map(crate::time::rfc3339)
}

pub struct Filters<'a> {
    pub profile: Option<&'a str>,
    pub model: Option<&'a str>,
}

/// Builds the report from the store connection.
pub fn report(
    conn: &rusqlite::Connection,
    catalogue: &Catalogue,
    period: Period,
    period_id: &str,
    now: &Zoned,
    filters: &Filters,
) -> Result<UsageReport, crate::store::StoreError> {
    let (start, end) = period.range(now);
    let rows = rollup_rows(conn, start, end, filters.profile, filters.model)?;
    // Sessions carry no model; with a model filter they are left out.
    let sessions = if filters.model.is_some() {
        Vec::new()
    } else {
        session_totals(conn, start, end, filters.profile)?
    };
    let tz = now.time_zone().clone();
    Ok(build(
        catalogue,
        period,
        period_id,
        (start, end),
        &tz,
        &rows,
        &sessions,
    ))
}

fn build(
    catalogue: &Catalogue,
    period: Period,
    period_id: &str,
    (start, end): (i64, i64),
    tz: &TimeZone,
    rows: &[RollupRow],
    sessions: &[(String, u64, u64, i64)],
) -> UsageReport {
    let mut total = Acc::default();
    let mut by_profile: BTreeMap<String, Acc> = BTreeMap::new();
    let mut by_model: BTreeMap<String, Acc> = BTreeMap::new();
    let mut by_day: BTreeMap<String, Acc> = BTreeMap::new();
    let mut unpriced = BTreeSet::new();
    let mut day_of_bucket: BTreeMap<i64, String> = BTreeMap::new();
    for r in rows {
        let t = Tokens {
            input_tokens: r.counts[0],
            output_tokens: r.counts[1],
            cache_creation_input_tokens: r.counts[2],
            cache_read_input_tokens: r.counts[3],
        };
        let cost = match catalogue.price(&r.model) {
            Some(price) => ExactCost::of(&t, price),
            None => {
                if t.total() > 0 {
                    unpriced.insert(r.model.clone());
                }
                ExactCost::default()
            }
        };
        total.add(&t, &cost, r.last_ts);
        by_profile
            .entry(r.profile.clone())
            .or_default()
            .add(&t, &cost, r.last_ts);
        by_model
            .entry(r.model.clone())
            .or_default()
            .add(&t, &cost, r.last_ts);
        let day = day_of_bucket
            .entry(r.bucket)
            .or_insert_with(|| {
                local_date(r.bucket * crate::store::usage::BUCKET_SECS, tz)
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            })
            .clone();
        by_day.entry(day).or_default().add(&t, &cost, r.last_ts);
    }
    for (profile, count, runtime, last) in sessions {
        let acc = by_profile.entry(profile.clone()).or_default();
        acc.sessions += count;
        acc.runtime += runtime;
        acc.last_ts = Some(acc.last_ts.map_or(*last, |l| l.max(*last)));
        total.sessions += count;
        total.runtime += runtime;
    }
    // Bounded periods list every day, so charts have no gaps.
    if start > 0 {
        let mut day = local_date(start, tz);
        while let Some(d) = day {
            if super::period::day_start(d, tz) >= end {
                break;
            }
            by_day.entry(d.to_string()).or_default();
            day = d.tomorrow().ok();
        }
    }
    UsageReport {
        period: period.label(),
        period_id: period_id.to_string(),
        start: (start > 0).then(|| rfc3339(start)).flatten(),
        end: rfc3339(end).unwrap_or_default(),
        time_zone: tz.iana_name().unwrap_or("local").to_string(),
        total_tokens: total.tokens,
        total_cost: total.cost.usd(),
        total_sessions: total.sessions,
        total_runtime_secs: total.runtime,
        aggregates: Aggregates {
            by_profile: by_profile
                .into_iter()
                .map(|(p, a)| {
                    let agg = ProfileAggregate {
                        profile: p.clone(),
                        tokens: a.tokens,
                        cost: a.cost.usd(),
                        sessions: a.sessions,
                        runtime_secs: a.runtime,
                        last_used: a.last_ts.and_then(rfc3339),
                    };
                    (p, agg)
                })
                .collect(),
            by_model: by_model
                .into_iter()
                .map(|(m, a)| {
                    let agg = ModelAggregate {
                        model: m.clone(),
                        tokens: a.tokens,
                        cost: a.cost.usd(),
                        priced: catalogue.price(&m).is_some(),
                    };
                    (m, agg)
                })
                .collect(),
            by_day: by_day
                .into_iter()
                .map(|(date, a)| DayAggregate {
                    date,
                    tokens: a.tokens,
                    cost: a.cost.usd(),
                })
                .collect(),
        },
        unpriced_models: unpriced.into_iter().collect(),
    }
}
