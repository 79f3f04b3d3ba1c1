//! A whole (non-streamed) chat completion → one Anthropic message; and that message as
//! the event stream, for a provider that answered a streamed request in one piece.

use serde_json::{Value, json};

use super::stream::details_text;
use super::thinking;
use super::wire::{self, AnthropicUsage, BlockDelta, Completion};

/// The message for a completion body; None when the body is not a chat completion.
pub fn message(body: &[u8], model: &str) -> Option<Value> {
    let chat: Completion = serde_json::from_slice(body).ok()?;
    let choice = chat.choices.first()?;
    let msg = choice.message.as_ref().or(choice.delta.as_ref())?;
    let mut content = Vec::new();
    let (reasoning, field) = match (
        wire::text(&msg.reasoning_content),
        wire::text(&msg.reasoning),
    ) {
        (Some(r), _) => (r.to_string(), "reasoning_content"),
        (None, Some(r)) => (r.to_string(), "reasoning"),
        _ => (details_text(&msg.reasoning_details), "reasoning"),
    };
    if !reasoning.is_empty() || !msg.reasoning_details.is_empty() {
        let details: Vec<Value> = msg
            .reasoning_details
            .iter()
            .filter_map(|d| serde_json::from_str(d.get()).ok())
            .collect();
        content.push(json!({"type": "thinking", "thinking": reasoning,
                            "signature": thinking::sign(field, &details)}));
    }
    if let Some(text) = wire::text(&msg.content) {
        content.push(json!({"type": "text", "text": text}));
    }
    let id = chat.id.as_ref().map_or("chat", |s| s.as_str());
    let mut calls = 0;
    for (n, c) in msg.tool_calls.iter().enumerate() {
        let f = c.function.as_ref();
        let Some(name) = f.and_then(|f| wire::text(&f.name)) else {
            continue;
        };
        let args = f.and_then(|f| wire::text(&f.arguments)).unwrap_or("{}");
        let input: Value = serde_json::from_str(args).unwrap_or_else(|_| {
            tracing::warn!("tool call {name} came with arguments that are not JSON");
            json!({})
        });
        let call_id = wire::text(&c.id).map_or_else(|| format!("call_{id}_{n}"), str::to_string);
        content.push(json!({"type": "tool_use", "id": call_id, "name": name, "input": input}));
        calls += 1;
    }
    let usage = AnthropicUsage::from(chat.usage.unwrap_or_default());
    let model = chat
        .model
        .as_ref()
        .map(|m| m.as_str())
        .filter(|m| !m.is_empty())
        .unwrap_or(model);
    Some(json!({
        "id": format!("msg_{id}"), "type": "message", "role": "assistant", "model": model,
        "content": content,
        "stop_reason": wire::stop_reason(wire::text(&choice.finish_reason), calls > 0),
        "stop_sequence": null,
        "usage": usage,
    }))
}

/// The events that would have streamed `message`.
pub fn as_stream(message: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    let mut start = message.clone();
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    start["usage"] = json!({"input_tokens": 0, "output_tokens": 0});
    wire::event(
        &mut out,
        "message_start",
        &json!({"type": "message_start", "message": start}),
    );
    for (i, block) in message["content"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let kind = block["type"].as_str().unwrap_or_default();
        let empty = match kind {
            "thinking" => json!({"type": "thinking", "thinking": "", "signature": ""}),
            "tool_use" => {
                json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}})
            }
            _ => json!({"type": "text", "text": ""}),
        };
        wire::event(
            &mut out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": i, "content_block": empty}),
        );
        let text = |k: &str| block[k].as_str().unwrap_or_default().to_string();
        match kind {
            "thinking" => {
                wire::delta(
                    &mut out,
                    i,
                    BlockDelta::Thinking {
                        thinking: &text("thinking"),
                    },
                );
                wire::delta(
                    &mut out,
                    i,
                    BlockDelta::Signature {
                        signature: &text("signature"),
                    },
                );
            }
            "tool_use" => wire::delta(
                &mut out,
                i,
                BlockDelta::InputJson {
                    partial_json: &block["input"].to_string(),
                },
            ),
            _ => wire::delta(
                &mut out,
                i,
                BlockDelta::Text {
                    text: &text("text"),
                },
            ),
        }
        wire::block_stop(&mut out, i);
    }
    wire::event(
        &mut out,
        "message_delta",
        &json!({"type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": null},
                "usage": message["usage"]}),
    );
    wire::event(&mut out, "message_stop", &json!({"type": "message_stop"}));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_completion_becomes_a_message_and_its_stream() {
        let chat = json!({"id": "z", "model": "deepseek-reasoner", "choices": [{"index": 0,
            "message": {"role": "assistant", "content": "Yes", "reasoning_content": "Think.",
              "tool_calls": [{"id": "c9", "type": "function", "function": {"name": "Bash", "arguments": "{\"command\":\"ls\"}"}},
                             {"id": "c10", "type": "function", "function": {"name": "Read", "arguments": "not json"}}]},
            "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2, "prompt_cache_hit_tokens": 4}});
        let m = message(chat.to_string().as_bytes(), "asked").unwrap();
        assert_eq!(m["model"], "deepseek-reasoner");
        assert_eq!(m["stop_reason"], "tool_use");
        assert_eq!(m["content"][0]["thinking"], "Think.");
        assert_eq!(
            thinking::read(m["content"][0]["signature"].as_str().unwrap())
                .unwrap()
                .field,
            "reasoning_content"
        );
        assert_eq!(m["content"][1], json!({"type": "text", "text": "Yes"}));
        assert_eq!(
            m["content"][2],
            json!({"type": "tool_use", "id": "c9", "name": "Bash", "input": {"command": "ls"}})
        );
        assert_eq!(m["content"][3]["input"], json!({}));
        assert_eq!(
            m["usage"],
            json!({"input_tokens": 6, "cache_creation_input_tokens": 0,
                   "cache_read_input_tokens": 4, "output_tokens": 2})
        );
        assert!(message(b"{\"error\":{}}", "m").is_none());
        assert!(message(b"nope", "m").is_none());
        let events = String::from_utf8(as_stream(&m)).unwrap();
        let kinds: Vec<&str> = events
            .lines()
            .filter_map(|l| l.strip_prefix("event: "))
            .collect();
        assert_eq!(kinds.len(), 1 + 4 + 3 + 3 + 3 + 2, "{kinds:?}");
        assert!(
            events.contains(r#""partial_json":"{\"command\":\"ls\"}""#),
            "{events}"
        );
        assert!(events.contains(r#""stop_reason":"tool_use""#));
    }
}
