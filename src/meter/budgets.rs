//! Budgets: set, list, remove, and their evaluation. An evaluation sums the day's and the
//! month's costs per profile from the daily rollup, reads each profile's latest limit
//! snapshot for the windows, announces each threshold reached once per budget period
//! (`budget_alert`, remembered in the store), announces changes of level
//! (`budgets_updated`), and hands the hard stops in force to the proxies.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::json;

use super::{Meter, MeterError, Prices};
use crate::proxy::control::Stop;
use crate::store::{budgets as db, daily, limits as limits_db, profiles as profiles_db};
use crate::usage::budget::{self, ALL, Budget, BudgetState, Period, WindowUse};
use crate::usage::limits;

/// What an evaluation reads: per profile the day's and the month's spending, per
/// profile the windows, the budgets and the profiles.
struct Inputs {
    budgets: Vec<Budget>,
    spent: HashMap<String, (f64, f64)>,
    windows: HashMap<String, Vec<limits::WindowState>>,
    profiles: Vec<String>,
}

fn next_start(p: Period, now: &jiff::Zoned) -> i64 {
    let (_, _, last) = p.span(now);
    last.tomorrow()
        .map(|d| crate::time::day_start(d, now.time_zone()))
        .unwrap_or(i64::MAX / 4)
}

fn window_use(
    b: &Budget,
    windows: &HashMap<String, Vec<limits::WindowState>>,
) -> Option<WindowUse> {
    let name = b.window?.as_str();
    windows
        .iter()
        .filter(|(p, _)| b.covers(p))
        .flat_map(|(_, ws)| ws.iter().filter(|w| w.window == name))
        .filter_map(|w| {
            Some(WindowUse {
                used_percent: w.used_percentage?,
                resets_at: w.reset,
            })
        })
        .max_by(|a, b| a.used_percent.total_cmp(&b.used_percent))
}

/// The stop a state asks for, for the agents of the profiles it covers.
fn stop_of(s: &BudgetState, now: i64) -> Stop {
    let window = s.binding == "window";
    Stop {
        kind: if window { "window" } else { "usd" }.into(),
        message: budget::stop_message(s),
        retry_after_secs: s
            .window_resets_at
            .as_deref()
            .filter(|_| window)
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| (t.as_second() - now).max(1) as u64),
    }
}

impl Meter {
    /// Checks a budget's scope: `@all`, a profile, or an agent's pseudo-profile.
    async fn check_scope(&self, scope: &str) -> Result<(), MeterError> {
        if scope == ALL {
            return Ok(());
        }
        if let Some(agent) = scope.strip_prefix('@') {
            return match self.inner.catalogue.get().agent(agent) {
                Some(_) => Ok(()),
                None => Err(MeterError::Invalid(format!(
                    "Invalid scope '{scope}': use a profile, @all, or @<agent> for an agent's data outside any profile"
                ))),
            };
        }
        let s = scope.to_string();
        match self.store().read(move |c| profiles_db::get(c, &s)).await? {
            Some(_) => Ok(()),
            None => Err(MeterError::NotFound(format!("Profile '{scope}' not found"))),
        }
    }

    pub async fn set_budget(&self, b: Budget) -> Result<(BudgetState, bool), MeterError> {
        b.validate().map_err(MeterError::Invalid)?;
        self.check_scope(&b.scope).await?;
        let now = crate::time::now_rfc3339();
        let stored = b.clone();
        let existed = self
            .store()
            .call(move |c| db::put(c, &stored, &now))
            .await?;
        let states = self.evaluate().await?;
        let state = states
            .into_iter()
            .find(|s| s.budget.scope == b.scope && s.budget.period == b.period)
            .ok_or_else(|| MeterError::NotFound("the budget is gone".into()))?;
        Ok((state, !existed))
    }

    pub async fn remove_budget(&self, scope: &str, period: Period) -> Result<(), MeterError> {
        let s = scope.to_string();
        let removed = self
            .store()
            .call(move |c| db::remove(c, &s, period))
            .await?;
        if !removed {
            return Err(MeterError::NotFound(format!(
                "No {} budget for '{scope}'",
                period.as_str()
            )));
        }
        self.evaluate().await?;
        Ok(())
    }

