//! The reports ccusage users know: usage per day, week, month (from the daily rollup) and
//! per session (from the events, which name their session), each row with its tokens,
//! cost and per-model breakdown (most expensive first), and the totals. Ranges are whole
//! local days: a period (`today` … `all`) or `since`/`until` dates, inclusive.

use std::collections::HashMap;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use serde::Serialize;

use super::{Meter, MeterError, Prices};
use crate::store::{daily, events};
use crate::tokens::Tokens;
use crate::usage::period::{self, Period};
use crate::usage::pricing::ExactCost;

/// What a usage view covers, as asked: one profile and/or an agent's profiles, and a
/// period or since/until (the blocks, the reports and the export all take it).
#[derive(Debug, Default)]
pub struct Scope {
    pub profile: Option<String>,
    pub agent: Option<String>,
    pub period: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
}

impl Scope {
    /// The days it covers, relative to `now`.
    pub fn range(&self, now: &jiff::Zoned) -> Result<Range, MeterError> {
        Range::parse(
            self.period.as_deref(),
            self.since.as_deref(),
            self.until.as_deref(),
            now,
        )
    }
}

/// Whole local days, each end open (`None`) or inclusive.
#[derive(Debug, Clone, Copy, Default)]
pub struct Range {
    pub first: Option<Date>,
    pub last: Option<Date>,
}

fn date(what: &str, s: &str) -> Result<Date, MeterError> {
    let iso = match s.len() {
        8 if s.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{}-{}-{}", &s[..4], &s[4..6], &s[6..])
        }
        _ => s.to_string(),
    };
    iso.parse::<Date>().map_err(|_| {
        MeterError::Invalid(format!(
            "Invalid {what} '{s}': use YYYY-MM-DD (or YYYYMMDD)"
        ))
    })
}

impl Range {
    pub fn parse(
        period: Option<&str>,
        since: Option<&str>,
        until: Option<&str>,
        now: &jiff::Zoned,
    ) -> Result<Self, MeterError> {
        if let Some(p) = period {
            if since.is_some() || until.is_some() {
                return Err(MeterError::Invalid(
                    "Give either period or since/until, not both".into(),
                ));
            }
            let p = Period::parse(p).ok_or_else(|| {
                MeterError::Invalid(format!(
                    "Invalid period '{p}': use one of {}",
                    period::NAMES
                ))
            })?;
            let (first, last) = p.days(now);
            return Ok(Self {
                first,
                last: Some(last),
            });
        }
        let first = since.map(|s| date("since", s)).transpose()?;
        let last = until.map(|s| date("until", s)).transpose()?;
        if let (Some(f), Some(l)) = (first, last)
            && f > l
        {
            return Err(MeterError::Invalid(format!("since {f} is after until {l}")));
        }
        Ok(Self { first, last })
    }

    /// `[start, end)` in Unix seconds; 0 and a far end for open sides.
    pub fn bounds(&self, tz: &TimeZone) -> (i64, i64) {
        let start = self.first.map(|d| period::day_start(d, tz)).unwrap_or(0);
        let end = self
            .last
            .and_then(|d| d.tomorrow().ok())
            .map(|d| period::day_start(d, tz))
            .unwrap_or(i64::MAX / 4);
        (start, end)
    }

    pub fn contains(&self, ts: i64, tz: &TimeZone) -> bool {
        let Some(d) = period::local_date(ts, tz) else {
            return false;
        };
        self.first.is_none_or(|f| d >= f) && self.last.is_none_or(|l| d <= l)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Daily,
    Weekly,
    Monthly,
    Session,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "daily" => Self::Daily,
            "weekly" => Self::Weekly,
            "monthly" => Self::Monthly,
            "session" | "sessions" => Self::Session,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
            Self::Session => "session",
        }
    }
}

