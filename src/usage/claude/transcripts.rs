//! Claude Code's transcripts (`projects/**/*.jsonl`): finding them, and reading one from
//! where the last import stopped.
//!
//! Files are streamed line by line; lines without `"usage"` are skipped before any
//! parsing. Only complete lines are consumed, so a line being written is read next time.
//! Within a file a response is kept once, as the copy with the largest token total.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::line::parse_line;
use super::{SOURCE_TRANSCRIPT, dedupe_key};
use crate::records::UsageEvent;
use crate::store::imports::ImportedFile;

/// A file to read, from `offset`.
pub struct FileJob {
    pub path: PathBuf,
    pub key: String,
    pub profile: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub offset: u64,
}

/// A file read: what to commit, and what went wrong on the way.
pub struct FileRead {
    pub file: ImportedFile,
    pub path: PathBuf,
    /// Where the read started.
    pub offset: u64,
    pub malformed: u64,
    pub error: Option<String>,
}

/// All `*.jsonl` files under `dir/projects`, recursively, with their metadata (taken
/// from the directory entries: no extra path lookups), in byte order of their paths.
pub fn find(dir: &Path) -> Vec<(PathBuf, std::fs::Metadata)> {
    let mut out = Vec::new();
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
                out.push((p, meta));
            }
        }
    }
    out.sort_by(|a, b| {
        a.0.as_os_str()
            .as_encoded_bytes()
            .cmp(b.0.as_os_str().as_encoded_bytes())
    });
    out
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

/// Reads a file from its offset: usage events (deduplicated within the file), sessions.
pub fn read(job: FileJob) -> FileRead {
    let mut r = FileRead {
        file: ImportedFile {
            key: job.key,
            profile: job.profile,
            size: job.size,
            mtime_ns: job.mtime_ns,
            consumed: job.offset,
            ..Default::default()
        },
        path: job.path,
        offset: job.offset,
        malformed: 0,
        error: None,
    };
    let file = File::open(&r.path).and_then(|mut f| f.seek(SeekFrom::Start(r.offset)).map(|_| f));
    match file {
        Ok(f) => read_lines(BufReader::with_capacity(256 * 1024, f), &mut r),
        Err(e) => r.error = Some(e.to_string()),
    }
    r
}

fn read_lines(mut reader: impl BufRead, r: &mut FileRead) {
    let f = &mut r.file;
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut line = Vec::with_capacity(64 * 1024);
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(n) => {
                if line.last() != Some(&b'\n') {
                    break; // an incomplete last line: read it next time
                }
                f.consumed += n as u64;
            }
            Err(e) => {
                r.error = Some(e.to_string());
                break;
            }
        }
        if memchr::memmem::find(&line, b"\"usage\"").is_none() {
            continue;
        }
        let Ok(l) = parse_line(&line) else {
            r.malformed += 1;
            continue;
        };
        let Some(tokens) = l.usage else { continue };
        let Some(ts) = l.timestamp.and_then(parse_ts) else {
            r.malformed += 1;
            continue;
        };
        if let Some(s) = l.session_id {
            let e = f
                .sessions
                .entry(String::from_utf8_lossy(s).into_owned())
                .or_insert((ts, ts));
            e.0 = e.0.min(ts);
            e.1 = e.1.max(ts);
        }
        let key = dedupe_key(l.message_id, &line);
        let event = UsageEvent {
            profile: f.profile.clone(),
            agent: Some("claude".into()),
            provider: None,
            model: text(l.model).unwrap_or_else(|| "unknown".into()),
            ts: Some(ts),
            tokens,
            source: SOURCE_TRANSCRIPT.into(),
            session_id: text(l.session_id),
            dedupe_key: Some(key.clone()),
            key_label: None,
            key_hint: None,
        };
        if event.validate().is_err() {
            r.malformed += 1;
            continue;
        }
        match index.get(&key) {
            Some(&i) => {
                if tokens.total() > f.events[i].tokens.total() {
                    f.events[i] = event;
                }
            }
            None => {
                index.insert(key, f.events.len());
                f.events.push(event);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> FileRead {
        let mut r = FileRead {
            file: ImportedFile {
                profile: "p".into(),
                ..Default::default()
            },
            path: PathBuf::new(),
            offset: 0,
            malformed: 0,
            error: None,
        };
        read_lines(text.as_bytes(), &mut r);
        r
    }

    fn line(id: &str, input: u64, output: u64, ts: &str) -> String {
        format!(
            r#"{{"sessionId":"s","timestamp":"{ts}","message":{{"id":"{id}","model":"claude-sonnet-4","usage":{{"input_tokens":{input},"output_tokens":{output}}}}}}}"#
        ) + "\n"
    }

    #[test]
    fn a_response_counts_once_as_its_largest_copy() {
        let text = line("msg_1", 10, 1, "2026-01-08T10:00:00Z")
            + &line("msg_1", 10, 50, "2026-01-08T10:00:05Z")
            + &line("msg_1", 10, 20, "2026-01-08T10:00:09Z")
            + &line("msg_2", 1, 1, "2026-01-08T10:01:00Z");
        let r = run(&text);
        assert_eq!(r.file.events.len(), 2);
        assert_eq!(r.file.events[0].tokens.output_tokens, 50);
        assert_eq!(r.file.events[0].dedupe_key.as_deref(), Some("claude:msg_1"));
        assert_eq!(r.file.consumed, text.len() as u64);
        let (first, last) = r.file.sessions["s"];
        assert_eq!(last - first, 60);
    }

    #[test]
    fn an_incomplete_last_line_is_left_for_next_time() {
        let whole = line("msg_1", 1, 1, "2026-01-08T10:00:00Z");
        let partial = line("msg_2", 1, 1, "2026-01-08T10:00:01Z");
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