    /// The budgets' states as last evaluated.
    pub fn budget_states(&self) -> Vec<BudgetState> {
        self.inner
            .budgets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn inputs(&self, now: &jiff::Zoned) -> Result<Inputs, MeterError> {
        let catalogue = self.inner.catalogue.get();
        let today = now.date().to_string();
        let month_start = now.date().first_of_month().to_string();
        let ts = now.timestamp().as_second();
        Ok(self
            .store()
            .read(move |c| {
                let budgets = db::list(c)?;
                let mut spent: HashMap<String, (f64, f64)> = HashMap::new();
                if !budgets.is_empty() {
                    let mut prices = Prices::new(&catalogue);
                    let mut exact: HashMap<
                        String,
                        (
                            crate::usage::pricing::ExactCost,
                            crate::usage::pricing::ExactCost,
                        ),
                    > = HashMap::new();
                    daily::fold(
                        c,
                        Some(&month_start),
                        &today,
                        None,
                        None,
                        |day, p, m, row| {
                            let cost = prices.cost_row(m, &row);
                            let slot = match exact.get_mut(p) {
                                Some(s) => s,
                                None => exact.entry(p.to_string()).or_default(),
                            };
                            slot.1.add(&cost);
                            if day == today {
                                slot.0.add(&cost);
                            }
                        },
                    )?;
                    spent = exact
                        .into_iter()
                        .map(|(p, (d, m))| (p, (d.usd().total_cost, m.usd().total_cost)))
                        .collect();
                }
                let windows = limits_db::latest_all(c)?
                    .iter()
                    .map(|row| (row.snapshot.profile.clone(), limits::windows(row, ts)))
                    .collect();
                let profiles = profiles_db::list(c, None)?
                    .into_iter()
                    .map(|p| p.alias)
                    .collect();
                Ok(Inputs {
                    budgets,
                    spent,
                    windows,
                    profiles,
                })
            })
            .await?)
    }

    /// Evaluates every budget now: alerts, level changes, stops.
    pub async fn evaluate(&self) -> Result<Vec<BudgetState>, MeterError> {
        let _one = self.inner.evaluating.lock().await;
        let now = jiff::Zoned::now();
        let ts = now.timestamp().as_second();
        let inputs = self.inputs(&now).await?;
        let mut states = Vec::new();
        for b in &inputs.budgets {
            let (period_id, _, _) = b.period.span(&now);
            // (+ 0.0: an empty sum is -0.0.)
            let spent = 0.0
                + inputs
                    .spent
                    .iter()
                    .filter(|(p, _)| b.covers(p))
                    .map(|(_, (day, month))| match b.period {
                        Period::Daily => day,
                        Period::Monthly => month,
                    })
                    .sum::<f64>();
            let window = window_use(b, &inputs.windows);
            states.push(budget::evaluate(
                b,
                spent,
                window,
                period_id,
                next_start(b.period, &now),
            ));
        }
        for s in &states {
            for threshold in budget::reached(s.used_percent) {
                let (b, period_id) = (s.budget.clone(), s.period_id.clone());
                let first = self
                    .store()
                    .call(move |c| db::alert_once(c, &b, &period_id, threshold, ts))
                    .await?;
                if first {
                    tracing::warn!(
                        "{} reached {threshold} % ({:.1} %)",
                        s.budget.label(),
                        s.used_percent
                    );
                    self.inner.events.publish(
                        "budget_alert",
                        json!({"threshold": threshold, "message": format!("{} reached {threshold} %", s.budget.label()), "budget": s}),
                    );
                }
            }
        }
        // The stops in force, per profile (the first budget that stops it names itself).
        let mut stops: BTreeMap<String, Stop> = BTreeMap::new();
        for s in states.iter().filter(|s| s.stopped) {
            let stop = stop_of(s, ts);
            let covered: Vec<String> = if s.budget.scope == ALL {
                inputs.profiles.clone()
            } else {
                vec![s.budget.scope.clone()]
            };
            for p in covered {
                stops.entry(p).or_insert_with(|| stop.clone());
            }
        }
        self.inner.stops.send_if_modified(|current| {
            if **current == stops {
                return false;
            }
            *current = Arc::new(stops);
            true
        });
        let changed = {
            let mut cached = self
                .inner
                .budgets
                .write()
                .unwrap_or_else(|p| p.into_inner());
            let key = |v: &[BudgetState]| {
                v.iter()
                    .map(|s| (s.budget.clone(), s.level, s.stopped))
                    .collect::<Vec<_>>()
            };
            let changed = key(&cached) != key(&states);
            *cached = states.clone();
            changed
        };
        if changed {
            self.inner
                .events
                .publish("budgets_updated", json!({"budgets": states}));
        }
        Ok(states)
    }
}
