//! The status line: what an agent's status-line input says (Claude Code writes a JSON
//! object to the command's stdin: `session_id`, `model.display_name`, `cost.total_cost_usd`,
//! `rate_limits.five_hour|seven_day.{used_percentage,resets_at}`, `effort.level`, …), and
//! the one line printed from it and the daemon's figures:
//!
//! `work | Sonnet 4 (high) | $0.12 session / $0.08 today / $0.08 block (2h 25m left) | 5h 24% 7d 41% | daily budget 21%`

use serde_json::Value;

/// What is taken from the agent's input (anything missing is left out of the line).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Input {
    pub session_id: Option<String>,
    pub model: Option<String>,
    pub session_cost_usd: Option<f64>,
    pub rate_limits: Option<Value>,
}

fn text(v: &Value, max: usize) -> Option<String> {
    v.as_str()
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().filter(|c| !c.is_control()).take(max).collect())
}

impl Input {
    pub fn from_json(v: &Value) -> Self {
        let model = text(&v["model"]["display_name"], 64).or_else(|| text(&v["model"]["id"], 64));
        let effort = text(&v["effort"]["level"], 16);
        Self {
            session_id: text(&v["session_id"], 128),
            model: match (model, effort) {
                (Some(m), Some(e)) => Some(format!("{m} ({e})")),
                (m, _) => m,
            },
            session_cost_usd: v["cost"]["total_cost_usd"]
                .as_f64()
                .filter(|c| c.is_finite() && *c >= 0.0),
            rate_limits: v.get("rate_limits").filter(|r| r.is_object()).cloned(),
        }
    }
}

/// The figures the line shows.
#[derive(Debug, Default, Clone)]
pub struct Figures {
    pub profile: String,
    pub model: Option<String>,
    pub session_cost_usd: Option<f64>,
    pub today_cost_usd: f64,
    /// The active block's cost and seconds left.
    pub block: Option<(f64, i64)>,
    /// (`5h`/`7d`, used percent).
    pub windows: Vec<(&'static str, f64)>,
    /// The most used budget covering the profile: label, used percent, stopped.
    pub budget: Option<(String, f64, bool)>,
}

pub fn usd(x: f64) -> String {
    format!("${x:.2}")
}

/// `2h 25m`, `45m`, `5d 10h`.
pub fn left(secs: i64) -> String {
    let m = (secs.max(0) + 59) / 60;
    if m >= 24 * 60 {
        format!("{}d {}h", m / (24 * 60), m % (24 * 60) / 60)
    } else if m >= 60 {
        format!("{}h {}m", m / 60, m % 60)
    } else {
        format!("{m}m")
    }
}

pub fn line(f: &Figures) -> String {
    let mut parts = vec![f.profile.clone()];
    if let Some(m) = &f.model {
        parts.push(m.clone());
    }
    let mut costs = Vec::new();
    if let Some(s) = f.session_cost_usd {
        costs.push(format!("{} session", usd(s)));
    }
    costs.push(format!("{} today", usd(f.today_cost_usd)));
    costs.push(match f.block {
        Some((cost, secs)) => format!("{} block ({} left)", usd(cost), left(secs)),
        None => "no active block".into(),
    });
    parts.push(costs.join(" / "));
    if !f.windows.is_empty() {
        parts.push(
            f.windows
                .iter()
                .map(|(w, p)| format!("{w} {p:.0}%"))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    if let Some((label, used, stopped)) = &f.budget {
        parts.push(match (*stopped, *used) {
            (true, _) => format!("{label} budget STOPPED"),
            (false, u) if u >= 100.0 => format!("{label} budget {u:.0}% exceeded"),
            (false, u) if u >= 80.0 => format!("{label} budget {u:.0}% !"),
            (false, u) => format!("{label} budget {u:.0}%"),
        });
    }
    parts.join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claude_codes_input_and_the_line() {
        let v = json!({"session_id": "s-1", "model": {"id": "claude-sonnet-4-20250514", "display_name": "Sonnet 4"},
            "effort": {"level": "high"}, "cost": {"total_cost_usd": 0.1234},
            "rate_limits": {"five_hour": {"used_percentage": 23.5, "resets_at": 1795932000}}});
        let i = Input::from_json(&v);
        assert_eq!(i.model.as_deref(), Some("Sonnet 4 (high)"));
        assert_eq!(i.session_cost_usd, Some(0.1234));
        assert!(i.rate_limits.is_some());
        let f = Figures {
            profile: "work".into(),
            model: i.model,
            session_cost_usd: i.session_cost_usd,
            today_cost_usd: 0.08,
            block: Some((0.08, 2 * 3600 + 25 * 60)),
            windows: vec![("5h", 23.5), ("7d", 41.2)],
            budget: Some(("daily".into(), 96.0, false)),
        };
        assert_eq!(
            line(&f),
            "work | Sonnet 4 (high) | $0.12 session / $0.08 today / $0.08 block (2h 25m left) | 5h 24% 7d 41% | daily budget 96% !"
        );
        let bare = Figures {
            profile: "@claude".into(),
            ..Default::default()
        };
        assert_eq!(line(&bare), "@claude | $0.00 today / no active block");
        assert_eq!(Input::from_json(&json!(null)), Input::default());
    }
}
