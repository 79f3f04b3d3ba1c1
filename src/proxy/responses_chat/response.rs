//! The answer: a Chat Completions stream or body as the Responses API's events or object.

use std::collections::HashSet;

use serde_json::{Value, json};

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
