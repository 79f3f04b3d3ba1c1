//! opencode's messages: the SQLite `opencode.db` (table `message`, JSON in `data`; read
//! from the last update seen) and the older one-file-per-message store
//! `storage/message/<session>/<message>.json` (each read whole when it changed).
//!
//! An assistant message with `tokens`, `modelID` and `providerID` is one request: input =
//! `tokens.input` (opencode already left the cached tokens out), cache write and read as
//! named, output = `tokens.output` + `tokens.reasoning` (reasoning kept apart too). The
//! key is the message id, so a message in both stores, or updated as it completes,
//! counts once (the larger copy). opencode's own `cost` field is not used: costs come
//! from the registry like every other agent's (ccusage takes a stored cost when it is
//! above zero).

use std::path::Path;

use serde::Deserialize;

use crate::records::{Links, UsageEvent};
use crate::tokens::Tokens;
use crate::usage::import::walk::{ends_with, walk};
use crate::usage::import::{FileJob, FileRead, Format, Found, read_file};

pub const SOURCE: &str = "opencode-log";

pub struct Messages;

fn is_db(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n == "opencode.db" || (n.starts_with("opencode-") && n.ends_with(".db")))
}

impl Format for Messages {
    fn agent(&self) -> &'static str {
        "opencode"
    }
    fn source(&self) -> &'static str {
        SOURCE
    }
    fn files_noun(&self) -> &'static str {
        "databases and message files"
    }
    fn find(&self, root: &Path, out: &mut Vec<Found>) {
        if let Ok(entries) = std::fs::read_dir(root) {
            for e in entries.flatten() {
                if let Some(f) = Some(e.path())
                    .filter(|p| is_db(p))
                    .and_then(|p| self.stat(&p))
                {
                    out.push(f);
                }
            }
        }
        walk(
            &root.join("storage/message"),
            &|p| ends_with(p, ".json"),
            out,
        );
    }
    fn log_of(&self, root: &Path, changed: &Path) -> Option<std::path::PathBuf> {
        if changed.parent() == Some(root) {
            let name = changed.file_name()?.to_str()?;
            let db = changed.with_file_name(name.strip_suffix("-wal").unwrap_or(name));
            return is_db(&db).then_some(db);
        }
        (changed.starts_with(root.join("storage/message")) && ends_with(changed, ".json"))
            .then(|| changed.to_path_buf())
    }
    /// A database's writes land in its WAL until a checkpoint: it is part of the change.
    fn stat(&self, path: &Path) -> Option<Found> {
        let meta = std::fs::metadata(path).ok().filter(|m| m.is_file())?;
        let mut found = Found::of(path.to_path_buf(), &meta);
        if is_db(path) {
            let mut wal = path.as_os_str().to_owned();
            wal.push("-wal");
            if let Ok(w) = std::fs::metadata(&wal) {
                let w = Found::of(wal.into(), &w);
                found.size += w.size;
                found.mtime_ns = found.mtime_ns.max(w.mtime_ns);
            }
        }
        Some(found)
    }
    fn watch_dirs(&self, root: &Path) -> Vec<(std::path::PathBuf, bool)> {
        vec![
            (root.to_path_buf(), false),
            (root.join("storage/message"), true),
        ]
    }
    fn whole(&self, _path: &Path) -> bool {
        true
    }
    fn read(&self, job: &FileJob, out: &mut FileRead) {
        out.read_whole();
        if is_db(&job.path) {
            read_db(job, out);
        } else {
            match read_file(&job.path, job.size) {
                Ok(b) => message(out, None, None, &b),
                Err(e) => out.error = Some(e.to_string()),
            }
        }
    }
}

fn read_db(job: &FileJob, out: &mut FileRead) {
    let since: i64 = job
        .state
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    match crate::store::foreign::opencode_messages(&job.path, since) {
        Ok(rows) => {
            let mut last = since;
            for m in rows {
                last = last.max(m.time_updated);
                message(out, Some(&m.id), Some(&m.session_id), m.data.as_bytes());
            }
            out.file.state = Some(last.to_string());
        }
        Err(e) => out.error = Some(e.to_string()),
    }
}

