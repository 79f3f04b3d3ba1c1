//! What a provider's rate-limit headers say, read from a stored snapshot
//! (`crate::store::limits`): the shape `GET /api/profiles/{alias}/limits`, the profile's
//! detail and the `limits_updated` event show.
//!
//! Anthropic's subscription limits (`anthropic-ratelimit-unified-*`): the overall
//! `status` (allowed, allowed_warning, rejected), `reset`, `representative-claim` (which
//! window binds), `fallback-percentage`, and per window (`5h`, `7d`, `overage`, …) its
//! `status`, `utilization` (0–1), `reset` (Unix seconds) and `surpassed-threshold`. The
//! windows `5h` and `7d` are named `five_hour` and `seven_day`, as Claude Code's status
//! line names them. API-key limits (`anthropic-ratelimit-requests-limit`, OpenAI's
//! `x-ratelimit-remaining-tokens`, …) go under `api` by kind; `retry-after` (seconds) is
//! `retry_after_secs`. The raw headers are kept beside.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::store::limits::LimitRow;

const UNIFIED: &str = "anthropic-ratelimit-unified-";
const TOP_LEVEL: &[&str] = &[
    "status",
    "reset",
    "representative-claim",
    "fallback-percentage",
    "fallback",
];
const WINDOW_FIELDS: &[&str] = &["utilization", "reset", "status", "surpassed-threshold"];

fn iso(secs: i64) -> Value {
    jiff::Timestamp::from_second(secs)
        .map(|t| json!(crate::time::rfc3339(t)))
        .unwrap_or(Value::Null)
}

fn window_name(w: &str) -> String {
    match w {
        "5h" => "five_hour".into(),
        "7d" => "seven_day".into(),
        other => other.replace('-', "_"),
    }
}

/// A header value as a number when it is one, else the string.
fn typed(field: &str, value: &str) -> Value {
    if let Ok(n) = value.parse::<i64>() {
        return json!(n);
    }
    if field != "status"
        && let Ok(f) = value.parse::<f64>()
        && f.is_finite()
    {
        return json!(f);
    }
    json!(value)
}

fn unified(headers: &BTreeMap<String, String>) -> Value {
    let mut top = Map::new();
    let mut windows: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for (name, value) in headers {
        let Some(rest) = name.strip_prefix(UNIFIED) else {
            continue;
        };
        if TOP_LEVEL.contains(&rest) {
            let key = rest.replace('-', "_");
            if rest == "reset"
                && let Ok(secs) = value.parse::<i64>()
            {
                top.insert("resets_at".into(), iso(secs));
            }
            top.insert(key, typed(rest, value));
            continue;
        }
        let split = WINDOW_FIELDS.iter().find_map(|f| {
            rest.strip_suffix(f)
                .and_then(|w| w.strip_suffix('-'))
                .map(|w| (w, *f))
        });
        let Some((window, field)) = split else {
            top.insert(rest.replace('-', "_"), json!(value));
            continue;
        };
        let entry = windows.entry(window_name(window)).or_default();
        match field {
            "utilization" => {
                if let Ok(u) = value.parse::<f64>() {
                    entry.insert("utilization".into(), json!(u));
                    entry.insert("used_percentage".into(), json!((u * 1000.0).round() / 10.0));
                }
            }
            "reset" => {
                if let Ok(secs) = value.parse::<i64>() {
                    entry.insert("reset".into(), json!(secs));
                    entry.insert("resets_at".into(), iso(secs));
                }
            }
            other => {
                entry.insert(other.replace('-', "_"), typed(other, value));
            }
        }
    }
    if top.is_empty() && windows.is_empty() {
        return Value::Null;
    }
    top.insert("windows".into(), json!(windows));
    Value::Object(top)
}

