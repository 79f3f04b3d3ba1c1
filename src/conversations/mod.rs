//! The agents' own conversations, read from their files in a profile home (never
//! written, except to copy one into another profile's home to resume it there):
//! Claude Code's `projects/<dir>/<id>.jsonl`, Codex CLI's `sessions/YYYY/MM/DD/rollout-*.jsonl`
//! (its `session_meta` first line), Gemini CLI's `.gemini/tmp/<project>/chats/*.jsonl`.
//! For each: the agent's id of it (what resuming takes), the directory it ran in, its
//! first prompt, when it started and when it was last written. Only the head of each
//! file is read for the list; a text search reads the prompts of the whole file.
//!
//! [`resume_args`] says how each agent resumes one (`claude --resume ID`, `codex resume
//! ID`, `gemini --resume ID`, …, or the latest in the directory when the id is unknown).

mod claude;
mod codex;
mod gemini;

use std::path::{Path, PathBuf};

use serde::Serialize;

/// The longest first prompt kept.
pub const MAX_PROMPT: usize = 500;
/// How much of a file's head is read for the list.
const HEAD_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conversation {
    pub agent_id: String,
    /// The agent's own id of the conversation.
    pub id: String,
    pub cwd: Option<String>,
    pub first_prompt: Option<String>,
    /// RFC 3339.
    pub started_at: Option<String>,
    /// RFC 3339 (the file's last write).
    pub last_activity: String,
    /// Unix seconds of the same, for sorting and matching.
    #[serde(skip)]
    pub last_secs: i64,
    #[serde(skip)]
    pub file: PathBuf,
}

/// The conversations of `agent_id` kept in `home` (a profile home), newest first.
pub fn scan(agent_id: &str, home: &Path) -> Vec<Conversation> {
    let mut out = match agent_id {
        "claude" => claude::scan(home),
        "codex" => codex::scan(home),
        "gemini" => gemini::scan(home),
        _ => Vec::new(),
    };
    out.sort_by(|a, b| b.last_secs.cmp(&a.last_secs).then_with(|| a.id.cmp(&b.id)));
    out
}

/// Whether `c` matches `query` (case-insensitive): its id, directory, first prompt, or
/// any prompt in its file.
pub fn matches(agent_id: &str, c: &Conversation, query: &str) -> bool {
    let q = query.to_lowercase();
    let hit = |s: &Option<String>| s.as_deref().is_some_and(|s| s.to_lowercase().contains(&q));
    if c.id.to_lowercase().contains(&q) || hit(&c.cwd) || hit(&c.first_prompt) {
        return true;
    }
    let prompts = match agent_id {
        "claude" => claude::prompts(&c.file),
        "codex" => codex::prompts(&c.file),
        "gemini" => gemini::prompts(&c.file),
        _ => Vec::new(),
    };
    prompts.iter().any(|p| p.to_lowercase().contains(&q))
}

/// The arguments that resume conversation `id` with `agent_id` (or, without an id, its
/// latest one in the working directory); None for an agent that cannot resume.
pub fn resume_args(agent_id: &str, id: Option<&str>) -> Option<Vec<String>> {
    let args: Vec<&str> = match (agent_id, id) {
        ("claude" | "qwen" | "droid" | "gemini", Some(id)) => vec!["--resume", id],
        ("codex", Some(id)) => vec!["resume", id],
        ("opencode", Some(id)) => vec!["--session", id],
        ("claude" | "qwen" | "opencode", None) => vec!["--continue"],
        ("codex", None) => vec!["resume", "--last"],
        ("gemini", None) => vec!["--resume", "latest"],
        ("droid", None) => vec!["--resume"],
        _ => return None,
    };
    Some(args.into_iter().map(String::from).collect())
}

/// The conversation of `agent_id` in `home` that a session in `cwd` running between
/// `from` and `to` (Unix seconds) most likely had: the last one written in that window
/// in that directory.
pub fn of_session(
    agent_id: &str,
    home: &Path,
    cwd: &str,
    from: i64,
    to: i64,
) -> Option<Conversation> {
    scan(agent_id, home)
        .into_iter()
        .filter(|c| c.cwd.as_deref() == Some(cwd))
        .find(|c| c.last_secs >= from - 5 && c.last_secs <= to + 5)
}

/// Makes conversation `c` (of `agent_id`, kept in `from`) available in the home `to`, at
/// the same place, so that agent there resumes it. An existing file is left alone.
pub fn copy_into(agent_id: &str, c: &Conversation, from: &Path, to: &Path) -> std::io::Result<()> {
    let rel = c
        .file
        .strip_prefix(from)
        .map_err(|_| std::io::Error::other("the conversation is not in that home"))?;
    let dest = to.join(rel);
    if dest.exists() {
        return Ok(());
    }
    if let Some(dir) = dest.parent() {
        crate::paths::ensure_private_dir(dir)?;
    }
    let _ = agent_id;
    std::fs::copy(&c.file, &dest).map(|_| ())
}

/// The head of `path` (at most [`HEAD_BYTES`]), split in lines.
fn head_lines(path: &Path) -> Vec<String> {
    use std::io::Read;
    let mut buf = Vec::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(HEAD_BYTES as u64).read_to_end(&mut buf);
    }
    String::from_utf8_lossy(&buf)
        .lines()
        .map(String::from)
        .collect()
}

/// Every line of `path` holding `marker` (a cheap filter before parsing), parsed.
fn lines_with(path: &Path, marker: &[u8]) -> Vec<serde_json::Value> {
    use std::io::BufRead;
    let Ok(f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    std::io::BufReader::new(f)
        .split(b'\n')
        .map_while(Result::ok)
        .filter(|l| memchr::memmem::find(l, marker).is_some())
        .filter_map(|l| serde_json::from_slice(&l).ok())
        .collect()
}

/// Last modification of `path`: (Unix seconds, RFC 3339).
fn modified(path: &Path) -> (i64, String) {
    let secs = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let text = jiff::Timestamp::from_second(secs)
        .map(crate::time::rfc3339)
        .unwrap_or_default();
    (secs, text)
}

fn cut(s: &str) -> String {
    let s = s.trim();
    s.chars().take(MAX_PROMPT).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_arguments() {
        assert_eq!(
            resume_args("claude", Some("abc")).unwrap(),
            ["--resume", "abc"]
        );
        assert_eq!(
            resume_args("codex", Some("abc")).unwrap(),
            ["resume", "abc"]
        );
        assert_eq!(resume_args("codex", None).unwrap(), ["resume", "--last"]);
        assert_eq!(resume_args("claude", None).unwrap(), ["--continue"]);
        assert_eq!(resume_args("grok", Some("x")), None);
    }
}
