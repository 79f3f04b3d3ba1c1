//! Claude Code: `<home>/projects/<escaped dir>/<id>.jsonl`. The directory's name is lossy,
//! so the `cwd` field of the lines is used; a prompt is a `"type":"user"` line whose
//! content is text (tool results are user lines too, as lists of `tool_result`).

use std::path::Path;

use serde_json::Value;

use super::{Conversation, cut, head_lines, lines_with, modified};

pub fn scan(home: &Path) -> Vec<Conversation> {
    let Ok(dirs) = std::fs::read_dir(home.join("projects")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for dir in dirs.flatten() {
        let Ok(files) = std::fs::read_dir(dir.path()) else {
            continue;
        };
        for f in files.flatten() {
            let path = f.path();
            if path.extension().and_then(|e| e.to_str()) != Some("jsonl") {
                continue;
            }
            let Some(id) = path.file_stem().and_then(|s| s.to_str()).map(String::from) else {
                continue;
            };
            out.push(read(&path, id));
        }
    }
    out
}

fn read(path: &Path, id: String) -> Conversation {
    let (last_secs, last_activity) = modified(path);
    let mut cwd = None;
    let mut started_at = None;
    let mut first_prompt = None;
    for line in head_lines(path) {
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if cwd.is_none() {
            cwd = v["cwd"].as_str().map(String::from);
        }
        if started_at.is_none() {
            started_at = v["timestamp"].as_str().map(String::from);
        }
        if first_prompt.is_none() {
            first_prompt = prompt(&v);
        }
        if cwd.is_some() && started_at.is_some() && first_prompt.is_some() {
            break;
        }
    }
    Conversation {
        agent_id: "claude".into(),
        id,
        cwd,
        first_prompt,
        started_at,
        last_activity,
        last_secs,
        file: path.to_path_buf(),
    }
}

/// The text a person typed, if `v` is such a line.
fn prompt(v: &Value) -> Option<String> {
    if v["type"] != "user" || v["isMeta"] == true || v["isSidechain"] == true {
        return None;
    }
    let content = &v["message"]["content"];
    let text = match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter(|b| b["type"] == "text")
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => return None,
    };
    let text = cut(&text);
    (!text.is_empty() && !text.starts_with('<')).then_some(text)
}

pub fn prompts(path: &Path) -> Vec<String> {
    lines_with(path, b"\"type\":\"user\"")
        .iter()
        .filter_map(prompt)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transcript_read_as_claude_code_writes_it() {
        let home = std::env::temp_dir().join(format!("clown-conv-claude-{}", std::process::id()));
        let dir = home.join("projects/-work-proj");
        std::fs::create_dir_all(&dir).unwrap();
        let lines = [
            r#"{"type":"permission-mode","permissionMode":"default","sessionId":"e060"}"#,
            r#"{"parentUuid":null,"isSidechain":false,"type":"user","message":{"role":"user","content":"please MKDIR now"},"timestamp":"2026-11-29T02:19:23.578Z","cwd":"/work/proj","sessionId":"e060"}"#,
            r#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash"}]},"cwd":"/work/proj"}"#,
            r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","content":"ok"}]},"cwd":"/work/proj"}"#,
            r#"{"type":"user","message":{"role":"user","content":"and then the README"},"cwd":"/work/proj"}"#,
        ];
        std::fs::write(dir.join("e060.jsonl"), lines.join("\n")).unwrap();
        let all = scan(&home);
        assert_eq!(all.len(), 1);
        let c = &all[0];
        assert_eq!(c.id, "e060");
        assert_eq!(c.cwd.as_deref(), Some("/work/proj"));
        assert_eq!(c.first_prompt.as_deref(), Some("please MKDIR now"));
        assert_eq!(c.started_at.as_deref(), Some("2026-11-29T02:19:23.578Z"));
        assert_eq!(
            prompts(&c.file),
            ["please MKDIR now", "and then the README"]
        );
        assert!(super::super::matches("claude", c, "readme"));
        assert!(!super::super::matches("claude", c, "nothing like it"));
        std::fs::remove_dir_all(&home).unwrap();
    }
}
