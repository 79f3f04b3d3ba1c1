//! `/api/budgets`: list the budgets with their state, set one (`PUT
//! /api/budgets/{scope}/{period}`, scope a profile, `@all` or `@<agent>`, period `daily`
//! or `monthly`), remove one.

use axum::extract::{Path, State};
use serde::Deserialize;

use super::error::{ApiError, ApiResult, ok, ok_empty};
use super::extract::ApiJson;
use crate::app::AppState;
use crate::usage::budget::{Budget, Period, Window};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetBudget {
    #[serde(default)]
    limit_usd: Option<f64>,
    #[serde(default)]
    window: Option<String>,
    #[serde(default)]
    window_percent: Option<f64>,
    #[serde(default)]
    hard_stop: bool,
}

fn period(p: &str) -> Result<Period, ApiError> {
    Period::parse(p)
        .ok_or_else(|| ApiError::bad_request(format!("Invalid period '{p}': use daily or monthly")))
}

pub async fn list(State(state): State<AppState>) -> ApiResult {
    Ok(ok(state.meter().evaluate().await?))
}

pub async fn set(
    State(state): State<AppState>,
    Path((scope, p)): Path<(String, String)>,
    ApiJson(req): ApiJson<SetBudget>,
) -> ApiResult {
    let window = match req.window.as_deref() {
        None => None,
        Some(w) => Some(Window::parse(w).ok_or_else(|| {
            ApiError::bad_request(format!("Invalid window '{w}': use five_hour or seven_day"))
        })?),
    };
    let budget = Budget {
        scope,
        period: period(&p)?,
        limit_usd: req.limit_usd,
        window,
        window_percent: req.window_percent,
        hard_stop: req.hard_stop,
    };
    let (state_now, _created) = state.meter().set_budget(budget).await?;
    Ok(ok(state_now))
}

pub async fn remove(
    State(state): State<AppState>,
    Path((scope, p)): Path<(String, String)>,
) -> ApiResult {
    state.meter().remove_budget(&scope, period(&p)?).await?;
    Ok(ok_empty())
}
