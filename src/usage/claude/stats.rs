//! Claude Code's `stats-cache.json`: per-day token totals per model, kept after the
//! transcripts are deleted. A day's total is split over the four token kinds in the
//! model's all-time proportions (the file has no per-day split); the store adds only the
//! days no transcript of the profile covers.

use std::collections::HashMap;

use jiff::tz::TimeZone;
use serde::Deserialize;

use super::SOURCE_STATS;
use crate::records::UsageEvent;
use crate::store::imports::SummaryDay;
use crate::time::day_start;
use crate::tokens::Tokens;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsCache {
    #[serde(default)]
    daily_model_tokens: Vec<DailyModelTokens>,
    #[serde(default)]
    model_usage: HashMap<String, ModelMix>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DailyModelTokens {
    date: String,
    #[serde(default)]
    tokens_by_model: HashMap<String, u64>,
}

/// A model's all-time totals, as the file names them.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ModelMix {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: u64,
    #[serde(default)]
    cache_creation_input_tokens: u64,
}

/// Splits a day's total over the four kinds in the model's all-time proportions;
/// without proportions it counts as input.
fn split(total: u64, mix: Option<&ModelMix>) -> Tokens {
    let input_only = Tokens {
        input_tokens: total,
        ..Default::default()
    };
    let Some(m) = mix else {
        return input_only;
    };
    let parts = [
        m.input_tokens,
        m.cache_creation_input_tokens,
        m.cache_read_input_tokens,
        m.output_tokens,
    ];
    let sum: u128 = parts.iter().map(|&p| p as u128).sum();
    if sum == 0 {
        return input_only;
    }
    let share = |p: u64| ((total as u128 * p as u128) / sum) as u64;
    let (i, cw, cr) = (share(parts[0]), share(parts[1]), share(parts[2]));
    Tokens {
        input_tokens: i,
        cache_creation_input_tokens: cw,
        cache_read_input_tokens: cr,
        output_tokens: total - i - cw - cr,
        cache_creation_1h_input_tokens: 0,
        reasoning_output_tokens: 0,
    }
}

/// The file's days as events of `profile`, each at the middle of its local day in `tz`;
/// also how many dates did not parse.
pub fn days(stats: &StatsCache, profile: &str, tz: &TimeZone) -> (Vec<SummaryDay>, u64) {
    let mut malformed = 0;
    let mut out = Vec::new();
    for day in &stats.daily_model_tokens {
        let Ok(date) = day.date.parse::<jiff::civil::Date>() else {
            malformed += 1;
            continue;
        };
        let start = day_start(date, tz);
        let end = date
            .tomorrow()
            .map(|d| day_start(d, tz))
            .unwrap_or(start + 86_400);
        let events: Vec<UsageEvent> = day
            .tokens_by_model
            .iter()
            .map(|(model, &total)| UsageEvent {
                profile: profile.to_string(),
                agent: Some("claude".into()),
                provider: None,
                model: model.clone(),
                ts: Some(start + (end - start) / 2),
                tokens: split(total, stats.model_usage.get(model)),
                source: SOURCE_STATS.into(),
                session_id: None,
                dedupe_key: Some(format!("claude-stats:{profile}:{}:{model}", day.date)),
                links: Default::default(),
                key_label: None,
                key_hint: None,
            })
            .collect();
        let all = events.len();
        let events: Vec<UsageEvent> = events
            .into_iter()
            .filter(|e| e.validate().is_ok())
            .collect();
        malformed += (all - events.len()) as u64;
        out.push(SummaryDay { start, end, events });
    }
    (out, malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_split_in_the_models_proportions() {
        let mix = ModelMix {
            input_tokens: 1,
            output_tokens: 2,
            cache_read_input_tokens: 1,
            cache_creation_input_tokens: 0,
        };
        let t = split(1001, Some(&mix));
        assert_eq!(
            (
                t.input_tokens,
                t.cache_read_input_tokens,
                t.output_tokens,
                t.cache_creation_input_tokens
            ),
            (250, 250, 501, 0)
        );
        assert_eq!(t.total(), 1001);
        assert_eq!(split(7, None).input_tokens, 7);
        assert_eq!(split(7, Some(&ModelMix::default())).input_tokens, 7);
    }

    #[test]
    fn days_are_local_and_keyed_per_profile_day_and_model() {
        let stats: StatsCache = serde_json::from_str(
            r#"{"dailyModelTokens":[{"date":"2026-01-05","tokensByModel":{"m":10}},{"date":"nope","tokensByModel":{}}]}"#,
        )
        .unwrap();
        let tz = TimeZone::get("Europe/Paris").unwrap();
        let (days, malformed) = days(&stats, "work", &tz);
        assert_eq!(malformed, 1);
        assert_eq!(days.len(), 1);
        assert_eq!(days[0].end - days[0].start, 86_400);
        let midnight: jiff::Timestamp = "2026-01-04T23:00:00Z".parse().unwrap();
        assert_eq!(days[0].start, midnight.as_second());
        let e = &days[0].events[0];
        assert_eq!(
            e.dedupe_key.as_deref(),
            Some("claude-stats:work:2026-01-05:m")
        );
        assert_eq!(e.tokens.input_tokens, 10);
        assert_eq!(e.ts, Some(days[0].start + 43_200));
    }
}
