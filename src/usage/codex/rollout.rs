//! One rollout, line by line, as ccusage 20 reads it.
//!
//! - A `turn_context` line sets the current model.
//! - An `event_msg` of type `token_count` with `info` is one request: its usage is
//!   `last_token_usage` when the cumulative `total_token_usage` moved since the previous
//!   count, else the difference of the totals; a count whose totals did not move (Codex
//!   repeats one to carry new rate limits) adds nothing.
//! - `input_tokens` includes the cached and cache-write tokens: input = input − cached −
//!   write. `output_tokens` includes the reasoning, which is also kept apart.
//! - The model is the event's own (`payload.model`, `info.model`) or the current one, and
//!   `gpt-5` when none was ever named.
//! - The key is the event's timestamp, model and counts, without the session: the same
//!   event copied into another rollout (a fork, an archived copy) counts once.
//!
//! The previous totals and the current model are the state carried between reads.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::SOURCE;
use crate::records::{Links, UsageEvent};
use crate::tokens::Tokens;
use crate::usage::import::FileRead;

/// The model ccusage assumes when a rollout never names one.
const FALLBACK_MODEL: &str = "gpt-5";

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct Usage {
    #[serde(default, alias = "prompt_tokens", alias = "input")]
    input_tokens: u64,
    #[serde(default, alias = "cache_read_input_tokens", alias = "cached_tokens")]
    cached_input_tokens: u64,
    #[serde(default)]
    cache_write_input_tokens: u64,
    #[serde(default, alias = "completion_tokens", alias = "output")]
    output_tokens: u64,
    #[serde(default, alias = "reasoning_tokens")]
    reasoning_output_tokens: u64,
    #[serde(default)]
    total_tokens: u64,
}

