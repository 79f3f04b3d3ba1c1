//! Claude Code's transcripts (`projects/**/*.jsonl`): finding them, and reading one from
//! where the last import stopped.
//!
//! Lines without `"usage"` are skipped before any parsing. A response is keyed on
//! (`message.id`, `requestId`) as ccusage keys it: a provider that repeats message ids
//! across requests loses nothing, while the streaming snapshots of one response (same
//! id and request) count once, as the copy with the largest total. A sidechain line that
//! repeats a main line of its session (same message id and timestamp: a `/btw` replay,
//! even with a new `requestId`) is a copy of it (`Links::replay`).

use std::path::{Path, PathBuf};

use super::line::parse_line;
use super::{SOURCE_TRANSCRIPT, fnv};
use crate::records::{Links, Replay, UsageEvent};
use crate::usage::import::{FileJob, FileRead, Found, read_lines};

/// All `*.jsonl` files under `dir/projects`, recursively.
pub fn find(dir: &Path, out: &mut Vec<Found>) {
    let mut stack = vec![dir.join("projects")];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            let p = e.path();
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file()
                && p.extension().is_some_and(|x| x == "jsonl")
                && let Ok(meta) = e.metadata()
            {
                out.push(Found::of(p, &meta));
            }
        }
    }
}

fn parse_ts(raw: &[u8]) -> Option<i64> {
    std::str::from_utf8(raw)
        .ok()?
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_second())
}

fn text(raw: Option<&[u8]>) -> Option<String> {
    raw.map(|b| String::from_utf8_lossy(b).into_owned())
}

/// Reads a file from its offset.
pub fn read(job: &FileJob, r: &mut FileRead) {
    let path: PathBuf = job.path.clone();
    read_lines(&path, r, b"\"usage\"", line);
}

/// The dedupe key of a transcript line and the key earlier versions gave it: (message
/// id, request id); the message id alone without a request id; a hash of the line
/// without a message id.
pub fn keys(
    message_id: Option<&[u8]>,
    request_id: Option<&[u8]>,
    line: &[u8],
) -> (String, Option<String>) {
    match (message_id, request_id) {
        (Some(id), Some(req)) => {
            let id = String::from_utf8_lossy(id);
            (
                format!("claude:{id}:{}", String::from_utf8_lossy(req)),
                Some(format!("claude:{id}")),
            )
        }
        (Some(id), None) => (format!("claude:{}", String::from_utf8_lossy(id)), None),
        (None, _) => (format!("claude-line:{:016x}", fnv(line)), None),
    }
}

fn line(r: &mut FileRead, bytes: &[u8]) {
    let Ok(l) = parse_line(bytes) else {
        r.malformed += 1;
        return;
    };
    let Some(tokens) = l.usage else { return };
    let Some(ts) = l.timestamp.and_then(parse_ts) else {
        r.malformed += 1;
        return;
    };
    let (key, supersedes) = keys(l.message_id, l.request_id, bytes);
    let replay = match (l.message_id, l.session_id, l.timestamp) {
        (Some(id), Some(sid), Some(t)) => Some(Replay {
            group: format!(
                "claude-replay:{}:{}:{}",
                String::from_utf8_lossy(sid),
                String::from_utf8_lossy(id),
                String::from_utf8_lossy(t)
            ),
            copy: l.is_sidechain,
        }),
        _ => None,
    };
    r.push(UsageEvent {
        profile: r.file.profile.clone(),
        agent: Some("claude".into()),
        provider: None,
        model: text(l.model).unwrap_or_else(|| "unknown".into()),
        ts: Some(ts),
        tokens,
        source: SOURCE_TRANSCRIPT.into(),
        session_id: text(l.session_id),
        dedupe_key: Some(key),
        key_label: None,
        key_hint: None,
        links: Links { supersedes, replay },
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::import::file_test::{lines, test_read};

    fn run(text: &str) -> FileRead {
        let mut r = test_read("p");
        lines(text, &mut r, b"\"usage\"", line);
        r
    }

    fn line_of(id: &str, req: Option<&str>, input: u64, output: u64, ts: &str) -> String {
        let req = req
            .map(|r| format!(r#","requestId":"{r}""#))
            .unwrap_or_default();
        format!(
            r#"{{"sessionId":"s","timestamp":"{ts}"{req},"message":{{"id":"{id}","model":"claude-sonnet-4","usage":{{"input_tokens":{input},"output_tokens":{output}}}}}}}"#
        ) + "\n"
    }

    #[test]
    fn a_response_counts_once_as_its_largest_copy() {
        let text = line_of("msg_1", Some("r1"), 10, 1, "2026-01-08T10:00:00Z")
            + &line_of("msg_1", Some("r1"), 10, 50, "2026-01-08T10:00:05Z")
            + &line_of("msg_1", Some("r1"), 10, 20, "2026-01-08T10:00:09Z")
            + &line_of("msg_2", None, 1, 1, "2026-01-08T10:01:00Z");
        let r = run(&text);
        assert_eq!(r.file.events.len(), 2);
        assert_eq!(r.file.events[0].tokens.output_tokens, 50);
        assert_eq!(
            r.file.events[0].dedupe_key.as_deref(),
            Some("claude:msg_1:r1")
        );
        assert_eq!(
            r.file.events[0].links.supersedes.as_deref(),
            Some("claude:msg_1")
        );
        assert_eq!(r.file.events[1].dedupe_key.as_deref(), Some("claude:msg_2"));
        assert_eq!(r.file.consumed, text.len() as u64);
        let (first, last) = r.file.sessions["s"];
        assert_eq!(last - first, 60);
    }

    #[test]
    fn one_id_on_two_requests_is_two_responses() {
        let text = line_of("msg_1", Some("r1"), 10, 1, "2026-01-08T10:00:00Z")
            + &line_of("msg_1", Some("r2"), 7, 1, "2026-01-08T10:03:00Z");
        assert_eq!(run(&text).file.events.len(), 2);
    }

    #[test]
    fn an_incomplete_last_line_is_left_for_next_time() {
        let whole = line_of("msg_1", None, 1, 1, "2026-01-08T10:00:00Z");
        let partial = line_of("msg_2", None, 1, 1, "2026-01-08T10:00:01Z");
        let text = whole.clone() + partial.trim_end();
        let r = run(&text);
        assert_eq!(r.file.events.len(), 1);
        assert_eq!(r.file.consumed, whole.len() as u64);
    }

    #[test]
    fn malformed_and_idless_lines() {
        let idless =
            r#"{"timestamp":"2026-01-08T10:00:00Z","message":{"usage":{"input_tokens":3}}}"#;
        let no_ts = r#"{"message":{"id":"m","usage":{"input_tokens":3}}}"#;
        let broken = r#"{"message":{"usage":{"input_tokens":3}"#;
        let r = run(&format!("{idless}\n{idless}\n{no_ts}\n{broken}\n"));
        // Two identical id-less lines are one line replayed.
        assert_eq!(r.file.events.len(), 1);
        assert!(
            r.file.events[0]
                .dedupe_key
                .as_deref()
                .is_some_and(|k| k.starts_with("claude-line:"))
        );
        assert_eq!(r.malformed, 2);
    }
}
