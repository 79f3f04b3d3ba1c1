//! The real Claude Code on OpenAI-compatible providers, through its profile's proxy and
//! the Messages ⇄ Chat Completions translation, against the test upstream speaking Chat
//! Completions: a plain answer from a local server without a key, parallel tool calls
//! streamed in pieces that Claude Code runs, reasoning shown and sent back, and an
//! upstream error shown as a readable message.

use std::process::{Output, Stdio};

use serde_json::{Value, json};

use super::*;
use crate::upstream::{Script, Upstream};

const DEEPSEEK_KEY: &str = "sk-deepseek-TRANSLATESECRET-0123456789abcdef";

/// `claude -p PROMPT ARGS…` through `clown profiles run ALIAS`.
fn claude(env: &TestEnv, d: &Daemon, alias: &str, prompt: &str, args: &[&str]) -> Output {
    let project = env.root.join("project");
    std::fs::create_dir_all(&project).unwrap();
    env.cli(d)
        .args(["profiles", "run", alias, "--", "-p", prompt])
        .args(args)
        .env("PATH", path_with_deps())
        .current_dir(&project)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn real_claude_code_answers_from_a_local_server_without_a_key() {
    let up = Upstream::start(Script {
        reply: "PONG-FROM-THE-LOCAL-MODEL".into(),
        ..Default::default()
    });
    let (env, d) = start("tr-local", "");
    // A local server: no key, the user's base URL; the proxy comes on by itself.
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "local", "provider_id": "ollama",
               "model": "qwen3-coder:30b", "base_url": format!("{}/v1", up.url())}),
    );
    let s = wait_status(&d, "local", "running");
    let spec = launch_env(&d, "local");
    assert_eq!(spec["env"]["ANTHROPIC_BASE_URL"], s["url"], "{spec}");
    // Without the proxy nothing would speak both APIs: it cannot be turned off.
    let msg = d
        .api(
            "PUT",
            "/api/profiles/local/proxy",
            Some(&json!({"enabled": false})),
        )
        .expect_error(400);
    assert!(msg.contains("the proxy stays enabled"), "{msg}");
    assert_eq!(status(&d, "local")["status"], "running");
    let out = claude(&env, &d, "local", "say pong", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("PONG-FROM-THE-LOCAL-MODEL"),
        "{}",
        show(&out)
    );
    assert!(up.messages().is_empty(), "nothing reached a Messages API");
    let chats = up.chats();
    assert!(!chats.is_empty());
    for c in &chats {
        assert_eq!(c.path, "/v1/chat/completions");
        for h in c.headers.keys() {
            assert!(
                h != "authorization" && h != "x-api-key" && !h.starts_with("anthropic-"),
                "{h} sent to a server without a key: {:?}",
                c.headers
            );
        }
        let body = c.json();
        assert_eq!(body["model"], "qwen3-coder:30b");
        assert_eq!(body["stream"], true);
        assert_eq!(body["stream_options"], json!({"include_usage": true}));
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages[0]["role"], "system");
        assert!(
            messages[0]["content"].as_str().unwrap().contains("Claude"),
            "Claude Code's system prompt: {}",
            messages[0]
        );
        // A local server's chat template takes system messages only first.
        assert!(
            messages[1..].iter().all(|m| m["role"] != "system"),
            "{body}"
        );
        let user = messages.iter().find(|m| m["role"] == "user").unwrap();
        assert!(
            user["content"].as_str().unwrap().contains("say pong"),
            "{user}"
        );
        let tools: Vec<&str> = body["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["function"]["name"].as_str().unwrap())
            .collect();
        assert!(
            tools.contains(&"Bash") && tools.contains(&"Read"),
            "{tools:?}"
        );
        assert!(!tools.contains(&"DeferredToolPlaceholder"), "{tools:?}");
    }
    // The translated answer's usage is recorded like an Anthropic one: cached tokens apart.
    let events = wait_events(&env, chats.len());
    for e in &events {
        assert_eq!(
            (&e["profile"], &e["provider"], &e["model"]),
            (&json!("local"), &json!("ollama"), &json!("qwen3-coder:30b"))
        );
        assert_eq!(
            (
                &e["input_tokens"],
                &e["cache_read_input_tokens"],
                &e["output_tokens"]
            ),
            (&json!(1234), &json!(89), &json!(56))
        );
    }
}

