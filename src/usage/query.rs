//! `GET /api/usage`: totals, costs and aggregates (by profile, model and day) for a
//! period, computed from the rollup (never by scanning events).

use std::collections::{BTreeMap, BTreeSet};

use jiff::Zoned;
use jiff::tz::TimeZone;
use serde::Serialize;

use super::period::{Period, local_date};
use super::pricing::{Cost, ExactCost};
use crate::registry::Catalogue;
use crate::registry::Price;
use crate::store::daily::{self, DayRow};
use crate::store::usage::session_totals;
use crate::tokens::Tokens;

#[derive(Debug, Serialize)]
pub struct UsageReport {
    pub period: &'static str,
    pub period_id: String,
    pub start: Option<String>,
    pub end: String,
    pub time_zone: String,
    pub total_tokens: Tokens,
    /// The part of the output tokens that was reasoning, where the agent reports it apart.
    pub total_reasoning_output_tokens: u64,
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
    /// Per machine, keyed by machine id: only in the all-machines report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_machine: Option<BTreeMap<String, MachineAggregate>>,
}

#[derive(Debug, Serialize)]
pub struct MachineAggregate {
    pub machine_id: String,
    pub name: String,
    pub tokens: Tokens,
    pub cost: Cost,
    pub sessions: u64,
    pub runtime_secs: u64,
    pub last_used: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ProfileAggregate {
    pub profile: String,
    pub tokens: Tokens,
    pub reasoning_output_tokens: u64,
    pub cost: Cost,
    pub sessions: u64,
    pub runtime_secs: u64,
    pub last_used: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ModelAggregate {
    pub model: String,
    pub tokens: Tokens,
    pub reasoning_output_tokens: u64,
    pub cost: Cost,
    pub priced: bool,
}

#[derive(Debug, Serialize)]
pub struct DayAggregate {
    pub date: String,
    pub tokens: Tokens,
    pub reasoning_output_tokens: u64,
    pub cost: Cost,
}

#[derive(Default)]
pub(crate) struct Acc {
    pub(crate) tokens: Tokens,
    pub(crate) cost: ExactCost,
    sessions: u64,
    runtime: u64,
    pub(crate) last_ts: Option<i64>,
}

impl Acc {
    pub(crate) fn add(&mut self, t: &Tokens, c: &ExactCost, ts: i64) {
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
    let tz = now.time_zone().clone();
    let (first, last) = period.days(now);
    let (first, last) = (first.map(|d| d.to_string()), last.to_string());
    let mut agg = Aggregator::new(catalogue);
    daily::fold(
        conn,
        first.as_deref(),
        &last,
        filters.profile,
        filters.model,
        |day, profile, model, row| {
            agg.add(day, profile, model, &row);
        },
    )?;
    // Sessions carry no model; with a model filter they are left out.
    let sessions = if filters.model.is_some() {
        Vec::new()
    } else {
        session_totals(conn, start, end, filters.profile)?
    };
    Ok(build(agg, period, period_id, (start, end), &tz, &sessions))
}

/// Sessions of one profile in a period: (profile, count, runtime, last activity).
pub(crate) type SessionTotals = (String, u64, u64, i64);

/// Sums daily rows per profile, model and day without allocating per row: names are
/// interned and prices looked up once per model; rows arrive in day order.
pub(crate) struct Aggregator<'a> {
    catalogue: &'a Catalogue,
    total: Acc,
    profiles: Interned<()>,
    models: Interned<Option<Price>>,
    days: Vec<(String, Acc)>,
    /// Per machine id, when rows come from several machines.
    pub(crate) machines: Option<Interned<()>>,
}

pub(crate) struct Interned<T> {
    index: std::collections::HashMap<String, usize>,
    pub(crate) items: Vec<(String, T, Acc)>,
}

impl<T> Interned<T> {
    pub(crate) fn new() -> Self {
        Self {
            index: std::collections::HashMap::new(),
            items: Vec::new(),
        }
    }

    pub(crate) fn slot(
        &mut self,
        name: &str,
        make: impl FnOnce(&str) -> T,
    ) -> &mut (String, T, Acc) {
        let i = match self.index.get(name) {
            Some(&i) => i,
            None => {
                self.items
                    .push((name.to_string(), make(name), Acc::default()));
                self.index.insert(name.to_string(), self.items.len() - 1);
                self.items.len() - 1
            }
        };
        &mut self.items[i]
    }
}

impl<'a> Aggregator<'a> {
    pub(crate) fn new(catalogue: &'a Catalogue) -> Self {
        Self {
            catalogue,
            total: Acc::default(),
            profiles: Interned::new(),
            models: Interned::new(),
            days: Vec::new(),
            machines: None,
        }
    }

    /// Adds a row of one machine (rows in day order). The shared database keeps no
    /// long-context split: its rows are priced at the base tier.
    pub(crate) fn add_from(
        &mut self,
        machine: &str,
        day: &str,
        profile: &str,
        model: &str,
        t: Tokens,
        last_ts: i64,
    ) {
        let row = DayRow {
            tokens: t,
            long: Tokens::default(),
            last_ts,
        };
        let cost = self.add(day, profile, model, &row);
        self.machines
            .get_or_insert_with(Interned::new)
            .slot(machine, |_| ())
            .2
            .add(&t, &cost, last_ts);
    }

    pub(crate) fn add(&mut self, day: &str, profile: &str, model: &str, row: &DayRow) -> ExactCost {
        let catalogue = self.catalogue;
        let (t, last_ts) = (row.tokens, row.last_ts);
        let m = self
            .models
            .slot(model, |name| catalogue.price(name).copied());
        let cost =
            m.1.as_ref()
                .map(|p| ExactCost::of_row(row, p))
                .unwrap_or_default();
        m.2.add(&t, &cost, last_ts);
        self.profiles
            .slot(profile, |_| ())
            .2
            .add(&t, &cost, last_ts);
        self.total.add(&t, &cost, last_ts);
        if self.days.last().is_none_or(|(d, _)| d != day) {
            self.days.push((day.to_string(), Acc::default()));
        }
        if let Some((_, acc)) = self.days.last_mut() {
            acc.add(&t, &cost, last_ts);
        }
        cost
    }
}

pub(crate) fn build(
    agg: Aggregator,
    period: Period,
    period_id: &str,
    (start, end): (i64, i64),
    tz: &TimeZone,
    sessions: &[(String, u64, u64, i64)],
) -> UsageReport {
    let mut total = agg.total;
    let mut by_profile: BTreeMap<String, Acc> = agg
        .profiles
        .items
        .into_iter()
        .map(|(name, _, acc)| (name, acc))
        .collect();
    let unpriced: BTreeSet<String> = agg
        .models
        .items
        .iter()
        .filter(|(_, price, acc)| price.is_none() && acc.tokens.total() > 0)
        .map(|(name, _, _)| name.clone())
        .collect();
    let priced: BTreeSet<String> = agg
        .models
        .items
        .iter()
        .filter(|(_, price, _)| price.is_some())
        .map(|(name, _, _)| name.clone())
        .collect();
    let by_model: BTreeMap<String, Acc> = agg
        .models
        .items
        .into_iter()
        .map(|(name, _, acc)| (name, acc))
        .collect();
    let mut by_day: BTreeMap<String, Acc> = BTreeMap::new();
    for (date, acc) in agg.days {
        let slot = by_day.entry(date).or_default();
        slot.tokens.add(&acc.tokens);
        slot.cost.add(&acc.cost);
        slot.last_ts = slot.last_ts.max(acc.last_ts);
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
        total_reasoning_output_tokens: total.tokens.reasoning_output_tokens,
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
                        reasoning_output_tokens: a.tokens.reasoning_output_tokens,
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
                        reasoning_output_tokens: a.tokens.reasoning_output_tokens,
                        cost: a.cost.usd(),
                        priced: priced.contains(&m),
                    };
                    (m, agg)
                })
                .collect(),
            by_day: by_day
                .into_iter()
                .map(|(date, a)| DayAggregate {
                    date,
                    tokens: a.tokens,
                    reasoning_output_tokens: a.tokens.reasoning_output_tokens,
                    cost: a.cost.usd(),
                })
                .collect(),
            by_machine: None,
        },
        unpriced_models: unpriced.into_iter().collect(),
    }
}
