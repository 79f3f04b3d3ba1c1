use serde_json::{Value, json};

use super::*;

fn events(out: &[u8]) -> Vec<(String, Value)> {
    let text = String::from_utf8_lossy(out);
    let mut evs = Vec::new();
    let mut name = String::new();
    for l in text.lines() {
        if let Some(n) = l.strip_prefix("event: ") {
            name = n.to_string();
        } else if let Some(d) = l.strip_prefix("data: ") {
            let v: Value = serde_json::from_str(d).unwrap();
            assert_eq!(v["type"], name.as_str(), "event name and type agree");
            evs.push((name.clone(), v));
        }
    }
    evs
}

fn run(wire: &str, piece: usize) -> Vec<(String, Value)> {
    let mut s = Stream::new("asked".into());
    let mut out = Vec::new();
    for part in wire.as_bytes().chunks(piece) {
        out.extend(s.feed(part));
    }
    out.extend(s.finish());
    events(&out)
}

fn sse(chunks: &[Value]) -> String {
    let mut w = String::new();
    for c in chunks {
        w.push_str(&format!("data: {c}\r\n\r\n"));
    }
    w.push_str(": keep-alive\n\ndata: [DONE]\n\n");
    w
}

/// DeepSeek-style: reasoning, text, two parallel calls streamed in pieces, usage last.
fn deepseek() -> String {
    let c = |delta: Value| json!({"id": "x1", "model": "deepseek-reasoner", "choices": [{"index": 0, "delta": delta}]});
    sse(&[
        c(json!({"role": "assistant", "content": null, "reasoning_content": ""})),
        c(json!({"reasoning_content": "Let me "})),
        c(json!({"reasoning_content": "look."})),
        c(json!({"content": "Checking"})),
        c(json!({"content": " now."})),
        c(
            json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "Bash", "arguments": ""}}]}),
        ),
        c(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"comm"}}]})),
        c(json!({"tool_calls": [{"index": 0, "function": {"arguments": "and\":\"ls\"}"}}]})),
        c(
            json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "Read", "arguments": "{\"file_path\":"}}]}),
        ),
        c(json!({"tool_calls": [{"index": 1, "function": {"arguments": "\"/a\"}"}}]})),
        json!({"id": "x1", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
        json!({"id": "x1", "choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107, "prompt_cache_hit_tokens": 60}}),
    ])
}

#[test]
fn a_stream_becomes_message_events_whatever_the_pieces() {
    let wire = deepseek();
    for piece in [1, 7, 64, wire.len()] {
        let ev = run(&wire, piece);
        let kinds: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "message_start",
                "content_block_start", // thinking
                "content_block_delta",
                "content_block_delta",
                "content_block_delta", // signature
                "content_block_stop",
                "content_block_start", // text
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start", // Bash
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start", // Read
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ],
            "pieces of {piece}"
        );
        let start = &ev[0].1["message"];
        assert_eq!(
            (&start["id"], &start["model"]),
            (&json!("msg_x1"), &json!("deepseek-reasoner"))
        );
        assert_eq!(ev[1].1["content_block"]["type"], "thinking");
        assert_eq!(
            ev[2].1["delta"],
            json!({"type": "thinking_delta", "thinking": "Let me "})
        );
        let sig = ev[4].1["delta"]["signature"].as_str().unwrap();
        assert_eq!(thinking::read(sig).unwrap().field, "reasoning_content");
        assert_eq!(
            ev[7].1["delta"],
            json!({"type": "text_delta", "text": "Checking"})
        );
        assert_eq!(
            ev[10].1["content_block"],
            json!({"type": "tool_use", "id": "call_a", "name": "Bash", "input": {}})
        );
        let args: String = [11, 12]
            .iter()
            .map(|&i| ev[i].1["delta"]["partial_json"].as_str().unwrap())
            .collect();
        assert_eq!(args, r#"{"command":"ls"}"#);
        assert_eq!(ev[14].1["index"], 3);
        assert_eq!(ev[14].1["content_block"]["id"], "call_b");
        assert_eq!(
            ev[18].1,
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
                   "usage": {"input_tokens": 40, "cache_creation_input_tokens": 0,
                             "cache_read_input_tokens": 60, "output_tokens": 7}})
        );
    }
}

