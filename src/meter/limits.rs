//! `GET /api/usage/limits` and `clown usage limits`: per profile, the provider's limits as
//! last seen (by the proxy, or reported by the agent's status line), each window with its
//! use and the time until it starts over, and what the status line reported last.

use serde::Serialize;
use serde_json::Value;

use super::{Meter, MeterError};
use crate::store::limits as limits_db;
use crate::usage::limits::{self, WindowState};

#[derive(Debug, Serialize)]
pub struct ProfileLimits {
    pub profile: String,
    pub provider: String,
    /// `proxy` or `statusline`.
    pub source: String,
    pub observed_at: Value,
    pub status: Value,
    pub windows: Vec<WindowState>,
    pub api: Value,
    pub retry_after_secs: Value,
    /// What the profile's status line reported last (since the daemon started).
    pub statusline: Option<super::statusline::Reported>,
}

impl Meter {
    pub async fn limits(&self, profile: Option<String>) -> Result<Vec<ProfileLimits>, MeterError> {
        let now = jiff::Timestamp::now().as_second();
        let rows = self
            .store()
            .read(move |c| match &profile {
                Some(p) => Ok(limits_db::latest(c, p)?.into_iter().collect()),
                None => limits_db::latest_all(c),
            })
            .await?;
        let reported = self
            .inner
            .reported
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Ok(rows
            .iter()
            .map(|row| {
                let view = limits::view(row);
                ProfileLimits {
                    profile: row.snapshot.profile.clone(),
                    provider: row.snapshot.provider.clone(),
                    source: row.source.clone(),
                    observed_at: view["observed_at"].clone(),
                    status: view["unified"]["status"].clone(),
                    windows: limits::windows(row, now),
                    api: view["api"].clone(),
                    retry_after_secs: view["retry_after_secs"].clone(),
                    statusline: reported.get(&row.snapshot.profile).cloned(),
                }
            })
            .collect())
    }
}
