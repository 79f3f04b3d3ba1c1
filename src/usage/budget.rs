//! Budgets: what may be spent per profile (or over all of them, scope `@all`) per day or
//! per calendar month, in US dollars and/or as a share of a provider's rate-limit window
//! (the five-hour or seven-day window of a subscription, as its `unified` limits say).
//!
//! A budget's use is the larger of the two shares (spent / limit, window used / allowed);
//! at 80 %, 95 % and 100 % it is announced, once per budget period. A budget with a hard
//! stop at 100 % or more stops the proxies of the profiles it covers until its period (or
//! the window) starts over.

use serde::Serialize;

/// The thresholds announced, in percent of the budget.
pub const THRESHOLDS: [u32; 3] = [80, 95, 100];

pub use crate::records::budget::{ALL, Budget, Period, Window};

/// What a provider's window says now: the share used (percent) and when it starts over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowUse {
    pub used_percent: f64,
    pub resets_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BudgetState {
    #[serde(flatten)]
    pub budget: Budget,
    /// The budget period (`2026-03-14`, `2026-03`) and when the next one starts.
    pub period_id: String,
    pub resets_at: String,
    pub spent_usd: f64,
    pub usd_percent: Option<f64>,
    pub window_used_percent: Option<f64>,
    pub window_resets_at: Option<String>,
    pub window_share_percent: Option<f64>,
    /// The larger of the two shares, in percent of the budget.
    pub used_percent: f64,
    /// `ok`, `warning` (80 %), `critical` (95 %) or `exceeded` (100 %).
    pub level: &'static str,
    /// A hard stop is in force.
    pub stopped: bool,
    /// Which limit binds: `usd` or `window`.
    pub binding: &'static str,
}

fn iso(ts: i64) -> Option<String> {
    jiff::Timestamp::from_second(ts)
        .ok()
        .map(crate::time::rfc3339)
}

/// The budget's state, given what was spent in its period and its window's use.
pub fn evaluate(
    b: &Budget,
    spent_usd: f64,
    window: Option<WindowUse>,
    period_id: String,
    resets_at: i64,
) -> BudgetState {
    let usd_percent = b.limit_usd.map(|l| spent_usd / l * 100.0);
    let window_share = match (b.window_percent, window) {
        (Some(allowed), Some(w)) => Some(w.used_percent / allowed * 100.0),
        (Some(_), None) => Some(0.0),
        _ => None,
    };
    let (used, binding) = match (usd_percent, window_share) {
        (Some(u), Some(w)) if w > u => (w, "window"),
        (Some(u), _) => (u, "usd"),
        (None, Some(w)) => (w, "window"),
        (None, None) => (0.0, "usd"),
    };
    let level = match used {
        u if u >= 100.0 => "exceeded",
        u if u >= 95.0 => "critical",
        u if u >= 80.0 => "warning",
        _ => "ok",
    };
    BudgetState {
        budget: b.clone(),
        period_id,
        resets_at: iso(resets_at).unwrap_or_default(),
        spent_usd,
        usd_percent,
        window_used_percent: window
            .filter(|_| b.window.is_some())
            .map(|w| w.used_percent),
        window_resets_at: window
            .filter(|_| b.window.is_some())
            .and_then(|w| w.resets_at)
            .and_then(iso),
        window_share_percent: window_share,
        used_percent: used,
        level,
        stopped: b.hard_stop && used >= 100.0,
        binding,
    }
}

/// The thresholds `used` has reached.
pub fn reached(used_percent: f64) -> impl Iterator<Item = u32> {
    THRESHOLDS
        .into_iter()
        .filter(move |t| used_percent >= f64::from(*t))
}

/// The message an agent gets when a hard stop refuses its request.
pub fn stop_message(s: &BudgetState) -> String {
    let b = &s.budget;
    let what = match (s.binding, b.limit_usd) {
        ("usd", Some(limit)) => format!(
            "${:.2} of ${limit:.2} spent ({} {})",
            s.spent_usd,
            match b.period {
                Period::Daily => "day",
                Period::Monthly => "month",
            },
            s.period_id
        ),
        _ => format!(
            "{:.1} % of the {} window used, {:.0} % allowed",
            s.window_used_percent.unwrap_or(0.0),
            b.window.map(Window::as_str).unwrap_or("provider"),
            b.window_percent.unwrap_or(0.0)
        ),
    };
    let until = match s.binding {
        "window" => s.window_resets_at.clone(),
        _ => Some(s.resets_at.clone()),
    }
    .map(|t| format!("; it resets at {t}"))
    .unwrap_or_default();
    format!(
        "clown: {} is used up: {what}{until}. Raise it with 'clown budget set' or remove its hard stop.",
        b.label()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(usd: Option<f64>, window: Option<f64>) -> Budget {
        Budget {
            scope: "work".into(),
            period: Period::Daily,
            limit_usd: usd,
            window: window.map(|_| Window::FiveHour),
            window_percent: window,
            hard_stop: true,
        }
    }

    #[test]
    fn validation() {
        assert!(budget(Some(10.0), None).validate().is_ok());
        assert!(budget(None, Some(50.0)).validate().is_ok());
        assert!(budget(None, None).validate().is_err());
        assert!(budget(Some(-1.0), None).validate().is_err());
        assert!(budget(Some(f64::NAN), None).validate().is_err());
        assert!(budget(None, Some(120.0)).validate().is_err());
        let mut half = budget(None, Some(50.0));
        half.window = None;
        assert!(half.validate().unwrap_err().contains("together"));
    }

    #[test]
    fn the_larger_share_binds() {
        let w = WindowUse {
            used_percent: 45.0,
            resets_at: Some(1_800_000_000),
        };
        let s = evaluate(
            &budget(Some(10.0), Some(50.0)),
            8.5,
            Some(w),
            "2026-03-14".into(),
            0,
        );
        assert_eq!(s.binding, "window");
        assert!((s.used_percent - 90.0).abs() < 1e-9);
        assert_eq!(s.level, "warning");
        assert!(!s.stopped);
        let s = evaluate(
            &budget(Some(10.0), None),
            10.0,
            None,
            "2026-03-14".into(),
            0,
        );
        assert_eq!((s.level, s.stopped, s.binding), ("exceeded", true, "usd"));
        assert_eq!(reached(s.used_percent).collect::<Vec<_>>(), [80, 95, 100]);
        assert_eq!(reached(94.9).collect::<Vec<_>>(), [80]);
        let m = stop_message(&s);
        assert!(
            m.contains("the daily budget of 'work'") && m.contains("$10.00 of $10.00"),
            "{m}"
        );
    }
}
