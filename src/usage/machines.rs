//! The all-machines report (`GET /api/usage?scope=all-machines`): the same report as
//! [`super::query`], built from the shared database's rows of every machine, plus
//! `by_machine`. The 15-minute buckets are grouped into this daemon's local days here,
//! with the same zone rules as the local report, so both agree on every day.

use std::collections::{BTreeMap, HashMap};

use jiff::Zoned;

use super::period::{Period, local_date};
use super::query::{Aggregator, Filters, MachineAggregate, SessionTotals, UsageReport, build};
use crate::registry::Catalogue;
use crate::store::postgres::report::{Row, Sessions};

/// Seconds per bucket of the shared rollup.
const BUCKET_SECS: i64 = 900;

/// The bucket range `[first, end)` covering the period `[start, end)`.
pub fn buckets(period: Period, now: &Zoned) -> (i64, i64) {
    let (start, end) = period.range(now);
    (
        start.div_euclid(BUCKET_SECS),
        end.saturating_add(BUCKET_SECS - 1).div_euclid(BUCKET_SECS),
    )
}

/// What the shared database answered for a period.
pub struct Shared {
    pub rows: Vec<Row>,
    pub sessions: Vec<Sessions>,
    /// (machine id, name).
    pub machines: Vec<(String, String)>,
}

pub fn report(
    data: Shared,
    catalogue: &Catalogue,
    period: Period,
    period_id: &str,
    now: &Zoned,
    filters: &Filters,
) -> UsageReport {
    let tz = now.time_zone().clone();
    let range = period.range(now);
    let mut agg = Aggregator::new(catalogue);
    agg.machines = Some(super::query::Interned::new());
    let mut day = (i64::MIN, i64::MIN, String::new());
    for r in &data.rows {
        if let Some(d) = &r.day {
            agg.add_from(&r.machine, d, &r.profile, &r.model, r.tokens, r.last_ts);
            continue;
        }
        let ts = r.bucket * BUCKET_SECS;
        if !(day.0..day.1).contains(&ts) {
            let date = local_date(ts, &tz);
            let start = date.map(|d| super::period::day_start(d, &tz)).unwrap_or(ts);
            let end = date
                .and_then(|d| d.tomorrow().ok())
                .map(|d| super::period::day_start(d, &tz))
                .unwrap_or(ts + 1);
            day = (start, end, date.map(|d| d.to_string()).unwrap_or_default());
        }
        agg.add_from(
            &r.machine, &day.2, &r.profile, &r.model, r.tokens, r.last_ts,
        );
    }
    // Sessions carry no model; with a model filter they are left out, as locally.
    let sessions: &[Sessions] = if filters.model.is_some() {
        &[]
    } else {
        &data.sessions
    };
    let mut per_profile: BTreeMap<String, SessionTotals> = BTreeMap::new();
    let mut per_machine: HashMap<&str, (u64, u64, i64)> = HashMap::new();
    for s in sessions {
        let p = per_profile
            .entry(s.profile.clone())
            .or_insert_with(|| (s.profile.clone(), 0, 0, i64::MIN));
        p.1 += s.count;
        p.2 += s.runtime_secs;
        p.3 = p.3.max(s.last);
        let m = per_machine.entry(&s.machine).or_insert((0, 0, i64::MIN));
        m.0 += s.count;
        m.1 += s.runtime_secs;
        m.2 = m.2.max(s.last);
    }
    let names: HashMap<&str, &str> = data
        .machines
        .iter()
        .map(|(id, name)| (id.as_str(), name.as_str()))
        .collect();
    let mut machines: BTreeMap<String, MachineAggregate> = BTreeMap::new();
    if let Some(m) = agg.machines.take() {
        for (id, _, acc) in m.items {
            let agg = MachineAggregate {
                machine_id: id.clone(),
                name: names.get(id.as_str()).unwrap_or(&id.as_str()).to_string(),
                tokens: acc.tokens,
                cost: acc.cost.usd(),
                sessions: 0,
                runtime_secs: 0,
                last_used: acc.last_ts.and_then(rfc3339),
            };
            machines.insert(id, agg);
        }
    }
    for (id, (count, runtime, last)) in per_machine {
        let slot = machines
            .entry(id.to_string())
            .or_insert_with(|| MachineAggregate {
                machine_id: id.to_string(),
                name: names.get(id).unwrap_or(&id).to_string(),
                tokens: Default::default(),
                cost: Default::default(),
                sessions: 0,
                runtime_secs: 0,
                last_used: None,
            });
        slot.sessions = count;
        slot.runtime_secs = runtime;
        let newer = slot
            .last_used
            .as_deref()
            .is_none_or(|l| rfc3339(last).is_some_and(|s| s.as_str() > l));
        if newer {
            slot.last_used = rfc3339(last);
        }
    }
    let sessions: Vec<SessionTotals> = per_profile.into_values().collect();
    let mut report = build(agg, period, period_id, range, &tz, &sessions);
    report.aggregates.by_machine = Some(machines);
    report
}

fn rfc3339(ts: i64) -> Option<String> {
    jiff::Timestamp::from_second(ts)
        .ok()
        .map(crate::time::rfc3339)
}
