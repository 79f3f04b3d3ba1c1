//! The request: a Responses API body as a Chat Completions one.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

/// A translated request and what the answer's translation needs to know.
pub struct Translated {
    pub body: Vec<u8>,
    pub custom_tools: HashSet<String>,
}

/// Turns a Responses API request body into a Chat Completions one.
pub fn request(body: &[u8]) -> Result<Translated, String> {
    let req: Value =
        serde_json::from_slice(body).map_err(|e| format!("the request is not JSON: {e}"))?;
    let obj = req
        .as_object()
        .ok_or("the request body is not a JSON object")?;
    let mut messages = Vec::new();
    if let Some(text) = obj.get("instructions").and_then(Value::as_str)
        && !text.is_empty()
    {
        messages.push(json!({"role": "system", "content": text}));
    }
    match obj.get("input") {
        Some(Value::String(text)) => messages.push(json!({"role": "user", "content": text})),
        Some(Value::Array(items)) => {
            for item in items {
                push_item(&mut messages, item);
            }
        }
        _ => {}
    }
    merge_leading_system(&mut messages);
    let mut custom_tools = HashSet::new();
    let tools: Vec<Value> = obj
        .get("tools")
        .and_then(Value::as_array)
        .map(|ts| {
            ts.iter()
                .filter_map(|t| tool(t, &mut custom_tools))
                .collect()
        })
        .unwrap_or_default();
    let mut out = Map::new();
    out.insert(
        "model".into(),
        obj.get("model").cloned().unwrap_or(Value::Null),
    );
    out.insert("messages".into(), Value::Array(messages));
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = obj.get("tool_choice") {
            out.insert("tool_choice".into(), tool_choice(choice));
        }
        if let Some(p) = obj.get("parallel_tool_calls").filter(|v| v.is_boolean()) {
            out.insert("parallel_tool_calls".into(), p.clone());
        }
    }
    for (from, to) in [
        ("max_output_tokens", "max_tokens"),
        ("temperature", "temperature"),
        ("top_p", "top_p"),
    ] {
        if let Some(v) = obj.get(from).filter(|v| v.is_number()) {
            out.insert(to.into(), v.clone());
        }
    }
    if obj.get("stream") == Some(&Value::Bool(true)) {
        out.insert("stream".into(), Value::Bool(true));
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Ok(Translated {
        body: Value::Object(out).to_string().into_bytes(),
        custom_tools,
    })
}

/// One system message at the start: the instructions and the developer messages before
/// the conversation (several providers accept only one, and only first).
fn merge_leading_system(messages: &mut Vec<Value>) {
    let n = messages
        .iter()
        .take_while(|m| m["role"] == "system" && m["content"].is_string())
        .count();
    if n < 2 {
        return;
    }
    let text = messages
        .drain(..n)
        .filter_map(|m| m["content"].as_str().map(String::from))
        .collect::<Vec<_>>()
        .join("\n\n");
    messages.insert(0, json!({"role": "system", "content": text}));
}

fn push_item(messages: &mut Vec<Value>, item: &Value) {
    let kind = item
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    match kind {
        "message" => {
            let role = match item.get("role").and_then(Value::as_str) {
                Some("developer" | "system") => "system",
                Some("assistant") => "assistant",
                _ => "user",
            };
            messages.push(json!({"role": role, "content": content(&item["content"], role)}));
        }
        "function_call" | "custom_tool_call" => {
            let arguments = if kind == "function_call" {
                item["arguments"].as_str().unwrap_or("{}").to_string()
            } else {
                json!({"input": item["input"].as_str().unwrap_or_default()}).to_string()
            };
            let call = json!({"id": item["call_id"], "type": "function",
                              "function": {"name": item["name"], "arguments": arguments}});
            // Calls of one turn belong to the assistant message just before them.
            match messages.last_mut() {
                Some(last) if last["role"] == "assistant" => {
                    match last.get_mut("tool_calls").and_then(Value::as_array_mut) {
                        Some(calls) => calls.push(call),
                        None => last["tool_calls"] = json!([call]),
                    }
                }
                _ => messages
                    .push(json!({"role": "assistant", "content": null, "tool_calls": [call]})),
            }
        }
        "function_call_output" | "custom_tool_call_output" => {
            messages.push(json!({"role": "tool", "tool_call_id": item["call_id"],
                                 "content": text_of(&item["output"])}));
        }
        // Reasoning, hosted tool calls: nothing Chat Completions can carry.
        _ => {}
    }
}

