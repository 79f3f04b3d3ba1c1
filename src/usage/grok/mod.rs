//! Grok sessions in the format of xAI's Grok Build CLI, the one ccusage 20 reads:
//! `$GROK_HOME/sessions/<cwd>/<session>/updates.jsonl` (session update notifications,
//! appended to) and a sibling `summary.json` naming the current model.
//!
//! A `turn_completed` update is one turn: one event per model in `usage.modelUsage`, else
//! one with the summary's model. `inputTokens` includes the cache: input = input −
//! cache read − cache write; output = `outputTokens`, which includes the reasoning (kept
//! apart too). The time is `_meta.agentTimestampMs`, else the line's `timestamp`
//! (seconds). The key is the event id and model, so a replayed line counts once. The
//! `costUsdTicks` the CLI records are not used: costs come from the registry.
//!
//! clown's own Grok CLI (`@vibe-kit/grok-cli`) writes no usage at all; its requests are
//! accounted by the proxy.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::records::{Links, UsageEvent};
use crate::tokens::Tokens;
use crate::usage::import::walk::walk;
use crate::usage::import::{FileJob, FileRead, Format, Found, read_lines};

pub const SOURCE: &str = "grok-log";

pub struct Updates;

impl Format for Updates {
    fn agent(&self) -> &'static str {
        "grok"
    }
    fn source(&self) -> &'static str {
        SOURCE
    }
    fn files_noun(&self) -> &'static str {
        "session update files"
    }
    fn find(&self, root: &Path, out: &mut Vec<Found>) {
        walk(
            &root.join("sessions"),
            &|p| p.file_name().is_some_and(|n| n == "updates.jsonl"),
            out,
        );
    }
    fn log_of(&self, root: &Path, changed: &Path) -> Option<std::path::PathBuf> {
        (changed.starts_with(root.join("sessions"))
            && changed.file_name().is_some_and(|n| n == "updates.jsonl"))
        .then(|| changed.to_path_buf())
    }
    fn watch_dirs(&self, root: &Path) -> Vec<(std::path::PathBuf, bool)> {
        vec![(root.join("sessions"), true)]
    }
    fn read(&self, job: &FileJob, out: &mut FileRead) {
        let model = job
            .path
            .parent()
            .and_then(|d| std::fs::read(d.join("summary.json")).ok())
            .and_then(|b| serde_json::from_slice::<Summary>(&b).ok())
            .and_then(|s| s.current_model_id);
        let session = job
            .path
            .parent()
            .and_then(|d| d.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        read_lines(&job.path, out, b"\"turn_completed\"", |r, l| {
            line(r, &session, model.as_deref(), l)
        });
    }
}

#[derive(Debug, Deserialize)]
struct Summary {
    current_model_id: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Usage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cached_read_tokens: u64,
    #[serde(default)]
    cache_creation_tokens: u64,
    #[serde(default)]
    reasoning_tokens: u64,
    #[serde(default)]
    model_usage: BTreeMap<String, Usage>,
}

impl Usage {
    fn tokens(&self) -> Tokens {
        let read = self.cached_read_tokens.min(self.input_tokens);
        let write = self.cache_creation_tokens.min(self.input_tokens - read);
        Tokens {
            input_tokens: self.input_tokens - read - write,
            output_tokens: self.output_tokens,
            cache_creation_input_tokens: write,
            cache_read_input_tokens: read,
            reasoning_output_tokens: self.reasoning_tokens,
            ..Default::default()
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Update {
    session_update: Option<String>,
    usage: Option<Usage>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    event_id: Option<String>,
    agent_timestamp_ms: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params {
    session_id: Option<String>,
    update: Option<Update>,
    #[serde(rename = "_meta", default)]
    meta: Meta,
}

#[derive(Debug, Deserialize)]
struct Line {
    timestamp: Option<f64>,
    params: Option<Params>,
}

fn line(r: &mut FileRead, dir_session: &str, summary_model: Option<&str>, bytes: &[u8]) {
    let Ok(l) = serde_json::from_slice::<Line>(bytes) else {
        r.malformed += 1;
        return;
    };
    let Some(p) = l.params else { return };
    let Some(u) = p
        .update
        .filter(|u| u.session_update.as_deref() == Some("turn_completed"))
    else {
        return;
    };
    let Some(usage) = u.usage else { return };
    let Some(ts) = p
        .meta
        .agent_timestamp_ms
        .map(|ms| ms.div_euclid(1000))
        .or(l.timestamp.map(|s| s.floor() as i64))
    else {
        r.malformed += 1;
        return;
    };
    let session = p.session_id.unwrap_or_else(|| dir_session.to_string());
    let per_model: Vec<(String, Usage)> = if usage.model_usage.is_empty() {
        let model = summary_model.unwrap_or("unknown").to_string();
        vec![(model, usage)]
    } else {
        usage.model_usage.into_iter().collect()
    };
    for (model, u) in per_model {
        let tokens = u.tokens();
        let key = match &p.meta.event_id {
            Some(id) => format!("grok:{id}|{model}"),
            None => format!(
                "grok:{session}|{ts}|{model}|{}|{}|{}|{}",
                u.input_tokens, u.output_tokens, u.cached_read_tokens, u.cache_creation_tokens
            ),
        };
        r.push(UsageEvent {
            profile: r.file.profile.clone(),
            agent: Some("grok".into()),
            provider: None,
            model,
            ts: Some(ts),
            tokens,
            source: SOURCE.into(),
            session_id: Some(session.clone()),
            dedupe_key: Some(key),
            key_label: None,
            key_hint: None,
            links: Links::default(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::import::file_test::{lines, test_read};

    #[test]
    fn turns_per_model_and_replays() {
        let turn = r#"{"timestamp":1773133200,"method":"_x.ai/session/update","params":{"sessionId":"g1","update":{"sessionUpdate":"turn_completed","usage":{"inputTokens":100000,"outputTokens":2000,"cachedReadTokens":80000,"cacheCreationTokens":0,"reasoningTokens":500,"totalTokens":102000,"modelUsage":{"grok-code-fast-1":{"inputTokens":100000,"outputTokens":2000,"cachedReadTokens":80000,"cacheCreationTokens":0,"reasoningTokens":500,"totalTokens":102000}}}},"_meta":{"eventId":"evt-1","agentTimestampMs":1773133200123}}}"#;
        let bare = r#"{"timestamp":1773137000,"method":"_x.ai/session/update","params":{"sessionId":"g1","update":{"sessionUpdate":"turn_completed","usage":{"inputTokens":10000,"outputTokens":100,"cachedReadTokens":5000}},"_meta":{"eventId":"evt-3"}}}"#;
        let text = format!("{turn}\n{turn}\n{bare}\n");
        let mut r = test_read("p");
        lines(&text, &mut r, b"\"turn_completed\"", |r, l| {
            line(r, "dir", Some("grok-code-fast-1"), l)
        });
        assert_eq!(r.file.events.len(), 2);
        let t = r.file.events[0].tokens;
        assert_eq!(
            (
                t.input_tokens,
                t.cache_read_input_tokens,
                t.output_tokens,
                t.reasoning_output_tokens
            ),
            (20000, 80000, 2000, 500)
        );
        assert_eq!(r.file.events[1].model, "grok-code-fast-1");
        assert_eq!(r.file.events[1].ts, Some(1773137000));
    }
}
