//! What an answer's headers say of the key that sent it: when a refused key may be tried
//! again (`Retry-After`, the reset of the limit it hit: Anthropic's `anthropic-ratelimit-*`,
//! OpenAI's `x-ratelimit-*`), and how full its rate-limit windows are (Anthropic's
//! `anthropic-ratelimit-unified-*-utilization`). Pure functions the pool (`pool.rs`) uses.

use hyper::header::HeaderMap;

pub(super) fn describe(status: u16) -> String {
    match status {
        0 => "no answer".into(),
        429 => "rate limited".into(),
        529 => "overloaded".into(),
        s => format!("server error {s}"),
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// A reset time in Unix milliseconds: Unix seconds (Anthropic's unified windows), RFC 3339
/// (Anthropic's API-key limits), or a duration from now like `6m0s`, `1.5s`, `20ms`
/// (OpenAI's `x-ratelimit-reset-*`).
fn reset_at(value: &str, now: i64) -> Option<i64> {
    if let Ok(secs) = value.parse::<i64>() {
        // Unix seconds are large; a small number is a delay in seconds.
        return Some(if secs > 1_000_000_000 {
            secs * 1000
        } else {
            now + secs * 1000
        });
    }
    if let Ok(t) = value.parse::<jiff::Timestamp>() {
        return Some(t.as_millisecond());
    }
    duration_ms(value).map(|d| now + d)
}

fn duration_ms(value: &str) -> Option<i64> {
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = value.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        let unit = match c {
            'h' => 3_600_000.0,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1.0
            }
            'm' => 60_000.0,
            's' => 1000.0,
            _ => return None,
        };
        total += n * unit;
        any = true;
    }
    (any && num.is_empty() && total.is_finite()).then_some(total.ceil() as i64)
}

/// When a refused member may be tried again, from its answer's headers.
pub(super) fn cooldown_from(h: &HeaderMap, now: i64) -> Option<(i64, String)> {
    if let Some(v) = header(h, "retry-after")
        && let Ok(secs) = v.parse::<u64>()
    {
        return Some((
            now + secs.min(86_400) as i64 * 1000,
            format!("retry-after {secs} s"),
        ));
    }
    // Retry-After's other form, an HTTP date (`Wed, 21 Oct 2026 07:28:00 GMT`).
    if let Some(v) = header(h, "retry-after")
        && let Ok(at) = jiff::fmt::rfc2822::parse(v)
    {
        let at = at.timestamp().as_millisecond().min(now + 86_400_000);
        if at > now {
            return Some((at, format!("retry-after {v}")));
        }
    }
    // The limits with nothing left: all of them must reset.
    let mut latest: Option<(i64, String)> = None;
    let note = |latest: &mut Option<(i64, String)>, at: Option<i64>, name: &str| {
        if let Some(at) = at.filter(|a| *a > now)
            && latest.as_ref().is_none_or(|(l, _)| at > *l)
        {
            *latest = Some((at, format!("{name} resets")));
        }
    };
    for (name, value) in h {
        let name = name.as_str();
        let Ok(value) = value.to_str() else { continue };
        if let Some(kind) = name
            .strip_prefix("anthropic-ratelimit-")
            .and_then(|r| r.strip_suffix("-remaining"))
            && value.trim() == "0"
        {
            let reset = format!("anthropic-ratelimit-{kind}-reset");
            note(
                &mut latest,
                header(h, &reset).and_then(|r| reset_at(r, now)),
                &reset,
            );
        }
        if let Some(kind) = name.strip_prefix("x-ratelimit-remaining-")
            && value.trim() == "0"
        {
            let reset = format!("x-ratelimit-reset-{kind}");
            note(
                &mut latest,
                header(h, &reset).and_then(|r| reset_at(r, now)),
                &reset,
            );
        }
    }
    if latest.is_none()
        && header(h, "anthropic-ratelimit-unified-status") == Some("rejected")
        && let Some(at) =
            header(h, "anthropic-ratelimit-unified-reset").and_then(|r| reset_at(r, now))
    {
        note(&mut latest, Some(at), "anthropic-ratelimit-unified-reset");
    }
    latest
}

