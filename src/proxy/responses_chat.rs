//! Responses API over Chat Completions.
//!
//! Codex CLI speaks only OpenAI's Responses API (`POST /v1/responses`); most
//! OpenAI-compatible providers serve only Chat Completions. For a target marked
//! `responses_via_chat`, the proxy turns the request into `POST /v1/chat/completions`
//! ([`request`]) and the answer back into what the Responses API would have sent: the
//! stream of `response.*` events ([`Stream`]) or one response object ([`json`]).
//!
//! What maps: `instructions` and the developer messages before the conversation → one
//! system message; later developer messages → system messages; user and assistant
//! messages as they are; function calls and their outputs → assistant `tool_calls` and
//! `tool` messages;
//! `function` tools as they are; `custom` (free-form) tools as functions with one string
//! parameter `input`, whose calls come back as `custom_tool_call`s; `max_output_tokens`,
//! `temperature`, `top_p`, `tool_choice`, `parallel_tool_calls`. What cannot be carried
//! (reasoning items, hosted tools such as web search) is left out. Usage comes back in the
//! Responses shape, cached tokens included in `input_tokens` as OpenAI counts them.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

/// A translated request and what the answer's translation needs to know.
#[derive(Debug)]
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

/// Chat usage → Responses usage (DeepSeek names its cached tokens differently).
fn usage(u: &Value) -> Value {
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let input = n(&u["prompt_tokens"]);
    let output = n(&u["completion_tokens"]);
    let cached = u["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .or_else(|| u["prompt_cache_hit_tokens"].as_u64())
        .unwrap_or(0);
    let reasoning = n(&u["completion_tokens_details"]["reasoning_tokens"]);
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": u["total_tokens"].as_u64().unwrap_or(input + output),
    })
}

/// One tool call being assembled from stream deltas.
#[derive(Debug, Default, Clone)]
struct Call {
    id: String,
    name: String,
    arguments: String,
}

/// The output items of a finished answer, in the Responses shape.
fn items(id: &str, text: &str, calls: &[Call], custom: &HashSet<String>) -> Vec<Value> {
    let mut out = Vec::new();
    if !text.is_empty() || calls.is_empty() {
        out.push(
            json!({"type": "message", "id": format!("msg_{id}"), "role": "assistant",
                        "status": "completed",
                        "content": [{"type": "output_text", "text": text, "annotations": []}]}),
        );
    }
    for (i, c) in calls.iter().enumerate() {
        let call_id = if c.id.is_empty() {
            format!("call_{id}_{i}")
        } else {
            c.id.clone()
        };
        if custom.contains(&c.name) {
            let input = serde_json::from_str::<Value>(&c.arguments)
                .ok()
                .and_then(|v| v["input"].as_str().map(String::from))
                .unwrap_or_else(|| c.arguments.clone());
            out.push(
                json!({"type": "custom_tool_call", "id": format!("ctc_{id}_{i}"),
                            "call_id": call_id, "name": c.name, "input": input,
                            "status": "completed"}),
            );
        } else {
            out.push(
                json!({"type": "function_call", "id": format!("fc_{id}_{i}"),
                            "call_id": call_id, "name": c.name, "arguments": c.arguments,
                            "status": "completed"}),
            );
        }
    }
    out
}

fn response(id: &str, model: &str, status: &str, output: Vec<Value>, usage: Value) -> Value {
    json!({"id": format!("resp_{id}"), "object": "response", "status": status, "model": model,
           "output": output, "usage": usage})
}

/// A whole (non-streamed) chat completion → one response object. A body that is not a
/// chat completion is returned as it came.
pub fn json(body: &[u8], custom: &HashSet<String>) -> Vec<u8> {
    let Ok(chat) = serde_json::from_slice::<Value>(body) else {
        return body.to_vec();
    };
    let Some(choice) = chat["choices"].get(0) else {
        return body.to_vec();
    };
    let id = chat["id"].as_str().unwrap_or("chat").to_string();
    let model = chat["model"].as_str().unwrap_or_default();
    let msg = &choice["message"];
    let text = msg["content"].as_str().unwrap_or_default();
    let calls: Vec<Call> = msg["tool_calls"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| Call {
                    id: c["id"].as_str().unwrap_or_default().into(),
                    name: c["function"]["name"].as_str().unwrap_or_default().into(),
                    arguments: c["function"]["arguments"]
                        .as_str()
                        .unwrap_or_default()
                        .into(),
                })
                .collect()
        })
        .unwrap_or_default();
    let out = items(&id, text, &calls, custom);
    response(&id, model, "completed", out, usage(&chat["usage"]))
        .to_string()
        .into_bytes()
}

