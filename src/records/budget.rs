//! A budget as it is stored and set: its scope (a profile or `@all`), period, limits and
//! whether it stops the proxies; its rules live in `crate::usage::budget`.

use serde::{Deserialize, Serialize};

/// The scope of a budget over every profile.
pub const ALL: &str = "@all";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Daily,
    Monthly,
}

impl Period {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "daily" | "day" => Some(Self::Daily),
            "monthly" | "month" => Some(Self::Monthly),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::Monthly => "monthly",
        }
    }

    /// The period's id as of `now` (`2026-03-14` or `2026-03`), and its first and last
    /// local day.
    pub fn span(self, now: &jiff::Zoned) -> (String, jiff::civil::Date, jiff::civil::Date) {
        let today = now.date();
        match self {
            Self::Daily => (today.to_string(), today, today),
            Self::Monthly => (
                format!("{:04}-{:02}", today.year(), today.month()),
                today.first_of_month(),
                today.last_of_month(),
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    FiveHour,
    SevenDay,
}

impl Window {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "five_hour" | "5h" => Some(Self::FiveHour),
            "seven_day" | "7d" => Some(Self::SevenDay),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FiveHour => "five_hour",
            Self::SevenDay => "seven_day",
        }
    }

    /// The window's part of Anthropic's `anthropic-ratelimit-unified-<w>-*` headers.
    pub fn header(self) -> &'static str {
        match self {
            Self::FiveHour => "5h",
            Self::SevenDay => "7d",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// A profile (or a pseudo-profile such as `@claude`), or `@all`.
    pub scope: String,
    pub period: Period,
    pub limit_usd: Option<f64>,
    pub window: Option<Window>,
    /// The share of the window this budget allows, in percent.
    pub window_percent: Option<f64>,
    /// Stop the covered profiles' proxies at 100 %.
    pub hard_stop: bool,
}

impl Budget {
    /// Amounts positive and bounded, a window share between 0 and 100, at least one limit.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(usd) = self.limit_usd
            && !(usd.is_finite() && usd > 0.0 && usd <= 1e9)
        {
            return Err("limit_usd must be a positive amount (at most 1e9)".into());
        }
        match (self.window, self.window_percent) {
            (Some(_), Some(p)) if p.is_finite() && p > 0.0 && p <= 100.0 => {}
            (Some(_), Some(_)) => {
                return Err("window_percent must be above 0 and at most 100".into());
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err("window and window_percent go together".into());
            }
            (None, None) => {}
        }
        if self.limit_usd.is_none() && self.window.is_none() {
            return Err("a budget needs limit_usd, or window and window_percent".into());
        }
        Ok(())
    }

    /// How messages name it: `the daily budget of 'work'`, `the monthly budget of all profiles`.
    pub fn label(&self) -> String {
        let whose = if self.scope == ALL {
            "all profiles".to_string()
        } else {
            format!("'{}'", self.scope)
        };
        format!("the {} budget of {whose}", self.period.as_str())
    }

    pub fn covers(&self, profile: &str) -> bool {
        self.scope == ALL || self.scope == profile
    }
}