/// API-key limits by kind: `{"requests": {"limit", "remaining", "reset"}, "tokens": …}`.
fn api(headers: &BTreeMap<String, String>) -> Value {
    let mut kinds: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for (name, value) in headers {
        let (kind, field) = if let Some(rest) = name.strip_prefix("anthropic-ratelimit-") {
            if rest.starts_with("unified-") {
                continue;
            }
            // requests-limit, input-tokens-remaining, …
            match ["limit", "remaining", "reset"].iter().find_map(|f| {
                rest.strip_suffix(f)
                    .and_then(|k| k.strip_suffix('-'))
                    .map(|k| (k, *f))
            }) {
                Some(p) => p,
                None => continue,
            }
        } else if let Some(rest) = name.strip_prefix("x-ratelimit-") {
            // limit-requests, remaining-tokens, reset-requests
            match rest.split_once('-') {
                Some((f, k)) if ["limit", "remaining", "reset"].contains(&f) => (k, f),
                _ => continue,
            }
        } else {
            continue;
        };
        kinds
            .entry(kind.replace('-', "_"))
            .or_default()
            .insert(field.into(), typed(field, value));
    }
    if kinds.is_empty() {
        Value::Null
    } else {
        json!(kinds)
    }
}

/// The view of a stored snapshot.
pub fn view(row: &LimitRow) -> Value {
    let s = &row.snapshot;
    json!({
        "profile": s.profile,
        "provider": s.provider,
        "source": row.source,
        "observed_at": iso(row.last_seen),
        "since": iso(row.first_seen),
        "http_status": s.http_status,
        "unified": unified(&s.headers),
        "api": api(&s.headers),
        "retry_after_secs": s.headers.get("retry-after").and_then(|v| v.trim().parse::<u64>().ok()),
        "headers": s.headers,
    })
}

/// One window of a snapshot's `unified` limits, as numbers.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WindowState {
    /// `five_hour`, `seven_day`, `overage`, …
    pub window: String,
    pub used_percentage: Option<f64>,
    /// Unix seconds, and the same as RFC 3339.
    pub reset: Option<i64>,
    pub resets_at: Option<String>,
    /// Seconds from now until it starts over (0 when that moment has passed).
    pub resets_in_secs: Option<i64>,
    pub status: Option<String>,
}

/// The windows of a snapshot as of `now`, in name order. A window whose reset time has
/// passed has started over: its use is shown as 0.
pub fn windows(row: &LimitRow, now: i64) -> Vec<WindowState> {
    let mut out: BTreeMap<String, WindowState> = BTreeMap::new();
    for (name, value) in &row.snapshot.headers {
        let Some(rest) = name.strip_prefix(UNIFIED) else {
            continue;
        };
        let Some((window, field)) = WINDOW_FIELDS.iter().find_map(|f| {
            rest.strip_suffix(f)
                .and_then(|w| w.strip_suffix('-'))
                .map(|w| (w, *f))
        }) else {
            continue;
        };
        let name = window_name(window);
        let w = out.entry(name.clone()).or_insert_with(|| WindowState {
            window: name,
            used_percentage: None,
            reset: None,
            resets_at: None,
            resets_in_secs: None,
            status: None,
        });
        match field {
            "utilization" => {
                w.used_percentage = value
                    .parse::<f64>()
                    .ok()
                    .filter(|u| u.is_finite())
                    .map(|u| ((u * 1000.0).round() / 10.0).clamp(0.0, 100.0));
            }
            "reset" => w.reset = value.parse::<i64>().ok(),
            "status" => w.status = Some(value.clone()),
            _ => {}
        }
    }
    out.into_values()
        .map(|mut w| {
            if let Some(r) = w.reset {
                w.resets_at = iso(r).as_str().map(String::from);
                w.resets_in_secs = Some((r - now).max(0));
                if r <= now && w.used_percentage.is_some() {
                    w.used_percentage = Some(0.0);
                }
            }
            w
        })
        .collect()
}

