//! `POST /api/statusline`: the figures and the line for one profile's status line, from
//! the daily rollup (today's cost), the active block kept in memory, the latest limit
//! snapshot and the last budget evaluation — a few index lookups, never a scan of logs.
//!
//! The agent's input also reports: its `rate_limits` become the profile's limit snapshot
//! (source `statusline`) when the profile does not go through the proxy (whose headers
//! are the better source), written only when they changed or a minute passed; its
//! session (id, model, cost) is kept in memory and shown by `GET /api/usage/limits`.

use serde::Serialize;
use serde_json::{Value, json};

use super::{Meter, MeterError, Prices};
use crate::records::LimitSnapshot;
use crate::store::{daily, limits as limits_db, profiles as profiles_db};
use crate::usage::limits::{self, WindowState};
use crate::usage::statusline::{Figures, Input, line};

/// How often unchanged rate limits are written again (to move `last_seen`).
const REWRITE_SECS: i64 = 60;

/// What a profile's status line reported last.
#[derive(Debug, Clone, Serialize)]
pub struct Reported {
    pub at: String,
    pub session_id: Option<String>,
    pub model: Option<String>,
    pub session_cost_usd: Option<f64>,
    pub rate_limits: Option<Value>,
    /// When and what rate limits were last written to the store.
    #[serde(skip)]
    written: (i64, Option<Value>),
}

#[derive(Debug, Serialize)]
pub struct BlockBrief {
    pub cost_usd: f64,
    pub total_tokens: u64,
    pub start_time: String,
    pub end_time: String,
    pub remaining_secs: i64,
    pub cost_per_hour: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Status {
    pub line: String,
    pub profile: String,
    pub model: Option<String>,
    pub session_cost_usd: Option<f64>,
    pub today_cost_usd: f64,
    pub block: Option<BlockBrief>,
    pub windows: Vec<WindowState>,
    pub budgets: Vec<Value>,
}

impl Meter {
    pub async fn statusline(&self, profile: &str, body: &Value) -> Result<Status, MeterError> {
        let input = Input::from_json(body);
        let now = jiff::Zoned::now();
        let ts = now.timestamp().as_second();
        let today = now.date().to_string();
        let catalogue = self.inner.catalogue.get();
        let p = profile.to_string();
        let (row, today_cost, snapshot) = self
            .store()
            .read(move |c| {
                // A pseudo-profile (`@claude`) has no row; a profile must have one.
                let row = match p.starts_with('@') {
                    true => None,
                    false => Some(profiles_db::get(c, &p)?),
                };
                let mut prices = Prices::new(&catalogue);
                let mut cost = crate::usage::pricing::ExactCost::default();
                daily::fold(c, Some(&today), &today, Some(&p), None, |_, _, m, row| {
                    cost.add(&prices.cost_row(m, &row))
                })?;
                Ok((row, cost.usd().total_cost, limits_db::latest(c, &p)?))
            })
            .await?;
        let row = match row {
            Some(None) => {
                return Err(MeterError::NotFound(format!(
                    "Profile '{profile}' not found"
                )));
            }
            Some(r) => r,
            None => None,
        };
        let proxied = row
            .as_ref()
            .is_some_and(|r| crate::profiles::proxy_settings(r).enabled);
        let mut snapshot = snapshot;
        self.remember(profile, &input);
        if !proxied && let Some(rl) = &input.rate_limits {
            let provider = row
                .as_ref()
                .map_or("anthropic".to_string(), |r| r.provider_id.clone());
            if let Some(s) = self.report_limits(profile, &provider, rl, ts).await? {
                snapshot = Some(s);
            }
        }
        let block = self.active_block(profile).await?;
        let windows = snapshot
            .as_ref()
            .map(|s| limits::windows(s, ts))
            .unwrap_or_default();
        let budgets: Vec<_> = self
            .budget_states()
            .into_iter()
            .filter(|s| s.budget.covers(profile))
            .collect();
        let top = budgets
            .iter()
            .max_by(|a, b| a.used_percent.total_cmp(&b.used_percent))
            .map(|s| {
                let label = if s.budget.scope == crate::usage::budget::ALL {
                    format!("{} (all)", s.budget.period.as_str())
                } else {
                    s.budget.period.as_str().to_string()
                };
                (label, s.used_percent, s.stopped)
            });
        let figures = Figures {
            profile: profile.to_string(),
            model: input.model.clone(),
            session_cost_usd: input.session_cost_usd,
            today_cost_usd: today_cost,
            block: block.as_ref().map(|b| (b.cost_usd, b.end - ts)),
            windows: ["five_hour", "seven_day"]
                .iter()
                .zip(["5h", "7d"])
                .filter_map(|(name, short)| {
                    let w = windows.iter().find(|w| w.window == *name)?;
                    Some((short, w.used_percentage?))
                })
                .collect(),
            budget: top,
        };
        Ok(Status {
            line: line(&figures),
            profile: profile.to_string(),
            model: input.model,
            session_cost_usd: input.session_cost_usd,
            today_cost_usd: today_cost,
            block: block.map(|b| BlockBrief {
                cost_usd: b.cost_usd,
                total_tokens: b.total_tokens,
                remaining_secs: (b.end - ts).max(0),
                start_time: b.start_time,
                end_time: b.end_time,
                cost_per_hour: b.burn_rate.map(|r| r.cost_per_hour),
            }),
            windows,
            budgets: budgets
                .iter()
                .map(|s| json!({"scope": s.budget.scope, "period": s.budget.period, "used_percent": s.used_percent, "level": s.level, "stopped": s.stopped}))
                .collect(),
        })
    }

