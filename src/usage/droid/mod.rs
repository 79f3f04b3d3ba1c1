//! Droid's sessions: `~/.factory/sessions/<project>/<session>.settings.json`, rewritten as
//! the session goes on, holds the session's running token totals (`tokenUsage`).
//!
//! A session is one event, as ccusage 20 counts it: the latest totals, dated at
//! `providerLockTimestamp` (else the file's time), keyed on the session id, so a larger
//! later snapshot replaces the earlier one and a copy elsewhere (an archive) counts once.
//! input = `inputTokens`, cache write and read as named, output = `outputTokens` +
//! `thinkingTokens` (thinking kept apart as reasoning). The model is normalised as
//! ccusage does: `custom:GPT-5-Codex-[OpenAI]` is `gpt-5-codex`.

use std::path::Path;

use serde::Deserialize;

use crate::records::{Links, UsageEvent};
use crate::tokens::Tokens;
use crate::usage::import::walk::{ends_with, walk, walk_names};
use crate::usage::import::{FileJob, FileRead, Format, Found, read_file};

pub const SOURCE: &str = "droid-log";
const SUFFIX: &str = ".settings.json";

pub struct Settings;

impl Format for Settings {
    fn agent(&self) -> &'static str {
        "droid"
    }
    fn source(&self) -> &'static str {
        SOURCE
    }
    fn files_noun(&self) -> &'static str {
        "session settings files"
    }
    fn find(&self, root: &Path, out: &mut Vec<Found>) {
        walk(root, &|p| ends_with(p, SUFFIX), out);
    }
    fn find_unstated(&self, root: &Path, out: &mut Vec<Found>) -> bool {
        walk_names(root, &|p| ends_with(p, SUFFIX), out);
        true
    }
    fn log_of(&self, root: &Path, changed: &Path) -> Option<std::path::PathBuf> {
        (changed.starts_with(root) && ends_with(changed, SUFFIX)).then(|| changed.to_path_buf())
    }
    fn whole(&self, _path: &Path) -> bool {
        true
    }
    fn read(&self, job: &FileJob, out: &mut FileRead) {
        out.read_whole();
        // The size is known from the walk: no second stat (one file per session).
        match read_file(&job.path, job.size) {
            Ok(b) => settings(out, &job.path, job.mtime_ns, &b),
            Err(e) => out.error = Some(e.to_string()),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Usage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_creation_tokens: u64,
    #[serde(default)]
    cache_read_tokens: u64,
    #[serde(default)]
    thinking_tokens: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    model: Option<String>,
    provider_lock: Option<String>,
    provider_lock_timestamp: Option<String>,
    token_usage: Option<Usage>,
}

/// ccusage's normalisation: no `custom:` prefix, no `[…]` part, lowercase, dots and
/// spaces as dashes.
pub fn normalise(model: &str) -> String {
    let m = model.strip_prefix("custom:").unwrap_or(model);
    let m = match (m.find('['), m.rfind(']')) {
        (Some(a), Some(b)) if a < b => format!("{}{}", &m[..a], &m[b + 1..]),
        _ => m.to_string(),
    };
    m.to_lowercase()
        .replace(['.', ' '], "-")
        .trim_matches('-')
        .to_string()
}

fn settings(r: &mut FileRead, path: &Path, mtime_ns: i64, bytes: &[u8]) {
    let Ok(f) = serde_json::from_slice::<File>(bytes) else {
        r.malformed += 1;
        return;
    };
    let Some(u) = f.token_usage else { return };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let session = name.strip_suffix(SUFFIX).unwrap_or(name).to_string();
    let ts = f
        .provider_lock_timestamp
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_second())
        .unwrap_or(mtime_ns.div_euclid(1_000_000_000));
    let model = f
        .model
        .as_deref()
        .map(normalise)
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "unknown".into());
    r.push(UsageEvent {
        profile: r.file.profile.clone(),
        agent: Some("droid".into()),
        provider: f.provider_lock,
        model,
        ts: Some(ts),
        tokens: Tokens {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens + u.thinking_tokens,
            cache_creation_input_tokens: u.cache_creation_tokens,
            cache_read_input_tokens: u.cache_read_tokens,
            reasoning_output_tokens: u.thinking_tokens,
            ..Default::default()
        },
        source: SOURCE.into(),
        session_id: Some(session.clone()),
        dedupe_key: Some(format!("droid:{session}")),
        key_label: None,
        key_hint: None,
        links: Links::default(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::import::file_test::test_read;

    #[test]
    fn one_event_per_session() {
        assert_eq!(normalise("custom:GPT-5-Codex-[OpenAI]"), "gpt-5-codex");
        assert_eq!(normalise("claude-sonnet-4.5"), "claude-sonnet-4-5");
        let mut r = test_read("p");
        settings(
            &mut r,
            Path::new("/s/aaaa.settings.json"),
            0,
            br#"{"model": "claude-sonnet-4-5-20250929", "providerLock": "anthropic", "providerLockTimestamp": "2026-03-10T09:00:00.000Z", "tokenUsage": {"inputTokens": 1000, "outputTokens": 2000, "cacheCreationTokens": 3000, "cacheReadTokens": 40000, "thinkingTokens": 500}}"#,
        );
        let e = &r.file.events[0];
        assert_eq!(e.dedupe_key.as_deref(), Some("droid:aaaa"));
        assert_eq!((e.tokens.output_tokens, e.tokens.total()), (2500, 46500));
        assert_eq!(e.ts, Some(1773133200));
    }
}
