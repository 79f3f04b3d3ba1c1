//! Gemini CLI: `<home>/.gemini/tmp/<project>/chats/session-*.jsonl` (home =
//! `GEMINI_CLI_HOME`); the first line names the session, `.gemini/projects.json` maps
//! each project's short name back to its directory. The first user message is Gemini's
//! own context preamble; the prompts come after it.

use std::path::Path;

use serde_json::Value;

use super::{Conversation, cut, head_lines, lines_with, modified};

pub fn scan(home: &Path) -> Vec<Conversation> {
    let base = home.join(".gemini");
    let projects: Value = std::fs::read(base.join("projects.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let dir_of = |name: &str| {
        projects["projects"].as_object().and_then(|m| {
            m.iter()
                .find(|(_, v)| v.as_str() == Some(name))
                .map(|(k, _)| k.clone())
        })
    };
    let Ok(entries) = std::fs::read_dir(base.join("tmp")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for project in entries.flatten() {
        let name = project.file_name().to_string_lossy().to_string();
        let Ok(chats) = std::fs::read_dir(project.path().join("chats")) else {
            continue;
        };
        for chat in chats.flatten() {
            let path = chat.path();
            if path.extension().and_then(|e| e.to_str()) != Some("jsonl") {
                continue;
            }
            let lines = head_lines(&path);
            let Some(first) = lines
                .first()
                .and_then(|l| serde_json::from_str::<Value>(l).ok())
            else {
                continue;
            };
            let Some(id) = first["sessionId"].as_str() else {
                continue;
            };
            let (last_secs, last_activity) = modified(&path);
            let first_prompt = lines
                .iter()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter_map(|v| prompt(&v))
                .nth(1);
            out.push(Conversation {
                agent_id: "gemini".into(),
                id: id.to_string(),
                cwd: dir_of(&name),
                first_prompt,
                started_at: first["startTime"].as_str().map(String::from),
                last_activity,
                last_secs,
                file: path,
            });
        }
    }
    out
}

fn prompt(v: &Value) -> Option<String> {
    if v["type"] != "user" {
        return None;
    }
    let text = match &v["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => return None,
    };
    let text = cut(&text);
    (!text.is_empty()).then_some(text)
}

pub fn prompts(path: &Path) -> Vec<String> {
    lines_with(path, b"\"type\":\"user\"")
        .iter()
        .filter_map(prompt)
        .skip(1)
        .collect()
}