    fn remember(&self, profile: &str, input: &Input) {
        let mut reported = self
            .inner
            .reported
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let written = reported
            .get(profile)
            .map_or((0, None), |r| r.written.clone());
        if reported.len() > 1024 && !reported.contains_key(profile) {
            reported.clear();
        }
        reported.insert(
            profile.to_string(),
            Reported {
                at: crate::time::now_rfc3339(),
                session_id: input.session_id.clone(),
                model: input.model.clone(),
                session_cost_usd: input.session_cost_usd,
                rate_limits: input.rate_limits.clone(),
                written,
            },
        );
    }

    /// Records the rate limits a status line reported, when they changed (or a minute
    /// passed); returns the stored row when one was written.
    async fn report_limits(
        &self,
        profile: &str,
        provider: &str,
        rate_limits: &Value,
        ts: i64,
    ) -> Result<Option<limits_db::LimitRow>, MeterError> {
        let headers = limits::headers_from_rate_limits(rate_limits);
        if headers.is_empty() {
            return Ok(None);
        }
        {
            let reported = self
                .inner
                .reported
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some(r) = reported.get(profile)
                && r.written.1.as_ref() == Some(rate_limits)
                && ts - r.written.0 < REWRITE_SECS
            {
                return Ok(None);
            }
        }
        let snapshot = LimitSnapshot {
            profile: profile.to_string(),
            provider: provider.to_string(),
            ts,
            http_status: 200,
            headers,
        };
        snapshot.validate().map_err(MeterError::Invalid)?;
        let p = profile.to_string();
        let (changed, row) = self
            .store()
            .call(move |c| {
                let changed = limits_db::record(c, &[snapshot], limits_db::FROM_STATUSLINE)?;
                Ok((!changed.is_empty(), limits_db::latest(c, &p)?))
            })
            .await?;
        if let Some(r) = self
            .inner
            .reported
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(profile)
        {
            r.written = (ts, Some(rate_limits.clone()));
        }
        if changed && let Some(row) = &row {
            self.inner.events.publish(
                "limits_updated",
                json!({"profile": profile, "limits": limits::view(row)}),
            );
        }
        Ok(row)
    }
}