#[test]
fn the_first_piece_of_an_answer_goes_out_at_once() {
    // Nothing is held back for later chunks: each chunk's events come out of its feed.
    let mut s = Stream::new("m".into());
    let out = s.feed(b"data: {\"id\":\"a\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n");
    let ev = events(&out);
    assert_eq!(ev.len(), 3);
    assert_eq!(ev[2].1["delta"]["text"], "Hi");
    assert!(
        s.feed(b"data: {\"id\":\"a\",\"choices\":[{\"delta\":{\"content\":\"!\"}}]}")
            .is_empty()
    );
    assert_eq!(events(&s.feed(b"\n")).len(), 1);
    // A finish reason closes the block before the usage arrives.
    let ev =
        events(&s.feed(b"data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"length\"}]}\n"));
    assert_eq!(ev[0].0, "content_block_stop");
    let ev = events(&s.finish());
    assert_eq!(ev[0].1["delta"]["stop_reason"], "max_tokens");
    assert_eq!(ev[0].1["usage"]["output_tokens"], 0);
    assert!(s.finish().is_empty());
}

#[test]
fn openrouter_reasoning_details_and_gemini_calls() {
    // OpenRouter: `reasoning` text plus details in pieces, merged for the way back.
    let c = |delta: Value| json!({"id": "or", "choices": [{"index": 0, "delta": delta}]});
    let wire = sse(&[
        c(
            json!({"reasoning": "Hm", "reasoning_details": [{"type": "reasoning.text", "text": "Hm", "index": 0}]}),
        ),
        c(
            json!({"reasoning": "m.", "reasoning_details": [{"type": "reasoning.text", "text": "m.", "signature": "sig", "index": 0}]}),
        ),
        c(json!({"content": "Done."})),
    ]);
    let ev = run(&wire, 5);
    let sig = ev[4].1["delta"]["signature"].as_str().unwrap();
    let carried = thinking::read(sig).unwrap();
    assert_eq!(carried.field, "reasoning");
    assert_eq!(
        carried.details[0].get(),
        r#"{"type":"reasoning.text","text":"Hmm.","index":0,"signature":"sig"}"#
    );
    // Gemini: whole calls without an index; two calls, two blocks; stop says "stop".
    let wire = sse(&[
        json!({"choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [
            {"id": "g1", "type": "function", "function": {"name": "Read", "arguments": "{\"a\":1}"}},
            {"id": "g2", "type": "function", "function": {"name": "Read", "arguments": "{\"a\":2}"}}]},
            "finish_reason": "stop"}]}),
    ]);
    let ev = run(&wire, 3);
    let starts: Vec<&Value> = ev
        .iter()
        .filter(|(n, _)| n == "content_block_start")
        .map(|(_, v)| &v["content_block"]["id"])
        .collect();
    assert_eq!(starts, [&json!("g1"), &json!("g2")]);
    assert_eq!(ev[ev.len() - 2].1["delta"]["stop_reason"], "tool_use");
    assert_eq!(
        ev[0].1["message"]["model"], "asked",
        "the model asked for when none is named"
    );
}

#[test]
fn errors_and_cut_streams() {
    let ev = run(
        "data: {\"id\":\"e\",\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"error\":{\"message\":\"quota\",\"code\":429}}\n\ndata: [DONE]\n\n",
        4,
    );
    let last = &ev.last().unwrap().1;
    assert_eq!(
        last,
        &json!({"type": "error", "error": {"type": "api_error", "message": "quota"}})
    );
    // Cut before [DONE]: the message still ends.
    let ev = run(
        "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n",
        100,
    );
    assert_eq!(ev.last().unwrap().0, "message_stop");
    assert_eq!(ev[0].1["message"]["id"], "msg_chat");
    // Nothing from upstream: nothing made up.
    assert!(Stream::new("m".into()).finish().is_empty());
    // A piece for a call whose block closed is dropped, the rest goes on.
    let c = |tc: Value| json!({"choices": [{"delta": {"tool_calls": [tc]}}]});
    let ev = run(
        &sse(&[
            c(json!({"index": 0, "id": "a", "function": {"name": "A", "arguments": "{"}})),
            c(json!({"index": 1, "id": "b", "function": {"name": "B", "arguments": "{}"}})),
            c(json!({"index": 0, "function": {"arguments": "}"}})),
        ]),
        9,
    );
    let deltas = ev
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .count();
    assert_eq!(deltas, 2);
}
