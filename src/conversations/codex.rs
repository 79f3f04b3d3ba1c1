//! Codex CLI: `<home>/sessions/YYYY/MM/DD/rollout-<time>-<id>.jsonl`, whose first line is
//! the `session_meta` (id, cwd, time). A prompt is a `UserMessage` item, or a user
//! `response_item` that is not one of the instructions Codex itself adds.

use std::path::Path;

use serde_json::Value;

use super::{Conversation, cut, head_lines, lines_with, modified};

pub fn scan(home: &Path) -> Vec<Conversation> {
    let mut files = Vec::new();
    collect(&home.join("sessions"), 0, &mut files);
    files.iter().filter_map(|p| read(p)).collect()
}

fn collect(dir: &Path, depth: usize, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if depth < 3 && p.is_dir() {
            collect(&p, depth + 1, out);
        } else if p.extension().and_then(|x| x.to_str()) == Some("jsonl")
            && p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("rollout-"))
        {
            out.push(p);
        }
    }
}

fn read(path: &Path) -> Option<Conversation> {
    let (last_secs, last_activity) = modified(path);
    let lines = head_lines(path);
    let meta: Value = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["type"] == "session_meta")?;
    let p = &meta["payload"];
    let id = p["id"]
        .as_str()
        .or_else(|| p["session_id"].as_str())?
        .to_string();
    let first_prompt = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find_map(|v| prompt(&v));
    Some(Conversation {
        agent_id: "codex".into(),
        id,
        cwd: p["cwd"].as_str().map(String::from),
        first_prompt,
        started_at: p["timestamp"]
            .as_str()
            .or_else(|| meta["timestamp"].as_str())
            .map(String::from),
        last_activity,
        last_secs,
        file: path.to_path_buf(),
    })
}

fn prompt(v: &Value) -> Option<String> {
    let p = &v["payload"];
    let text = if v["type"] == "event_msg"
        && p["type"] == "item_completed"
        && p["item"]["type"] == "UserMessage"
    {
        p["item"]["content"]
            .as_array()?
            .iter()
            .filter_map(|c| c["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    } else if v["type"] == "event_msg" && p["type"] == "user_message" {
        p["message"].as_str()?.to_string()
    } else {
        return None;
    };
    let text = cut(&text);
    (!text.is_empty() && !text.starts_with('<') && !text.starts_with("# AGENTS.md")).then_some(text)
}

pub fn prompts(path: &Path) -> Vec<String> {
    lines_with(path, b"\"event_msg\"")
        .iter()
        .filter_map(prompt)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollout_read_as_codex_writes_it() {
        let home = std::env::temp_dir().join(format!("clown-conv-codex-{}", std::process::id()));
        let dir = home.join("sessions/2026/11/29");
        std::fs::create_dir_all(&dir).unwrap();
        let lines = [
            r#"{"timestamp":"2026-11-29T02:00:00Z","type":"session_meta","payload":{"session_id":"01a2","id":"01a2","timestamp":"2026-11-29T02:00:00Z","cwd":"/work/proj","originator":"codex-tui"}}"#,
            r#"{"type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"<environment_context>...</environment_context>"}]}}"#,
            r#"{"type":"event_msg","payload":{"type":"item_completed","item":{"type":"UserMessage","content":[{"type":"text","text":"please MKDIR now"}]}}}"#,
        ];
        std::fs::write(
            dir.join("rollout-2026-11-29T02-00-00-01a2.jsonl"),
            lines.join("\n"),
        )
        .unwrap();
        let all = scan(&home);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].id, "01a2");
        assert_eq!(all[0].cwd.as_deref(), Some("/work/proj"));
        assert_eq!(all[0].first_prompt.as_deref(), Some("please MKDIR now"));
        std::fs::remove_dir_all(&home).unwrap();
    }
}
