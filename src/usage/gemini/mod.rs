//! Gemini CLI's chats under `.gemini/tmp/<project>/chats/`: a session is one JSON file
//! rewritten whole at every message (`session-*.json`, read whole when it changed) or,
//! in newer versions, a JSONL file appended to (a header line, then one record per line,
//! read from where the last read stopped).
//!
//! Rules (ccusage 20's): only `gemini` messages with `tokens` count; `input` includes the
//! cached tokens when the recorded `total` says so (total = input + output + thoughts +
//! tool), and then input = input − cached + tool, else input + tool; cache read =
//! cached; output = output + thoughts (the thoughts also kept apart as reasoning: Google
//! bills them as output). In a JSON file a message without `model` is skipped and a
//! repeated id counts again; in JSONL the last model carries forward and a repeated id
//! is the same message (the larger copy is kept).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::records::{Links, UsageEvent};
use crate::tokens::Tokens;
use crate::usage::import::walk::walk;
use crate::usage::import::{FileJob, FileRead, Format, Found, read_lines};

pub const SOURCE: &str = "gemini-log";

pub struct Chats;

fn in_chats(p: &Path) -> bool {
    let ext = p.extension().and_then(|e| e.to_str());
    matches!(ext, Some("json" | "jsonl"))
        && p.parent()
            .and_then(|d| d.file_name())
            .is_some_and(|n| n == "chats")
}

impl Format for Chats {
    fn agent(&self) -> &'static str {
        "gemini"
    }
    fn source(&self) -> &'static str {
        SOURCE
    }
    fn files_noun(&self) -> &'static str {
        "chat files"
    }
    fn find(&self, root: &Path, out: &mut Vec<Found>) {
        walk(root, &in_chats, out);
    }
    fn log_of(&self, root: &Path, changed: &Path) -> Option<std::path::PathBuf> {
        (changed.starts_with(root) && in_chats(changed)).then(|| changed.to_path_buf())
    }
    fn whole(&self, path: &Path) -> bool {
        path.extension().is_some_and(|e| e == "json")
    }
    fn read(&self, job: &FileJob, out: &mut FileRead) {
        if job.path.extension().is_some_and(|e| e == "jsonl") {
            let mut state: State = job
                .state
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_default();
            if state.session.is_empty() {
                state.session = stem(&job.path);
            }
            read_lines(&job.path, out, b"\"", |r, line| state.line(r, line));
            out.file.state = serde_json::to_string(&state).ok();
        } else {
            whole(&job.path, out);
        }
    }
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
struct Counts {
    #[serde(default)]
    input: u64,
    #[serde(default)]
    output: u64,
    #[serde(default)]
    cached: u64,
    #[serde(default)]
    thoughts: u64,
    #[serde(default)]
    tool: u64,
    #[serde(default)]
    total: u64,
}