/// A message's content: plain text, or parts when a user message holds images.
fn content(parts: &Value, role: &str) -> Value {
    let Some(list) = parts.as_array() else {
        return Value::String(text_of(parts));
    };
    let has_image = list.iter().any(|p| p["type"] == "input_image");
    if role == "user" && has_image {
        let converted: Vec<Value> = list
            .iter()
            .filter_map(|p| match p["type"].as_str() {
                Some("input_image") => p
                    .get("image_url")
                    .map(|url| json!({"type": "image_url", "image_url": {"url": url}})),
                _ => p.get("text").map(|t| json!({"type": "text", "text": t})),
            })
            .collect();
        return Value::Array(converted);
    }
    Value::String(text_of(parts))
}

/// The text of a string, or of a list of content parts joined by newlines.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str).or(p.as_str()))
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn tool(t: &Value, custom: &mut HashSet<String>) -> Option<Value> {
    let name = t.get("name").and_then(Value::as_str)?;
    let description = t.get("description").and_then(Value::as_str).unwrap_or("");
    match t.get("type").and_then(Value::as_str)? {
        "function" => Some(json!({"type": "function", "function": {
            "name": name,
            "description": description,
            "parameters": t
                .get("parameters")
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        }})),
        "custom" => {
            custom.insert(name.to_string());
            let mut described = description.to_string();
            if let Some(def) = t["format"]["definition"].as_str() {
                let syntax = t["format"]["syntax"].as_str().unwrap_or("grammar");
                described.push_str(&format!(
                    "\n\nThe input follows this {syntax} definition:\n{def}"
                ));
            }
            Some(json!({"type": "function", "function": {
                "name": name,
                "description": described,
                "parameters": {"type": "object",
                    "properties": {"input": {"type": "string",
                        "description": "The tool's whole input, as free-form text."}},
                    "required": ["input"]},
            }}))
        }
        _ => None,
    }
}

fn tool_choice(choice: &Value) -> Value {
    match choice {
        Value::String(_) => choice.clone(),
        Value::Object(o) => match o.get("name") {
            Some(name) => json!({"type": "function", "function": {"name": name}}),
            None => json!("auto"),
        },
        _ => json!("auto"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_become_chat_completions() {
        let body = json!({
            "model": "deepseek-chat", "instructions": "Be brief.", "stream": true,
            "max_output_tokens": 100, "reasoning": {"effort": "high"}, "store": false,
            "tool_choice": "auto", "parallel_tool_calls": false,
            "tools": [
                {"type": "function", "name": "shell", "description": "Run", "strict": false,
                 "parameters": {"type": "object", "properties": {"command": {"type": "array"}}}},
                {"type": "custom", "name": "apply_patch", "description": "Patch files",
                 "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}},
                {"type": "web_search"}
            ],
            "input": [
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}]},
                {"type": "reasoning", "summary": [], "encrypted_content": "x"},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "On it."}]},
                {"type": "function_call", "name": "shell", "arguments": "{\"command\":[\"ls\"]}", "call_id": "c1"},
                {"type": "custom_tool_call", "name": "apply_patch", "input": "*** Begin Patch", "call_id": "c2"},
                {"type": "function_call_output", "call_id": "c1", "output": "file.txt"},
                {"type": "custom_tool_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "done"}]}
            ]
        });
        let t = request(body.to_string().as_bytes()).unwrap();
        let chat: Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(
            chat["messages"],
            json!([
                {"role": "system", "content": "Be brief.\n\nrules"},
                {"role": "user", "content": "a\nb"},
                {"role": "assistant", "content": "On it.", "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "shell", "arguments": "{\"command\":[\"ls\"]}"}},
                    {"id": "c2", "type": "function", "function": {"name": "apply_patch", "arguments": "{\"input\":\"*** Begin Patch\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "c1", "content": "file.txt"},
                {"role": "tool", "tool_call_id": "c2", "content": "done"}
            ])
        );
        let tools = chat["tools"].as_array().unwrap();
        assert_eq!(tools.len(), 2, "hosted tools are left out");
        assert_eq!(tools[0]["function"]["name"], "shell");
        assert_eq!(
            tools[1]["function"]["parameters"]["required"],
            json!(["input"])
        );
        assert!(
            tools[1]["function"]["description"]
                .as_str()
                .unwrap()
                .contains("start: x")
        );
        assert_eq!(t.custom_tools, HashSet::from(["apply_patch".to_string()]));
        assert_eq!(chat["max_tokens"], 100);
        assert_eq!(chat["stream_options"], json!({"include_usage": true}));
        assert_eq!(chat["parallel_tool_calls"], false);
        assert!(chat.get("reasoning").is_none() && chat.get("store").is_none());
        assert!(request(b"[1]").is_err() && request(b"{").is_err());
    }
}