impl Usage {
    fn minus(&self, o: &Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens.saturating_sub(o.input_tokens),
            cached_input_tokens: self
                .cached_input_tokens
                .saturating_sub(o.cached_input_tokens),
            cache_write_input_tokens: self
                .cache_write_input_tokens
                .saturating_sub(o.cache_write_input_tokens),
            output_tokens: self.output_tokens.saturating_sub(o.output_tokens),
            reasoning_output_tokens: self
                .reasoning_output_tokens
                .saturating_sub(o.reasoning_output_tokens),
            total_tokens: self.total_tokens.saturating_sub(o.total_tokens),
        }
    }

    fn tokens(&self) -> Tokens {
        let cached = self.cached_input_tokens.min(self.input_tokens);
        let write = self
            .cache_write_input_tokens
            .min(self.input_tokens - cached);
        Tokens {
            input_tokens: self.input_tokens - cached - write,
            output_tokens: self.output_tokens,
            cache_creation_input_tokens: write,
            cache_read_input_tokens: cached,
            reasoning_output_tokens: self.reasoning_output_tokens,
            ..Default::default()
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct ModelHolder {
    model: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Info {
    total_token_usage: Option<Usage>,
    last_token_usage: Option<Usage>,
    model: Option<String>,
    model_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: Option<String>,
    model: Option<String>,
    model_name: Option<String>,
    metadata: Option<ModelHolder>,
    info: Option<Info>,
}

#[derive(Debug, Deserialize)]
struct Line {
    timestamp: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    payload: Option<Payload>,
}

/// What a rollout's reader carries from one read to the next.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct State {
    #[serde(default)]
    totals: Option<Usage>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    session: String,
}

/// The session id in a rollout's name (`rollout-<time>-<uuid>.jsonl`), else the name.
fn session_of(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match stem.len().checked_sub(36) {
        Some(i) if stem.is_char_boundary(i) && stem[i..].matches('-').count() == 4 => {
            stem[i..].to_string()
        }
        _ => stem,
    }
}

impl State {
    pub fn load(saved: Option<&str>, path: &Path) -> Self {
        let mut s: State = saved
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default();
        if s.session.is_empty() {
            s.session = session_of(path);
        }
        s
    }

    pub fn save(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn line(&mut self, r: &mut FileRead, bytes: &[u8]) {
        let is = |needle: &[u8]| memchr::memmem::find(bytes, needle).is_some();
        if !is(b"\"token_count\"") && !is(b"\"turn_context\"") {
            return;
        }
        let Ok(line) = serde_json::from_slice::<Line>(bytes) else {
            r.malformed += 1;
            return;
        };
        let Some(p) = line.payload else { return };
        match line.kind.as_deref() {
            Some("turn_context") => {
                if let Some(m) = p.model.filter(|m| !m.is_empty()) {
                    self.model = Some(m);
                }
            }
            Some("event_msg") if p.kind.as_deref() == Some("token_count") => {
                let Some(info) = p.info else { return };
                let model = p
                    .model
                    .or(info.model.clone())
                    .or(info.model_name.clone())
                    .or(p.model_name)
                    .or(p.metadata.and_then(|m| m.model))
                    .or(self.model.clone())
                    .unwrap_or_else(|| FALLBACK_MODEL.to_string());
                let advanced =
                    info.total_token_usage.is_none() || info.total_token_usage != self.totals;
                let delta = match (info.last_token_usage, info.total_token_usage) {
                    (Some(last), _) if advanced => last,
                    (_, Some(total)) => total.minus(&self.totals.unwrap_or_default()),
                    _ => return,
                };
                if info.total_token_usage.is_some() {
                    self.totals = info.total_token_usage;
                }
                if delta == Usage::default() {
                    return;
                }
                let Some(ts_text) = line.timestamp else {
                    r.malformed += 1;
                    return;
                };
                let Ok(ts) = ts_text.parse::<jiff::Timestamp>() else {
                    r.malformed += 1;
                    return;
                };
                let key = format!(
                    "codex:{ts_text}|{model}|{}|{}|{}|{}|{}",
                    delta.input_tokens,
                    delta.cached_input_tokens,
                    delta.output_tokens,
                    delta.reasoning_output_tokens,
                    delta.total_tokens
                );
                r.push(UsageEvent {
                    profile: r.file.profile.clone(),
                    agent: Some("codex".into()),
                    provider: None,
                    model,
                    ts: Some(ts.as_second()),
                    tokens: delta.tokens(),
                    source: SOURCE.into(),
                    session_id: Some(self.session.clone()),
                    dedupe_key: Some(key),
                    key_label: None,
                    key_hint: None,
                    links: Links::default(),
                });
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::import::file_test::{lines, test_read};

    fn count(ts: &str, total: Option<[u64; 5]>, last: Option<[u64; 5]>) -> String {
        let u = |c: [u64; 5]| {
            format!(
                r#"{{"input_tokens":{},"cached_input_tokens":{},"output_tokens":{},"reasoning_output_tokens":{},"total_tokens":{}}}"#,
                c[0], c[1], c[2], c[3], c[4]
            )
        };
        let mut info = Vec::new();
        if let Some(t) = total {
            info.push(format!(r#""total_token_usage":{}"#, u(t)));
        }
        if let Some(l) = last {
            info.push(format!(r#""last_token_usage":{}"#, u(l)));
        }
        format!(
            r#"{{"timestamp":"{ts}","type":"event_msg","payload":{{"type":"token_count","info":{{{}}},"rate_limits":null}}}}"#,
            info.join(",")
        ) + "\n"
    }

    fn turn(model: &str) -> String {
        format!(
            r#"{{"timestamp":"2026-03-14T23:50:01.000Z","type":"turn_context","payload":{{"cwd":"/p","model":"{model}"}}}}"#
        ) + "\n"
    }

    #[test]
    fn deltas_repeats_and_models() {
        let text = turn("gpt-5-codex")
            + &count("2026-03-14T23:50:05.000Z", Some([10000, 4000, 500, 200, 10500]), Some([10000, 4000, 500, 200, 10500]))
            // Repeated totals (new rate limits): nothing new.
            + &count("2026-03-14T23:50:06.000Z", Some([10000, 4000, 500, 200, 10500]), Some([10000, 4000, 500, 200, 10500]))
            // Totals only: the difference.
            + &count("2026-03-15T00:10:00.000Z", Some([25000, 12000, 1300, 600, 26300]), None)
            + &turn("gpt-5.2")
            + &count("2026-03-15T00:20:05.000Z", Some([45000, 20000, 2300, 900, 47300]), Some([20000, 8000, 1000, 300, 21000]))
            + r#"{"timestamp":"2026-03-15T00:30:00.000Z","type":"event_msg","payload":{"type":"token_count","info":null}}"#
            + "\n";
        let mut r = test_read("p");
        let mut state = State::load(
            None,
            Path::new("rollout-2026-03-14T23-50-00-aaaaaaaa-0000-7000-8000-000000000001.jsonl"),
        );
        lines(&text, &mut r, b"_co", |r, l| state.line(r, l));
        let got: Vec<(String, [u64; 5])> = r
            .file
            .events
            .iter()
            .map(|e| {
                let t = e.tokens;
                (
                    e.model.clone(),
                    [
                        t.input_tokens,
                        t.cache_read_input_tokens,
                        t.output_tokens,
                        t.reasoning_output_tokens,
                        t.total(),
                    ],
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("gpt-5-codex".into(), [6000, 4000, 500, 200, 10500]),
                ("gpt-5-codex".into(), [7000, 8000, 800, 400, 15800]),
                ("gpt-5.2".into(), [12000, 8000, 1000, 300, 21000]),
            ]
        );
        assert_eq!(r.malformed, 0);
        assert_eq!(
            r.file.events[0].session_id.as_deref(),
            Some("aaaaaaaa-0000-7000-8000-000000000001")
        );
        // The state carries on: a later read sees the same totals as not advanced.
        let saved = state.save();
        let mut again = State::load(Some(&saved), Path::new("x"));
        let mut r2 = test_read("p");
        lines(
            &count(
                "2026-03-15T01:00:00.000Z",
                Some([45000, 20000, 2300, 900, 47300]),
                Some([1, 0, 1, 0, 2]),
            ),
            &mut r2,
            b"_co",
            |r, l| again.line(r, l),
        );
        assert!(r2.file.events.is_empty());
        assert_eq!(again.model.as_deref(), Some("gpt-5.2"));
    }

    #[test]
    fn cache_writes_and_the_fallback_model() {
        let line = r#"{"timestamp":"2026-03-16T10:00:05.001Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":10000,"cached_input_tokens":2000,"cache_write_input_tokens":6000,"output_tokens":500,"reasoning_output_tokens":100,"total_tokens":10500},"last_token_usage":{"input_tokens":10000,"cached_input_tokens":2000,"cache_write_input_tokens":6000,"output_tokens":500,"reasoning_output_tokens":100,"total_tokens":10500}}}}"#;
        let mut r = test_read("p");
        let mut state = State::default();
        lines(&format!("{line}\n"), &mut r, b"_co", |r, l| {
            state.line(r, l)
        });
        let e = &r.file.events[0];
        assert_eq!(e.model, "gpt-5");
        assert_eq!(
            (
                e.tokens.input_tokens,
                e.tokens.cache_read_input_tokens,
                e.tokens.cache_creation_input_tokens
            ),
            (2000, 2000, 6000)
        );
    }
}