impl Counts {
    fn tokens(&self) -> Tokens {
        let inside =
            self.cached > 0 && self.total == self.input + self.output + self.thoughts + self.tool;
        let input = if inside {
            self.input.saturating_sub(self.cached) + self.tool
        } else {
            self.input + self.tool
        };
        Tokens {
            input_tokens: input,
            output_tokens: self.output + self.thoughts,
            cache_read_input_tokens: self.cached,
            reasoning_output_tokens: self.thoughts,
            ..Default::default()
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct Message {
    id: Option<String>,
    timestamp: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    model: Option<String>,
    tokens: Option<Counts>,
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Session {
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
    #[serde(default)]
    messages: Vec<Message>,
}

fn event(
    r: &FileRead,
    session: &str,
    model: String,
    ts: i64,
    key: String,
    c: &Counts,
) -> UsageEvent {
    UsageEvent {
        profile: r.file.profile.clone(),
        agent: Some("gemini".into()),
        provider: None,
        model,
        ts: Some(ts),
        tokens: c.tokens(),
        source: SOURCE.into(),
        session_id: Some(session.to_string()),
        dedupe_key: Some(key),
        key_label: None,
        key_hint: None,
        links: Links::default(),
    }
}

fn parse_ts(t: Option<&str>) -> Option<i64> {
    t?.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}

/// A JSON session, read whole.
fn whole(path: &Path, r: &mut FileRead) {
    r.read_whole();
    let session: Session = match std::fs::read(path).map(|b| serde_json::from_slice(&b)) {
        Ok(Ok(s)) => s,
        Ok(Err(_)) => {
            r.malformed += 1;
            return;
        }
        Err(e) => {
            r.error = Some(e.to_string());
            return;
        }
    };
    let sid = session.session_id.unwrap_or_else(|| stem(path));
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    for (i, m) in session.messages.iter().enumerate() {
        let (Some("gemini"), Some(c), Some(model)) = (m.kind.as_deref(), &m.tokens, &m.model)
        else {
            continue;
        };
        let Some(ts) = parse_ts(m.timestamp.as_deref()) else {
            r.malformed += 1;
            continue;
        };
        // A repeated id counts again (as ccusage counts it): the n-th copy has its own key.
        let id = m.id.clone().unwrap_or_else(|| format!("#{i}"));
        let n = seen.entry(id.clone()).or_default();
        let key = format!("gemini:{sid}:{id}:{n}");
        *n += 1;
        let e = event(r, &sid, model.clone(), ts, key, c);
        r.push(e);
    }
}

/// What a JSONL chat's reader carries between reads.
#[derive(Debug, Default, Deserialize, Serialize)]
struct State {
    session: String,
    model: Option<String>,
}

impl State {
    fn line(&mut self, r: &mut FileRead, bytes: &[u8]) {
        let Ok(m) = serde_json::from_slice::<Message>(bytes) else {
            r.malformed += 1;
            return;
        };
        if let Some(sid) = m.session_id.as_ref().filter(|_| m.kind.is_none()) {
            self.session = sid.clone(); // the header line
        }
        if let Some(model) = &m.model {
            self.model = Some(model.clone());
        }
        let (Some("gemini"), Some(c)) = (m.kind.as_deref(), &m.tokens) else {
            return;
        };
        let Some(ts) = parse_ts(m.timestamp.as_deref()) else {
            r.malformed += 1;
            return;
        };
        let model = self.model.clone().unwrap_or_else(|| "unknown".into());
        let id = m.id.clone().unwrap_or_else(|| format!("{ts}"));
        let key = format!("gemini:{}:{id}", self.session);
        let e = event(r, &self.session.clone(), model, ts, key, c);
        r.push(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::import::file_test::{lines, test_read};

    #[test]
    fn cached_inside_or_beside_the_input() {
        let inside = Counts {
            input: 15327,
            output: 23,
            cached: 11526,
            thoughts: 919,
            tool: 7,
            total: 16276,
        };
        let t = inside.tokens();
        assert_eq!(
            (
                t.input_tokens,
                t.cache_read_input_tokens,
                t.output_tokens,
                t.reasoning_output_tokens
            ),
            (3808, 11526, 942, 919)
        );
        assert_eq!(t.total(), 16276);
        let beside = Counts {
            input: 1000,
            output: 200,
            cached: 500,
            thoughts: 100,
            tool: 0,
            total: 1800,
        };
        assert_eq!(beside.tokens().input_tokens, 1000);
        assert_eq!(beside.tokens().total(), 1800);
    }

    #[test]
    fn jsonl_carries_the_model_and_keeps_one_copy_per_id() {
        let text = concat!(
            r#"{"sessionId":"gem-sess-2","projectHash":"proj-b","startTime":"2026-03-11T10:00:00.000Z"}"#,
            "\n",
            r#"{"id":"j1","timestamp":"2026-03-11T10:00:10.000Z","type":"gemini","model":"gemini-2.5-pro","tokens":{"input":3000,"output":300,"cached":1000,"thoughts":50,"tool":0,"total":3350}}"#,
            "\n",
            r#"{"id":"j2","timestamp":"2026-03-11T10:01:00.000Z","type":"gemini","tokens":{"input":100,"output":10,"cached":0,"thoughts":0,"tool":0,"total":110}}"#,
            "\n",
            r#"{"id":"j2","timestamp":"2026-03-11T10:01:01.000Z","type":"gemini","tokens":{"input":200,"output":20,"cached":0,"thoughts":0,"tool":0,"total":220}}"#,
            "\n",
        );
        let mut r = test_read("p");
        let mut s = State::default();
        lines(text, &mut r, b"\"", |r, l| s.line(r, l));
        let got: Vec<(String, u64, u64)> = r
            .file
            .events
            .iter()
            .map(|e| {
                (
                    e.model.clone(),
                    e.tokens.input_tokens,
                    e.tokens.output_tokens,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("gemini-2.5-pro".into(), 2000, 350),
                ("gemini-2.5-pro".into(), 200, 20)
            ]
        );
        assert_eq!(r.file.events[0].session_id.as_deref(), Some("gem-sess-2"));
    }
}