#[derive(Debug, Default)]
pub struct ReportQuery {
    pub scope: Scope,
    /// Weeks start on `monday` (default) or `sunday` (as ccusage's default).
    pub week_start: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ModelUse {
    pub model: String,
    pub tokens: Tokens,
    pub total_tokens: u64,
    pub cost_usd: f64,
    pub priced: bool,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Key {
    Date {
        date: String,
    },
    Week {
        week: String,
    },
    Month {
        month: String,
    },
    Session {
        session_id: String,
        profile: String,
        first_activity: Option<String>,
        last_activity: Option<String>,
    },
}

#[derive(Debug, Serialize)]
pub struct Row {
    #[serde(flatten)]
    pub key: Key,
    pub tokens: Tokens,
    pub total_tokens: u64,
    pub cost_usd: f64,
    pub models: Vec<String>,
    pub breakdown: Vec<ModelUse>,
}

#[derive(Debug, Serialize)]
pub struct Totals {
    pub tokens: Tokens,
    pub total_tokens: u64,
    pub cost_usd: f64,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub report: &'static str,
    pub time_zone: String,
    pub since: Option<String>,
    pub until: Option<String>,
    pub profiles: Option<Vec<String>>,
    pub rows: Vec<Row>,
    pub totals: Totals,
    pub unpriced_models: Vec<String>,
}

/// One row being summed: per model, tokens and cost.
#[derive(Default)]
struct Acc {
    models: Vec<(String, Tokens, ExactCost, bool)>,
    first: Option<i64>,
    last: Option<i64>,
}

impl Acc {
    fn add(&mut self, model: &str, t: &Tokens, c: ExactCost, priced: bool) {
        match self.models.iter_mut().find(|m| m.0 == model) {
            Some(m) => {
                m.1.add(t);
                m.2.add(&c);
            }
            None => self.models.push((model.to_string(), *t, c, priced)),
        }
    }

    fn row(mut self, key: Key) -> Row {
        // A model with no tokens (Claude Code's `<synthetic>` error lines) is no usage.
        self.models.retain(|m| m.1.total() > 0);
        self.models
            .sort_by(|a, b| (b.2.usd().total_cost).total_cmp(&a.2.usd().total_cost));
        let mut tokens = Tokens::default();
        let mut cost = ExactCost::default();
        for m in &self.models {
            tokens.add(&m.1);
            cost.add(&m.2);
        }
        Row {
            key,
            total_tokens: tokens.total(),
            tokens,
            cost_usd: cost.usd().total_cost,
            models: self.models.iter().map(|m| m.0.clone()).collect(),
            breakdown: self
                .models
                .into_iter()
                .map(|(model, tokens, cost, priced)| ModelUse {
                    model,
                    total_tokens: tokens.total(),
                    tokens,
                    cost_usd: cost.usd().total_cost,
                    priced,
                })
                .collect(),
        }
    }
}

fn iso(ts: i64) -> Option<String> {
    jiff::Timestamp::from_second(ts)
        .ok()
        .map(crate::time::rfc3339)
}

/// The bucket a day falls in for `kind`.
fn bucket(kind: Kind, day: &str, sunday: bool) -> String {
    match kind {
        Kind::Monthly => day.get(..7).unwrap_or(day).to_string(),
        Kind::Weekly => match day.parse::<Date>() {
            Ok(d) => {
                let start = if sunday {
                    Weekday::Sunday
                } else {
                    Weekday::Monday
                };
                let back = i64::from(d.weekday().since(start));
                d.checked_sub(jiff::Span::new().days(back))
                    .unwrap_or(d)
                    .to_string()
            }
            Err(_) => day.to_string(),
        },
        _ => day.to_string(),
    }
}

impl Meter {
    pub async fn report(&self, kind: Kind, q: ReportQuery) -> Result<Report, MeterError> {
        let now = jiff::Zoned::now();
        let range = q.scope.range(&now)?;
        let sunday = match q.week_start.as_deref() {
            None | Some("monday") => false,
            Some("sunday") => true,
            Some(other) => {
                return Err(MeterError::Invalid(format!(
                    "Invalid week_start '{other}': use monday or sunday"
                )));
            }
        };
        let profiles = self.select(&q.scope).await?;
        let catalogue = self.inner.catalogue.get();
        let tz = now.time_zone().clone();
        let today = now.date();
        let filter = profiles.clone();
        let (rows, unpriced) = self
            .store()
            .read(move |c| {
                let mut prices = Prices::new(&catalogue);
                let mut order: Vec<String> = Vec::new();
                let mut accs: HashMap<String, Acc> = HashMap::new();
                let wanted = |p: &str| filter.as_ref().is_none_or(|f| f.iter().any(|x| x == p));
                let mut rows = Vec::new();
                if kind == Kind::Session {
                    let (start, end) = range.bounds(&tz);
                    for (profile, session, model, t, _, first, last) in
                        events::sessions(c, filter.as_deref(), start, end)?
                    {
                        let key = format!("{profile}\u{0}{session}");
                        let cost = prices.cost(&model, &t);
                        let priced = prices.get(&model).is_some();
                        let acc = accs.entry(key.clone()).or_insert_with(|| {
                            order.push(key);
                            Acc::default()
                        });
                        acc.add(&model, &t, cost, priced);
                        acc.first = Some(acc.first.map_or(first, |f| f.min(first)));
                        acc.last = Some(acc.last.map_or(last, |l| l.max(last)));
                    }
                    for key in order {
                        if let Some(acc) = accs.remove(&key) {
                            let (profile, session) = key.split_once('\u{0}').unwrap_or(("", &key));
                            let (first, last) = (acc.first, acc.last);
                            rows.push(acc.row(Key::Session {
                                session_id: session.to_string(),
                                profile: profile.to_string(),
                                first_activity: first.and_then(iso),
                                last_activity: last.and_then(iso),
                            }));
                        }
                    }
                    rows.sort_by(|a: &Row, b: &Row| match (&a.key, &b.key) {
                        (
                            Key::Session {
                                last_activity: x, ..
                            },
                            Key::Session {
                                last_activity: y, ..
                            },
                        ) => x.cmp(y),
                        _ => std::cmp::Ordering::Equal,
                    });
                } else {
                    let first = range.first.map(|d| d.to_string());
                    let last = range.last.unwrap_or(today).to_string();
                    daily::fold(
                        c,
                        first.as_deref(),
                        &last,
                        None,
                        None,
                        |day, profile, model, row| {
                            if !wanted(profile) {
                                return;
                            }
                            let t = row.tokens;
                            let key = bucket(kind, day, sunday);
                            let cost = prices.cost_row(model, &row);
                            let priced = prices.get(model).is_some();
                            if order.last() != Some(&key) && !accs.contains_key(&key) {
                                order.push(key.clone());
                            }
                            accs.entry(key).or_default().add(model, &t, cost, priced);
                        },
                    )?;
                    for key in order {
                        if let Some(acc) = accs.remove(&key) {
                            rows.push(acc.row(match kind {
                                Kind::Weekly => Key::Week { week: key },
                                Kind::Monthly => Key::Month { month: key },
                                _ => Key::Date { date: key },
                            }));
                        }
                    }
                }
                Ok((rows, prices.unpriced()))
            })
            .await?;
        let mut tokens = Tokens::default();
        let mut cost = 0.0;
        for r in &rows {
            tokens.add(&r.tokens);
            cost += r.cost_usd;
        }
        Ok(Report {
            report: kind.name(),
            time_zone: now.time_zone().iana_name().unwrap_or("local").to_string(),
            since: range.first.map(|d| d.to_string()),
            until: range.last.map(|d| d.to_string()),
            profiles,
            rows,
            totals: Totals {
                total_tokens: tokens.total(),
                tokens,
                cost_usd: cost,
            },
            unpriced_models: unpriced,
        })
    }
}
