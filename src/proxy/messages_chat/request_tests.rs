use serde_json::{Value, json};

use super::*;

fn chat(body: Value, provider: &str) -> Value {
    let t = request(body.to_string().as_bytes(), provider).unwrap();
    serde_json::from_slice(&t.body).unwrap()
}

/// A Claude Code turn: system blocks with cache_control, a reminder and a prompt, an
/// earlier tool loop with thinking and two parallel calls (their results in the order the
/// tools finished), a mid-conversation system turn.
fn claude_code_turn() -> Value {
    let sig = thinking::sign("reasoning_content", &[]);
    json!({
        "model": "deepseek-reasoner", "max_tokens": 32000, "stream": true,
        "metadata": {"user_id": "u"}, "context_management": {"edits": []},
        "thinking": {"type": "adaptive"}, "output_config": {"effort": "high"},
        "system": [
            {"type": "text", "text": "billing"},
            {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}
        ],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "<system-reminder>r</system-reminder>"},
                {"type": "text", "text": "list files", "cache_control": {"type": "ephemeral"}}
            ]},
            {"role": "system", "content": "# Environment\ncwd: /p"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "I should run ls.", "signature": sig},
                {"type": "thinking", "thinking": "Anthropic's own", "signature": "EqQBCkY"},
                {"type": "redacted_thinking", "data": "xx"},
                {"type": "text", "text": "Running."},
                {"type": "tool_use", "id": "call_1", "name": "Bash", "input": {"command": "ls"}},
                {"type": "tool_use", "id": "call_2", "name": "Bash", "input": {"command": "pwd"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_2", "is_error": false,
                 "content": [{"type": "text", "text": "/p"},
                             {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}}],
                 "cache_control": {"type": "ephemeral"}},
                {"type": "tool_result", "tool_use_id": "call_1", "content": "a.txt\nb.txt"},
                {"type": "text", "text": "and now?"}
            ]}
        ],
        "tools": [
            {"name": "Bash", "description": "Run", "input_schema": {"$schema": "s", "type": "object",
             "properties": {"command": {"type": "string"}}, "additionalProperties": false}},
            {"name": "DeferredToolPlaceholder", "description": "d", "input_schema": {"type": "object"}, "defer_loading": true},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
        ]
    })
}

#[test]
fn a_claude_code_turn_becomes_chat_messages() {
    let c = chat(claude_code_turn(), "deepseek-openai");
    assert_eq!(
        c["messages"],
        json!([
            {"role": "system", "content": "billing\n\nYou are Claude Code."},
            {"role": "user", "content": "<system-reminder>r</system-reminder>\n\nlist files"},
            {"role": "system", "content": "# Environment\ncwd: /p"},
            {"role": "assistant", "content": "Running.", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "Bash", "arguments": "{\"command\":\"ls\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "Bash", "arguments": "{\"command\":\"pwd\"}"}}
            ], "reasoning_content": "I should run ls."},
            {"role": "tool", "content": "a.txt\nb.txt", "tool_call_id": "call_1"},
            {"role": "tool", "content": "/p", "tool_call_id": "call_2"},
            {"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
                {"type": "text", "text": "and now?"}
            ]}
        ])
    );
    assert_eq!(
        c["tools"],
        json!([{"type": "function", "function": {"name": "Bash", "description": "Run",
            "parameters": {"$schema": "s", "type": "object", "properties": {"command": {"type": "string"}},
                           "additionalProperties": false}}}]),
        "server tools and unloaded deferred tools are left out; schemas pass untouched"
    );
    assert_eq!(c["max_tokens"], 32000, "under deepseek-reasoner's cap");
    assert_eq!(c["stream_options"], json!({"include_usage": true}));
    for absent in [
        "metadata",
        "context_management",
        "thinking",
        "reasoning_effort",
        "system",
    ] {
        assert!(c.get(absent).is_none(), "{absent}: {c}");
    }
    // DeepSeek's chat model takes at most 8,192 output tokens.
    let mut body = claude_code_turn();
    body["model"] = json!("deepseek-chat");
    assert_eq!(chat(body, "deepseek-openai")["max_tokens"], 8192);
}

#[test]
fn dialects_shape_the_request() {
    // OpenAI: the output limit's own name and the reasoning effort.
    let mut body = claude_code_turn();
    body["model"] = json!("gpt-5.2");
    let c = chat(body.clone(), "openai");
    assert_eq!(
        (&c["max_completion_tokens"], &c["reasoning_effort"]),
        (&json!(32000), &json!("high"))
    );
    assert!(c.get("max_tokens").is_none());
    // OpenRouter keeps cache_control on text parts and asks for reasoning its way.
    let c = chat(body.clone(), "openrouter-openai");
    assert_eq!(
        c["messages"][0]["content"],
        json!([{"type": "text", "text": "billing"},
               {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}])
    );
    assert_eq!(c["reasoning"], json!({"effort": "high"}));
    // Gemini gets schemas it accepts.
    let c = chat(body.clone(), "gemini");
    assert_eq!(
        c["tools"][0]["function"]["parameters"],
        json!({"type": "object", "properties": {"command": {"type": "string"}}})
    );
    // A local server: no system turn after the start, and vLLM gets no output limit.
    let c = chat(body.clone(), "vllm");
    assert!(c.get("max_tokens").is_none());
    assert_eq!(c["messages"][1]["role"], "user");
    assert_eq!(
        c["messages"][1]["content"],
        "<system-reminder>r</system-reminder>\n\nlist files\n\n# Environment\ncwd: /p"
    );
    assert_eq!(c["messages"][2]["role"], "assistant");
    // xAI gets no reasoning back.
    let c = chat(body, "xai");
    assert!(c["messages"][3].get("reasoning_content").is_none());
}

#[test]
fn tool_choice_deferred_tools_and_bad_bodies() {
    let body = json!({"model": "m", "max_tokens": 10, "temperature": 0.5, "stop_sequences": ["END"],
    "tool_choice": {"type": "tool", "name": "Bash", "disable_parallel_tool_use": true},
    "tools": [{"name": "Bash", "input_schema": {"type": "object"}},
              {"name": "CronCreate", "input_schema": {"type": "object"}, "defer_loading": true}],
    "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "ToolSearch", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
            "content": [{"type": "tool_reference", "tool_name": "CronCreate"}]}]}
    ]});
    let c = chat(body, "xai");
    assert_eq!(
        c["tool_choice"],
        json!({"type": "function", "function": {"name": "Bash"}})
    );
    assert_eq!(c["parallel_tool_calls"], false);
    assert_eq!(
        c["tools"].as_array().unwrap().len(),
        2,
        "a loaded deferred tool is offered"
    );
    assert_eq!(c["tools"][1]["function"]["description"], "");
    assert_eq!(c["messages"][1]["content"], Value::Null);
    assert_eq!(c["messages"][2]["content"], "Tool CronCreate loaded.");
    assert_eq!(
        (&c["temperature"], &c["stop"]),
        (&json!(0.5), &json!(["END"]))
    );
    assert!(c.get("stream").is_none());
    for bad in [
        &b"{"[..],
        b"[]",
        br#"{"messages": [{"role": "user", "content": 5}]}"#,
    ] {
        assert!(
            request(bad, "xai").is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}