/// A streamed chat completion (SSE `data:` chunks) → the Responses API's event stream.
/// Fed the upstream bytes as they arrive, in pieces of any size; [`Stream::finish`] closes
/// the answer when the upstream ends without `[DONE]`.
#[derive(Debug)]
pub struct Stream {
    custom: HashSet<String>,
    line: Vec<u8>,
    id: String,
    model: String,
    started: bool,
    text_started: bool,
    text: String,
    calls: Vec<Call>,
    usage: Value,
    done: bool,
    seq: u64,
}

impl Stream {
    pub fn new(custom: HashSet<String>) -> Self {
        Self {
            custom,
            line: Vec::new(),
            id: String::new(),
            model: String::new(),
            started: false,
            text_started: false,
            text: String::new(),
            calls: Vec::new(),
            usage: Value::Null,
            done: false,
            seq: 0,
        }
    }

    pub fn feed(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for &b in data {
            if b == b'\n' {
                let line = std::mem::take(&mut self.line);
                self.on_line(&line, &mut out);
            } else {
                self.line.push(b);
            }
        }
        out
    }

    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.on_line(&line, &mut out);
        }
        if self.started {
            self.complete(&mut out);
        }
        out
    }

    fn emit(&mut self, out: &mut Vec<u8>, mut event: Value) {
        event["sequence_number"] = json!(self.seq);
        self.seq += 1;
        let kind = event["type"].as_str().unwrap_or_default().to_string();
        out.extend_from_slice(format!("event: {kind}\ndata: {event}\n\n").as_bytes());
    }

    fn on_line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(data) = line.strip_prefix(b"data:") else {
            return;
        };
        let data = data.strip_prefix(b" ").unwrap_or(data);
        if self.done {
            return;
        }
        if data == b"[DONE]" {
            self.complete(out);
            return;
        }
        let Ok(chunk) = serde_json::from_slice::<Value>(data) else {
            return;
        };
        if !self.started {
            self.started = true;
            self.id = chunk["id"].as_str().unwrap_or("chat").to_string();
            self.model = chunk["model"].as_str().unwrap_or_default().to_string();
            let created = response(
                &self.id,
                &self.model,
                "in_progress",
                Vec::new(),
                Value::Null,
            );
            self.emit(
                out,
                json!({"type": "response.created", "response": created}),
            );
        }
        if let Some(err) = chunk.get("error") {
            self.done = true;
            let message = err["message"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| err.to_string());
            let failed = json!({"id": format!("resp_{}", self.id), "object": "response",
                                "status": "failed", "model": self.model, "output": [],
                                "error": {"code": "upstream_error", "message": message}});
            self.emit(out, json!({"type": "response.failed", "response": failed}));
            return;
        }
        if !chunk["usage"].is_null() {
            self.usage = chunk["usage"].clone();
        }
        let Some(choices) = chunk["choices"].as_array() else {
            return;
        };
        for choice in choices {
            let delta = &choice["delta"];
            if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
                if !self.text_started {
                    self.text_started = true;
                    let item = json!({"type": "message", "id": format!("msg_{}", self.id),
                                      "role": "assistant", "status": "in_progress", "content": []});
                    self.emit(
                        out,
                        json!({"type": "response.output_item.added",
                                          "output_index": 0, "item": item}),
                    );
                }
                self.text.push_str(text);
                let event = json!({"type": "response.output_text.delta",
                                   "item_id": format!("msg_{}", self.id), "output_index": 0,
                                   "content_index": 0, "delta": text});
                self.emit(out, event);
            }
            for tc in delta["tool_calls"].as_array().into_iter().flatten() {
                let index = tc["index"].as_u64().unwrap_or(0) as usize;
                if index >= self.calls.len() {
                    if index > 64 {
                        continue;
                    }
                    self.calls.resize(index + 1, Call::default());
                }
                let call = &mut self.calls[index];
                if let Some(id) = tc["id"].as_str() {
                    call.id = id.to_string();
                }
                if let Some(name) = tc["function"]["name"].as_str() {
                    call.name.push_str(name);
                }
                if let Some(args) = tc["function"]["arguments"].as_str() {
                    call.arguments.push_str(args);
                }
            }
        }
    }

    fn complete(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.done = true;
        let calls: Vec<Call> = self
            .calls
            .iter()
            .filter(|c| !c.name.is_empty())
            .cloned()
            .collect();
        let output = items(&self.id, &self.text, &calls, &self.custom);
        for (i, item) in output.iter().enumerate() {
            self.emit(
                out,
                json!({"type": "response.output_item.done", "output_index": i,
                                  "item": item}),
            );
        }
        let done = response(
            &self.id,
            &self.model,
            "completed",
            output,
            usage(&self.usage),
        );
        self.emit(out, json!({"type": "response.completed", "response": done}));
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

    fn events(out: &[u8]) -> Vec<Value> {
        String::from_utf8_lossy(out)
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    }

    #[test]
    fn a_stream_becomes_response_events_whatever_the_pieces() {
        let chunks = [
            json!({"id": "x1", "model": "deepseek-chat", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
            json!({"id": "x1", "model": "deepseek-chat", "choices": [{"index": 0, "delta": {"content": "Hel"}}]}),
            json!({"id": "x1", "model": "deepseek-chat", "choices": [{"index": 0, "delta": {"content": "lo"}}]}),
            json!({"id": "x1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_a", "function": {"name": "shell", "arguments": "{\"comm"}}]}}]}),
            json!({"id": "x1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "and\":[\"ls\"]}"}}, {"index": 1, "id": "call_b", "function": {"name": "apply_patch", "arguments": "{\"input\":\"P\"}"}}]}}]}),
            json!({"id": "x1", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
            json!({"id": "x1", "choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107, "prompt_cache_hit_tokens": 60}}),
        ];
        let mut wire = String::new();
        for c in &chunks {
            wire.push_str(&format!("data: {c}\r\n\r\n"));
        }
        wire.push_str(": keep-alive\n\ndata: [DONE]\n\n");
        for piece in [1, 7, wire.len()] {
            let mut s = Stream::new(HashSet::from(["apply_patch".to_string()]));
            let mut out = Vec::new();
            for part in wire.as_bytes().chunks(piece) {
                out.extend(s.feed(part));
            }
            out.extend(s.finish());
            let ev = events(&out);
            let kinds: Vec<&str> = ev.iter().map(|e| e["type"].as_str().unwrap()).collect();
            assert_eq!(
                kinds,
                [
                    "response.created",
                    "response.output_item.added",
                    "response.output_text.delta",
                    "response.output_text.delta",
                    "response.output_item.done",
                    "response.output_item.done",
                    "response.output_item.done",
                    "response.completed"
                ],
                "pieces of {piece}"
            );
            let done = &ev[7]["response"];
            assert_eq!(done["output"][0]["content"][0]["text"], "Hello");
            assert_eq!(
                (
                    &done["output"][1]["type"],
                    &done["output"][1]["call_id"],
                    &done["output"][1]["arguments"]
                ),
                (
                    &json!("function_call"),
                    &json!("call_a"),
                    &json!("{\"command\":[\"ls\"]}")
                )
            );
            assert_eq!(
                (&done["output"][2]["type"], &done["output"][2]["input"]),
                (&json!("custom_tool_call"), &json!("P"))
            );
            assert_eq!(
                done["usage"],
                json!({"input_tokens": 100, "input_tokens_details": {"cached_tokens": 60},
                       "output_tokens": 7, "output_tokens_details": {"reasoning_tokens": 0},
                       "total_tokens": 107})
            );
            let seq: Vec<u64> = ev
                .iter()
                .map(|e| e["sequence_number"].as_u64().unwrap())
                .collect();
            assert_eq!(seq, (0..8).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_stream_cut_short_still_completes_and_errors_fail() {
        let mut s = Stream::new(HashSet::new());
        let mut out =
            s.feed(b"data: {\"id\":\"y\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n");
        out.extend(s.finish());
        let ev = events(&out);
        assert_eq!(ev.last().unwrap()["type"], "response.completed");
        assert_eq!(
            ev.last().unwrap()["response"]["output"][0]["content"][0]["text"],
            "Hi"
        );
        let mut s = Stream::new(HashSet::new());
        let out = s.feed(b"data: {\"error\":{\"message\":\"quota\"}}\n\ndata: [DONE]\n\n");
        let ev = events(&out);
        assert_eq!(ev.last().unwrap()["type"], "response.failed");
        assert_eq!(ev.last().unwrap()["response"]["error"]["message"], "quota");
        assert!(s.finish().is_empty());
        // Nothing at all from upstream: nothing made up.
        assert!(Stream::new(HashSet::new()).finish().is_empty());
    }

    #[test]
    fn a_whole_completion_becomes_one_response() {
        let chat = json!({"id": "z", "model": "m", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Yes",
            "tool_calls": [{"id": "c9", "type": "function", "function": {"name": "shell", "arguments": "{}"}}]}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12, "prompt_tokens_details": {"cached_tokens": 4}}});
        let out: Value =
            serde_json::from_slice(&json(chat.to_string().as_bytes(), &HashSet::new())).unwrap();
        assert_eq!(out["object"], "response");
        assert_eq!(out["output"][0]["content"][0]["text"], "Yes");
        assert_eq!(out["output"][1]["call_id"], "c9");
        assert_eq!(out["usage"]["input_tokens_details"]["cached_tokens"], 4);
        assert_eq!(json(b"not json", &HashSet::new()), b"not json");
    }
}