/// The headers a status line's `rate_limits` stands for, as the proxy would have seen
/// them: `used_percentage` (0–100) as the window's utilization (0–1), `resets_at` (Unix
/// seconds) as its reset. Windows without a number are left out.
pub fn headers_from_rate_limits(rate_limits: &Value) -> BTreeMap<String, String> {
    let mut headers = BTreeMap::new();
    for (name, short) in [("five_hour", "5h"), ("seven_day", "7d")] {
        let w = &rate_limits[name];
        if let Some(p) = w["used_percentage"].as_f64().filter(|p| p.is_finite()) {
            let u = (p.clamp(0.0, 100.0) / 100.0 * 10_000.0).round() / 10_000.0;
            headers.insert(format!("{UNIFIED}{short}-utilization"), u.to_string());
            if let Some(r) = w["resets_at"].as_i64().filter(|r| *r > 0) {
                headers.insert(format!("{UNIFIED}{short}-reset"), r.to_string());
            }
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::LimitSnapshot;

    #[test]
    fn unified_windows_and_api_kinds() {
        let headers: BTreeMap<String, String> = [
            ("anthropic-ratelimit-unified-status", "allowed_warning"),
            ("anthropic-ratelimit-unified-5h-utilization", "0.25"),
            ("anthropic-ratelimit-unified-5h-reset", "1800000000"),
            ("anthropic-ratelimit-unified-7d-utilization", "0.5"),
            ("anthropic-ratelimit-unified-7d-status", "allowed"),
            ("anthropic-ratelimit-unified-overage-status", "rejected"),
            (
                "anthropic-ratelimit-unified-representative-claim",
                "five_hour",
            ),
            ("anthropic-ratelimit-unified-fallback-percentage", "0.5"),
            ("x-ratelimit-remaining-tokens", "999"),
            ("anthropic-ratelimit-input-tokens-limit", "400000"),
            ("retry-after", "17"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let row = LimitRow {
            id: 1,
            snapshot: LimitSnapshot {
                profile: "p".into(),
                provider: "anthropic".into(),
                ts: 1_800_000_100,
                http_status: 429,
                headers,
            },
            first_seen: 1_800_000_000,
            last_seen: 1_800_000_100,
            source: "proxy".into(),
        };
        let v = view(&row);
        let u = &v["unified"];
        assert_eq!(u["status"], "allowed_warning");
        assert_eq!(u["representative_claim"], "five_hour");
        assert_eq!(u["fallback_percentage"], 0.5);
        assert_eq!(u["windows"]["five_hour"]["used_percentage"], 25.0);
        assert_eq!(
            u["windows"]["five_hour"]["resets_at"],
            "2027-01-15T08:00:00Z"
        );
        assert_eq!(u["windows"]["seven_day"]["status"], "allowed");
        assert_eq!(u["windows"]["overage"]["status"], "rejected");
        assert_eq!(v["api"]["tokens"]["remaining"], 999);
        assert_eq!(v["api"]["input_tokens"]["limit"], 400000);
        assert_eq!(v["retry_after_secs"], 17);
        assert_eq!(v["observed_at"], "2027-01-15T08:01:40Z");
        let w = windows(&row, 1_800_000_000 - 60);
        let five = w.iter().find(|w| w.window == "five_hour").unwrap();
        assert_eq!(five.used_percentage, Some(25.0));
        assert_eq!(five.resets_in_secs, Some(60));
        // Past its reset, a window has started over.
        let later = windows(&row, 1_800_000_001);
        let five = later.iter().find(|w| w.window == "five_hour").unwrap();
        assert_eq!(
            (five.used_percentage, five.resets_in_secs),
            (Some(0.0), Some(0))
        );
    }

    #[test]
    fn status_line_rate_limits_become_headers() {
        let h = headers_from_rate_limits(&json!({
            "five_hour": {"used_percentage": 23.5, "resets_at": 1795932000},
            "seven_day": {"used_percentage": "x"}
        }));
        assert_eq!(
            h.get("anthropic-ratelimit-unified-5h-utilization")
                .map(String::as_str),
            Some("0.235")
        );
        assert_eq!(
            h.get("anthropic-ratelimit-unified-5h-reset")
                .map(String::as_str),
            Some("1795932000")
        );
        assert_eq!(h.len(), 2);
    }
}