#[test]
fn real_claude_code_runs_parallel_calls_streamed_in_pieces_and_keeps_its_reasoning() {
    const REASONING: &str = "The user wants two checks; I will run both echo commands at once.";
    let up = Upstream::start(Script {
        reply: "FINISHED-AFTER-BOTH-TOOLS".into(),
        reasoning: Some(REASONING.into()),
        tool_call: Some((
            "Bash".into(),
            json!({"command": "echo FIRST-$((20 + 1))", "description": "First check"}).to_string(),
        )),
        more_tool_calls: vec![(
            "Bash".into(),
            json!({"command": "echo SECOND-$((40 + 2))", "description": "Second check"})
                .to_string(),
        )],
        ..Default::default()
    });
    let (env, d) = start("tr-tools", "");
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "ds", "provider_id": "deepseek-openai",
               "model": "deepseek-reasoner", "api_key": DEEPSEEK_KEY,
               "base_url": format!("{}/v1", up.url())}),
    );
    wait_status(&d, "ds", "running");
    let out = claude(
        &env,
        &d,
        "ds",
        "run the checks",
        &[
            "--allowedTools",
            "Bash",
            "--output-format",
            "stream-json",
            "--verbose",
        ],
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let chats = up.chats();
    assert!(
        out.status.success()
            && lines
                .iter()
                .any(|l| l["result"] == "FINISHED-AFTER-BOTH-TOOLS"),
        "{}\n{} requests",
        show(&out),
        chats.len()
    );
    // Shown: Claude Code's own transcript of the turn has the reasoning as thinking.
    let thought = lines.iter().any(|l| {
        l["type"] == "assistant"
            && l["message"]["content"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|b| b["type"] == "thinking" && b["thinking"] == REASONING)
            })
    });
    assert!(
        thought,
        "no thinking block with the reasoning: {}",
        show(&out)
    );
    for c in &chats {
        assert_eq!(
            c.headers.get("authorization").map(String::as_str),
            Some(format!("Bearer {DEEPSEEK_KEY}").as_str())
        );
    }
    // Claude Code ran both calls and sent the results back: the next request carries the
    // assistant's calls, its reasoning in DeepSeek's field, and one tool message per call.
    let last = chats.last().unwrap().json();
    let messages = last["messages"].as_array().unwrap();
    let assistant = messages
        .iter()
        .find(|m| m["role"] == "assistant" && m["tool_calls"].is_array())
        .unwrap_or_else(|| panic!("no assistant calls in {last}"));
    let calls = assistant["tool_calls"].as_array().unwrap();
    let ids: Vec<&str> = calls.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["call_test_1", "call_test_2"]);
    let args: Value =
        serde_json::from_str(calls[1]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(
        args["command"], "echo SECOND-$((40 + 2))",
        "arguments reassembled whole"
    );
    assert_eq!(assistant["reasoning_content"], REASONING, "{assistant}");
    let results: Vec<(&str, &str)> = messages
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| {
            (
                m["tool_call_id"].as_str().unwrap(),
                m["content"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(results.len(), 2, "{last}");
    assert!(
        results[0].0 == "call_test_1" && results[0].1.contains("FIRST-21"),
        "{results:?}"
    );
    assert!(
        results[1].0 == "call_test_2" && results[1].1.contains("SECOND-42"),
        "{results:?}"
    );
}

#[test]
fn real_claude_code_shows_a_provider_error_readably() {
    let up = Upstream::start(Script {
        status: Some(402),
        error_message: Some("Insufficient Balance".into()),
        ..Default::default()
    });
    let (env, d) = start("tr-error", "");
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "broke", "provider_id": "deepseek-openai",
               "model": "deepseek-chat", "api_key": DEEPSEEK_KEY,
               "base_url": format!("{}/v1", up.url())}),
    );
    wait_status(&d, "broke", "running");
    let out = claude(&env, &d, "broke", "say pong", &[]);
    let all = show(&out);
    assert!(!out.status.success(), "{all}");
    // As Claude Code prints it: its prefix with the status, then the provider and its
    // own message.
    assert!(
        all.contains("API Error: 402 deepseek-openai: Insufficient Balance"),
        "the provider's message, named: {all}"
    );
    assert!(
        !all.contains("unknown_error"),
        "not the provider's raw body: {all}"
    );
    assert!(!up.chats().is_empty());
}

#[test]
fn whole_answers_and_token_counts_through_the_translation() {
    let up = Upstream::start(Script {
        reasoning: Some("Short thought.".into()),
        tool_call: Some((
            "Read".into(),
            json!({"file_path": "/etc/hostname"}).to_string(),
        )),
        ..Default::default()
    });
    let (env, d) = start("tr-whole", "");
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "or", "provider_id": "openrouter-openai",
               "model": "anthropic/claude-sonnet-4", "api_key": "sk-or-TRANSLATE-0123456789",
               "base_url": format!("{}/v1", up.url())}),
    );
    wait_status(&d, "or", "running");
    let (port, token) = endpoint(&d, "or");
    let body = json!({"model": "anthropic/claude-sonnet-4", "max_tokens": 100,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "tools": [{"name": "Read", "description": "Read a file",
                   "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}}}],
        "messages": [{"role": "user", "content": "what is the host name?"}]});
    // Not streamed: one Anthropic message, with the reasoning, the call and the usage.
    let r = post(port, &[("x-api-key", &token)], &body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let m = r.json();
    assert_eq!(
        (&m["type"], &m["stop_reason"]),
        (&json!("message"), &json!("tool_use"))
    );
    assert_eq!(m["content"][0]["type"], "thinking");
    assert_eq!(m["content"][0]["thinking"], "Short thought.");
    assert_eq!(
        m["content"][1],
        json!({"type": "tool_use", "id": "call_test_1", "name": "Read",
               "input": {"file_path": "/etc/hostname"}})
    );
    assert_eq!(
        m["usage"],
        json!({"input_tokens": 1234, "cache_creation_input_tokens": 0,
               "cache_read_input_tokens": 89, "output_tokens": 56})
    );
    // OpenRouter keeps the cache breakpoint on the system text.
    let sent = up.chats().last().unwrap().json();
    assert_eq!(
        sent["messages"][0]["content"],
        json!([{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}])
    );
    // Token counts are the proxy's own estimate: Chat Completions has no such call.
    let before = up.requests.lock().unwrap().len();
    let r = request(
        port,
        "POST",
        "/v1/messages/count_tokens",
        &[("x-api-key", &token), ("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.json()["input_tokens"].as_u64().unwrap() > 20,
        "{}",
        r.text()
    );
    assert_eq!(up.requests.lock().unwrap().len(), before);
    // A body that is not a Messages request is refused before anything goes upstream.
    let r = post(port, &[("x-api-key", &token)], &json!({"messages": "nope"}));
    assert_error_json(&r, 400, "invalid_request_error");
    assert_eq!(up.requests.lock().unwrap().len(), before);
    let events = wait_events(&env, 1);
    assert_eq!(events[0]["model"], "anthropic/claude-sonnet-4");
    assert_eq!(events[0]["cache_read_input_tokens"], 89);
}
