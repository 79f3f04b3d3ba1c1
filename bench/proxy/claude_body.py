#!/usr/bin/env python3
"""Write a Messages request shaped like one of Claude Code 2.1.332's turns.

`claude_body.py OUT [MODEL]`: the same structure and about the same size (48 KB) as a
request Claude Code sent in this project's runs, with generated text in place of its
prompts: `system` as three text blocks (the last two with `cache_control`), a user turn
with a reminder and the prompt, a mid-conversation system turn, an earlier tool loop
(assistant text and a `tool_use`, the `tool_result` with `cache_control`), twelve tools
with JSON schemas (`$schema`, descriptions, `additionalProperties`), `metadata`,
`thinking: adaptive`, `context_management`, `output_config`, `max_tokens: 32000` and
`"stream": true`. Deterministic: the same bytes on every run.
"""
import json
import random
import sys

WORDS = ("the of and to a in for is on that with as by this be are it file tool when use "
         "command output user your path run read write edit search agent code each should "
         "not or from an if can will do only you result task its must more than one").split()


def text(rng, n):
    """About n characters of words, with newlines between sentences."""
    out, size = [], 0
    while size < n:
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20))).capitalize() + "."
        out.append(sentence)
        size += len(sentence) + 1
    return "\n".join(out)


def tool(rng, name, props):
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
              "properties": {p: {"description": text(rng, 120), "type": t} for p, t in props},
              "required": [props[0][0]], "additionalProperties": False}
    return {"name": name, "description": text(rng, 1500), "input_schema": schema}


def body(model):
    rng = random.Random(2_1_332)
    tools = [tool(rng, n, p) for n, p in [
        ("Agent", [("description", "string"), ("prompt", "string"), ("subagent_type", "string")]),
        ("Bash", [("command", "string"), ("timeout", "number"), ("description", "string")]),
        ("Edit", [("file_path", "string"), ("old_string", "string"), ("new_string", "string"),
                  ("replace_all", "boolean")]),
        ("ListAgents", [("filter", "string")]),
        ("Read", [("file_path", "string"), ("offset", "number"), ("limit", "number")]),
        ("ReportFindings", [("findings", "string")]),
        ("ScheduleWakeup", [("delay_seconds", "number"), ("reason", "string")]),
        ("Skill", [("skill", "string"), ("args", "string")]),
        ("ToolSearch", [("query", "string"), ("max_results", "number")]),
        ("Workflow", [("name", "string"), ("input", "string")]),
        ("Write", [("file_path", "string"), ("content", "string")]),
        ("Grep", [("pattern", "string"), ("path", "string"), ("glob", "string")]),
    ]]
    return {
        "model": model,
        "max_tokens": 32000,
        "stream": True,
        "metadata": {"user_id": json.dumps({"device_id": "0" * 64, "account_uuid": "",
                                            "session_id": "00000000-0000-4000-8000-000000000000"})},
        "thinking": {"type": "adaptive", "display": "omitted"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "high"},
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.332; cc_entrypoint=sdk-cli;"},
            {"type": "text", "text": "You are a coding agent.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": text(rng, 13000), "cache_control": {"type": "ephemeral"}},
        ],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "<system-reminder>\n" + text(rng, 600) + "\n</system-reminder>\n"},
                {"type": "text", "text": "List the files here and tell me what the project does."},
            ]},
            {"role": "system", "content": "# Environment\n" + text(rng, 3500)},
            {"role": "assistant", "content": [
                {"type": "text", "text": "I will look at the files first."},
                {"type": "tool_use", "id": "toolu_01", "name": "Bash",
                 "input": {"command": "ls -la", "description": "List the files"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "is_error": False,
                 "content": text(rng, 2000), "cache_control": {"type": "ephemeral"}},
            ]},
        ],
        "tools": tools,
    }


if __name__ == "__main__":
    with open(sys.argv[1], "w") as f:
        json.dump(body(sys.argv[2] if len(sys.argv) > 2 else "deepseek-chat"), f, separators=(",", ":"))