/// The highest utilisation of the answer's unified windows.
pub(super) fn utilization(h: &HeaderMap) -> Option<f64> {
    h.iter()
        .filter(|(n, _)| {
            n.as_str().starts_with("anthropic-ratelimit-unified-")
                && n.as_str().ends_with("-utilization")
        })
        .filter_map(|(_, v)| v.to_str().ok()?.trim().parse::<f64>().ok())
        .filter(|u| u.is_finite())
        .reduce(f64::max)
}

/// A window at or over `threshold` (or with no request left): until when (if the
/// headers say) and which.
pub(super) fn window_full(
    h: &HeaderMap,
    threshold: f64,
    now: i64,
) -> Option<(Option<i64>, String)> {
    for (name, value) in h {
        let n = name.as_str();
        let Some(window) = n
            .strip_prefix("anthropic-ratelimit-unified-")
            .and_then(|r| r.strip_suffix("-utilization"))
        else {
            continue;
        };
        let Some(u) = value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
        else {
            continue;
        };
        if u >= threshold {
            let reset = header(h, &format!("anthropic-ratelimit-unified-{window}-reset"))
                .and_then(|r| reset_at(r, now));
            return Some((
                reset,
                format!(
                    "{window} window at {:.0}% (threshold {:.0}%)",
                    u * 100.0,
                    threshold * 100.0
                ),
            ));
        }
    }
    cooldown_from(h, now)
        .filter(|_| header(h, "retry-after").is_none())
        .map(|(at, why)| (Some(at), format!("no request left; {why}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    #[test]
    fn reset_times_in_every_form() {
        let now = 1_800_000_000_000;
        assert_eq!(reset_at("1800000060", now), Some(1_800_000_060_000));
        assert_eq!(reset_at("30", now), Some(now + 30_000));
        assert_eq!(reset_at("6m0s", now), Some(now + 360_000));
        assert_eq!(reset_at("1.5s", now), Some(now + 1500));
        assert_eq!(reset_at("20ms", now), Some(now + 20));
        assert_eq!(
            reset_at("2027-01-15T08:00:00Z", now),
            Some(
                "2027-01-15T08:00:00Z"
                    .parse::<jiff::Timestamp>()
                    .unwrap()
                    .as_millisecond()
            )
        );
        assert_eq!(reset_at("soon", now), None);
    }

    #[test]
    fn a_cool_down_from_the_headers() {
        let now = 1_800_000_000_000;
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("12"));
        assert_eq!(cooldown_from(&h, now).unwrap().0, now + 12_000);
        // 1_800_000_000 s is 2027-01-15T08:00:00Z.
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            HeaderValue::from_static("Fri, 15 Jan 2027 08:01:00 GMT"),
        );
        assert_eq!(cooldown_from(&h, now).unwrap().0, now + 60_000);
        let mut h = HeaderMap::new();
        h.insert(
            "x-ratelimit-remaining-requests",
            HeaderValue::from_static("0"),
        );
        h.insert("x-ratelimit-reset-requests", HeaderValue::from_static("2m"));
        h.insert(
            "x-ratelimit-remaining-tokens",
            HeaderValue::from_static("10"),
        );
        h.insert("x-ratelimit-reset-tokens", HeaderValue::from_static("5m"));
        assert_eq!(cooldown_from(&h, now).unwrap().0, now + 120_000);
        let mut h = HeaderMap::new();
        h.insert(
            "anthropic-ratelimit-unified-5h-utilization",
            HeaderValue::from_static("0.97"),
        );
        h.insert(
            "anthropic-ratelimit-unified-5h-reset",
            HeaderValue::from_static("1800003600"),
        );
        assert_eq!(
            window_full(&h, 0.95, now).unwrap().0,
            Some(1_800_003_600_000)
        );
        assert!(window_full(&h, 0.98, now).is_none());
        assert_eq!(utilization(&h), Some(0.97));
    }
}
