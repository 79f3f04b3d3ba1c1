//! Qwen Code's chats: `$QWEN_HOME/projects/<project>/chats/<session>.jsonl`, appended to,
//! one record per line; an `assistant` record with `usageMetadata` is one request.
//!
//! Its counts are Gemini's `usageMetadata`: `promptTokenCount` includes
//! `cachedContentTokenCount`. clown counts input = prompt − cached, cache read = cached,
//! output = candidates + thoughts (the thoughts kept apart as reasoning). ccusage 20
//! counts the whole prompt as input *and* the cached part again as cache read, which
//! bills cached tokens twice; clown does not follow it there (see ARCHITECTURE.md). The
//! key is ccusage's: session, timestamp, model and counts, so a session file copied into
//! another project counts once.

use std::path::Path;

use serde::Deserialize;

use crate::records::{Links, UsageEvent};
use crate::tokens::Tokens;
use crate::usage::import::walk::walk;
use crate::usage::import::{FileJob, FileRead, Format, Found, read_lines};

pub const SOURCE: &str = "qwen-log";

pub struct Chats;

impl Format for Chats {
    fn agent(&self) -> &'static str {
        "qwen"
    }
    fn source(&self) -> &'static str {
        SOURCE
    }
    fn files_noun(&self) -> &'static str {
        "chat files"
    }
    /// `projects/*/chats/*.jsonl`.
    fn find(&self, root: &Path, out: &mut Vec<Found>) {
        let Ok(projects) = std::fs::read_dir(root.join("projects")) else {
            return;
        };
        for p in projects.flatten() {
            let chats = p.path().join("chats");
            walk(
                &chats,
                &|f| {
                    f.parent() == Some(chats.as_path())
                        && f.extension().is_some_and(|e| e == "jsonl")
                },
                out,
            );
        }
    }
    fn log_of(&self, root: &Path, changed: &Path) -> Option<std::path::PathBuf> {
        let chats = changed.parent()?;
        let ok = chats.file_name()? == "chats"
            && chats.parent()?.parent()? == root.join("projects")
            && changed.extension().is_some_and(|e| e == "jsonl");
        ok.then(|| changed.to_path_buf())
    }
    fn watch_dirs(&self, root: &Path) -> Vec<(std::path::PathBuf, bool)> {
        vec![(root.join("projects"), true)]
    }
    fn read(&self, job: &FileJob, out: &mut FileRead) {
        read_lines(&job.path, out, b"\"usageMetadata\"", line);
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: u64,
    #[serde(default)]
    thoughts_token_count: u64,
    #[serde(default)]
    cached_content_token_count: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    session_id: Option<String>,
    timestamp: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    model: Option<String>,
    usage_metadata: Option<Meta>,
}

fn tokens(m: &Meta) -> Tokens {
    let cached = m.cached_content_token_count.min(m.prompt_token_count);
    Tokens {
        input_tokens: m.prompt_token_count - cached,
        output_tokens: m.candidates_token_count + m.thoughts_token_count,
        cache_read_input_tokens: m.cached_content_token_count,
        reasoning_output_tokens: m.thoughts_token_count,
        ..Default::default()
    }
}

fn line(r: &mut FileRead, bytes: &[u8]) {
    let Ok(rec) = serde_json::from_slice::<Record>(bytes) else {
        r.malformed += 1;
        return;
    };
    let (Some("assistant"), Some(m)) = (rec.kind.as_deref(), &rec.usage_metadata) else {
        return;
    };
    let Some(ts_text) = rec.timestamp else {
        r.malformed += 1;
        return;
    };
    let Ok(ts) = ts_text.parse::<jiff::Timestamp>() else {
        r.malformed += 1;
        return;
    };
    let session = rec.session_id.unwrap_or_default();
    let model = rec
        .model
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "unknown".into());
    let key = format!(
        "qwen:{session}|{ts_text}|{model}|{}|{}|{}|{}",
        m.prompt_token_count,
        m.candidates_token_count,
        m.cached_content_token_count,
        m.thoughts_token_count
    );
    r.push(UsageEvent {
        profile: r.file.profile.clone(),
        agent: Some("qwen".into()),
        provider: None,
        model,
        ts: Some(ts.as_second()),
        tokens: tokens(m),
        source: SOURCE.into(),
        session_id: (!session.is_empty()).then_some(session),
        dedupe_key: Some(key),
        key_label: None,
        key_hint: None,
        links: Links::default(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::import::file_test::{lines, test_read};

    #[test]
    fn cached_tokens_count_once() {
        let text = concat!(
            r#"{"uuid":"u0","sessionId":"q1","timestamp":"2026-03-10T09:00:00.000Z","type":"user","message":{"role":"user","parts":[{"text":"usageMetadata"}]}}"#,
            "\n",
            r#"{"uuid":"a1","sessionId":"q1","timestamp":"2026-03-10T09:00:05.000Z","type":"assistant","model":"qwen3-coder-plus","message":{"role":"model","parts":[]},"usageMetadata":{"promptTokenCount":12000,"candidatesTokenCount":400,"thoughtsTokenCount":0,"cachedContentTokenCount":8000,"totalTokenCount":12400}}"#,
            "\n",
            r#"{"uuid":"a2","sessionId":"q1","timestamp":"2026-03-10T09:05:00.000Z","type":"assistant","model":"qwen3-coder-plus","message":{"role":"model","parts":[]},"usageMetadata":{"promptTokenCount":2000,"candidatesTokenCount":100,"thoughtsTokenCount":300,"cachedContentTokenCount":0,"totalTokenCount":2400}}"#,
            "\n",
        );
        let mut r = test_read("p");
        lines(text, &mut r, b"\"usageMetadata\"", line);
        assert_eq!(r.file.events.len(), 2);
        let a1 = r.file.events[0].tokens;
        assert_eq!(
            (
                a1.input_tokens,
                a1.cache_read_input_tokens,
                a1.output_tokens
            ),
            (4000, 8000, 400)
        );
        assert_eq!(a1.total(), 12400);
        let a2 = r.file.events[1].tokens;
        assert_eq!(
            (a2.output_tokens, a2.reasoning_output_tokens, a2.total()),
            (400, 300, 2400)
        );
        assert_eq!(r.malformed, 0);
    }
}