#[derive(Debug, Default, Deserialize)]
struct Cache {
    #[serde(default)]
    read: u64,
    #[serde(default)]
    write: u64,
}

#[derive(Debug, Default, Deserialize)]
struct Counts {
    #[serde(default)]
    input: u64,
    #[serde(default)]
    output: u64,
    #[serde(default)]
    reasoning: u64,
    #[serde(default)]
    cache: Cache,
}

#[derive(Debug, Default, Deserialize)]
struct Time {
    created: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Message {
    id: Option<String>,
    #[serde(rename = "sessionID")]
    session_id: Option<String>,
    role: Option<String>,
    #[serde(default)]
    time: Time,
    #[serde(rename = "modelID")]
    model_id: Option<String>,
    #[serde(rename = "providerID")]
    provider_id: Option<String>,
    tokens: Option<Counts>,
}

fn message(r: &mut FileRead, id: Option<&str>, session: Option<&str>, data: &[u8]) {
    let Ok(m) = serde_json::from_slice::<Message>(data) else {
        r.malformed += 1;
        return;
    };
    let (Some(c), Some(model), Some(_)) = (&m.tokens, &m.model_id, &m.provider_id) else {
        return;
    };
    if m.role.as_deref().is_some_and(|role| role != "assistant") {
        return;
    }
    let Some(id) = id.map(String::from).or(m.id.clone()) else {
        r.malformed += 1;
        return;
    };
    let Some(ms) = m.time.created else {
        r.malformed += 1;
        return;
    };
    let session = session.map(String::from).or(m.session_id.clone());
    r.push(UsageEvent {
        profile: r.file.profile.clone(),
        agent: Some("opencode".into()),
        provider: m.provider_id.clone(),
        model: model.clone(),
        ts: Some((ms / 1000.0).floor() as i64),
        tokens: Tokens {
            input_tokens: c.input,
            output_tokens: c.output + c.reasoning,
            cache_creation_input_tokens: c.cache.write,
            cache_read_input_tokens: c.cache.read,
            reasoning_output_tokens: c.reasoning,
            ..Default::default()
        },
        source: SOURCE.into(),
        session_id: session,
        dedupe_key: Some(format!("opencode:{id}")),
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
    fn assistant_messages_only() {
        let mut r = test_read("p");
        message(&mut r, None, None, br#"{"id": "msg_A3", "sessionID": "ses_A", "role": "assistant", "time": {"created": 1773137000000}, "modelID": "gpt-5", "providerID": "openai", "cost": 0.5, "tokens": {"input": 1000, "output": 300, "reasoning": 200, "cache": {"read": 4000, "write": 0}}}"#);
        message(&mut r, None, None, br#"{"id": "msg_U1", "sessionID": "ses_A", "role": "user", "time": {"created": 1773133100000}}"#);
        message(&mut r, Some("msg_D2"), Some("ses_D"), br#"{"role": "assistant", "time": {"created": 1773219700000}, "modelID": "gpt-5", "providerID": "openai", "tokens": {"input": 500, "output": 50, "reasoning": 25, "cache": {"read": 0, "write": 0}}}"#);
        assert_eq!(r.file.events.len(), 2);
        let e = &r.file.events[0];
        assert_eq!(
            (
                e.tokens.output_tokens,
                e.tokens.reasoning_output_tokens,
                e.tokens.total()
            ),
            (500, 200, 5500)
        );
        assert_eq!(e.ts, Some(1773137000));
        assert_eq!(
            r.file.events[1].dedupe_key.as_deref(),
            Some("opencode:msg_D2")
        );
        assert_eq!(r.file.events[1].session_id.as_deref(), Some("ses_D"));
    }
}
