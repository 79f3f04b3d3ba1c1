#!/usr/bin/env python3
"""Generates usage logs of the six agents besides Claude Code, in their formats, for the
import benchmark (bench/usage_agents.py import). Seeded: the same bytes for the same
arguments. Lines that carry no usage (tool output, messages, chunks) pad the files the
way real sessions do, so a reader pays for skipping them.

    bench/gen_agents.py HOME [--scale N]   # writes HOME/.codex, .gemini, .qwen, ...

--scale 1 writes about 60 MB per agent (opencode and Droid: tens of thousands of files).
"""

import argparse
import json
import os
import random
import sqlite3
import time

DAY = 86400


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def filler(rng, n):
    words = ["fn", "let", "struct", "impl", "return", "match", "Some", "None", "self", "mut", "pub", "use"]
    return " ".join(rng.choice(words) for _ in range(n))


def w(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        for l in lines:
            f.write(json.dumps(l, separators=(",", ":")) + "\n")


def codex(home, rng, now, scale):
    models = ["gpt-5-codex", "gpt-5.2", "gpt-5.1-codex-mini", "gpt-5"]
    for s in range(int(300 * scale)):
        start = now - rng.randint(1, 25) * DAY - rng.randint(0, DAY)
        sid = f"0199{s:04x}-0000-7000-8000-{s:012x}"
        lines = [{"timestamp": iso(start), "type": "session_meta", "payload": {"id": sid, "cwd": "/w", "originator": "codex_exec", "cli_version": "0.171.0", "base_instructions": {"text": filler(rng, 300)}}},
                 {"timestamp": iso(start), "type": "turn_context", "payload": {"cwd": "/w", "model": rng.choice(models)}}]
        total = [0, 0, 0, 0, 0]
        t = start
        for k in range(rng.randint(10, 60)):
            t += rng.randint(5, 120)
            if k % 9 == 8:
                lines.append({"timestamp": iso(t), "type": "turn_context", "payload": {"model": rng.choice(models)}})
            lines.append({"timestamp": iso(t), "type": "response_item", "payload": {"type": "function_call_output", "output": filler(rng, rng.randint(50, 900))}})
            inp = rng.randint(2000, 120000)
            cached = rng.randint(0, inp)
            out = rng.randint(20, 4000)
            reas = rng.randint(0, out)
            last = [inp, cached, out, reas, inp + out]
            total = [a + b for a, b in zip(total, last)]
            u = lambda c: {"input_tokens": c[0], "cached_input_tokens": c[1], "output_tokens": c[2], "reasoning_output_tokens": c[3], "total_tokens": c[4]}
            lines.append({"timestamp": iso(t), "type": "event_msg", "payload": {"type": "token_count", "info": {"total_token_usage": u(total), "last_token_usage": u(last), "model_context_window": 272000}, "rate_limits": None}})
        day = time.strftime("%Y/%m/%d", time.gmtime(start))
        w(f"{home}/.codex/sessions/{day}/rollout-{time.strftime('%Y-%m-%dT%H-%M-%S', time.gmtime(start))}-{sid}.jsonl", lines)


def gemini(home, rng, now, scale):
    for s in range(int(200 * scale)):
        msgs = []
        t = now - rng.randint(1, 25) * DAY
        for m in range(rng.randint(5, 40)):
            t += rng.randint(5, 200)
            msgs.append({"id": f"u{m}", "timestamp": iso(t), "type": "user", "content": filler(rng, 40)})
            inp = rng.randint(1000, 150000)
            cached = rng.randint(0, inp // 2)
            out, th, tool = rng.randint(10, 3000), rng.randint(0, 900), rng.randint(0, 50)
            msgs.append({"id": f"g{m}", "timestamp": iso(t), "type": "gemini", "content": filler(rng, rng.randint(50, 600)),
                         "model": rng.choice(["gemini-2.5-pro", "gemini-2.5-flash"]),
                         "tokens": {"input": inp, "output": out, "cached": cached, "thoughts": th, "tool": tool, "total": inp + out + th + tool},
                         "toolCalls": [{"name": "read_file", "result": filler(rng, rng.randint(0, 800))}]})
        path = f"{home}/.gemini/tmp/p{s % 10}/chats/session-{s}.json"
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump({"sessionId": f"gem-{s}", "projectHash": "p", "startTime": iso(t), "lastUpdated": iso(t), "messages": msgs}, f, indent=2)


def qwen(home, rng, now, scale):
    for s in range(int(250 * scale)):
        t = now - rng.randint(1, 25) * DAY
        lines = []
        for m in range(rng.randint(10, 50)):
            t += rng.randint(5, 200)
            lines.append({"uuid": f"u{m}", "sessionId": f"q{s}", "timestamp": iso(t), "type": "user", "message": {"role": "user", "parts": [{"text": filler(rng, 60)}]}})
            lines.append({"uuid": f"t{m}", "sessionId": f"q{s}", "timestamp": iso(t), "type": "tool_result", "message": {"role": "user", "parts": [{"text": filler(rng, rng.randint(50, 900))}]}})
            p = rng.randint(2000, 90000)
            c = rng.randint(0, p)
            cand, th = rng.randint(10, 2000), rng.randint(0, 500)
            lines.append({"uuid": f"a{m}", "sessionId": f"q{s}", "timestamp": iso(t), "type": "assistant", "model": "qwen3-coder-plus",
                          "message": {"role": "model", "parts": [{"text": filler(rng, 100)}]},
                          "usageMetadata": {"promptTokenCount": p, "candidatesTokenCount": cand, "thoughtsTokenCount": th, "cachedContentTokenCount": c, "totalTokenCount": p + cand + th}})
        w(f"{home}/.qwen/projects/-w-{s % 12}/chats/q{s}.jsonl", lines)


def opencode(home, rng, now, scale):
    root = f"{home}/.local/share/opencode"
    os.makedirs(root, exist_ok=True)
    db = sqlite3.connect(f"{root}/opencode.db")
    db.execute("CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT NOT NULL, time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL, data TEXT NOT NULL)")
    models = [("claude-sonnet-4-20250514", "anthropic"), ("gpt-5", "openai")]
    n = int(60000 * scale)
    rows = []
    for m in range(n):
        ms = (now - rng.randint(1, 25) * DAY) * 1000 + m
        model = models[m % 2]
        d = {"role": "assistant", "time": {"created": ms, "completed": ms + 2000}, "modelID": model[0], "providerID": model[1], "mode": "build",
             "path": {"cwd": "/w", "root": "/w"}, "cost": 0, "summary": filler(rng, 40),
             "tokens": {"input": rng.randint(1, 3000), "output": rng.randint(10, 2000), "reasoning": rng.randint(0, 400),
                        "cache": {"read": rng.randint(0, 80000), "write": 0 if model[1] == "openai" else rng.randint(0, 4000)}}}
        if m % 10 == 0:
            # The older store: one file per message.
            w(f"{root}/storage/message/ses_{m // 50}/msg_{m:07d}.json", [dict(d, id=f"msg_{m:07d}", sessionID=f"ses_{m // 50}")])
        else:
            rows.append((f"msg_{m:07d}", f"ses_{m // 50}", ms, ms, json.dumps(d)))
    db.executemany("INSERT INTO message VALUES (?,?,?,?,?)", rows)
    db.commit()
    db.close()


def droid(home, rng, now, scale):
    for s in range(int(20000 * scale)):
        sid = f"dddd{s:04x}-0000-4000-8000-{s:012x}"
        claude = s % 2 == 0
        doc = {"model": "claude-sonnet-4-5-20250929" if claude else "custom:GPT-5-Codex-[OpenAI]", "reasoningEffort": "none", "autonomyMode": "auto-low",
               "providerLock": "anthropic", "providerLockTimestamp": iso(now - rng.randint(1, 25) * DAY - rng.randint(0, DAY)),
               "tokenUsage": {"inputTokens": rng.randint(100, 30000), "outputTokens": rng.randint(100, 9000),
                              "cacheCreationTokens": rng.randint(0, 9000) if claude else 0, "cacheReadTokens": rng.randint(0, 190000),
                              "thinkingTokens": rng.randint(0, 3000)}}
        path = f"{home}/.factory/sessions/-w-{s % 40}/{sid}.settings.json"
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(doc, f, indent=2)
        w(f"{home}/.factory/sessions/-w-{s % 40}/{sid}.jsonl", [{"type": "session_start", "id": sid, "title": filler(rng, 8)}])


def grok(home, rng, now, scale):
    for s in range(int(200 * scale)):
        d = f"{home}/.grok/sessions/%2Fw/019f{s:04x}-0000-7000-8000-{s:012x}"
        lines = []
        t = now - rng.randint(1, 25) * DAY
        for k in range(rng.randint(10, 60)):
            t += rng.randint(5, 200)
            for _ in range(rng.randint(2, 12)):
                lines.append({"timestamp": t, "method": "_x.ai/session/update", "params": {"sessionId": f"g{s}", "update": {"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": filler(rng, 30)}}}})
            per = {}
            for m in (["grok-code-fast-1", "grok-4"] if k % 4 == 0 else ["grok-code-fast-1"]):
                inp = rng.randint(5000, 150000)
                per[m] = {"inputTokens": inp, "outputTokens": rng.randint(10, 3000), "cachedReadTokens": rng.randint(0, inp), "cacheCreationTokens": 0, "reasoningTokens": rng.randint(0, 9), "totalTokens": 0}
            usage = dict(next(iter(per.values())), modelUsage=per)
            lines.append({"timestamp": t, "method": "_x.ai/session/update", "params": {"sessionId": f"g{s}", "update": {"sessionUpdate": "turn_completed", "usage": usage}, "_meta": {"eventId": f"e{s}-{k}", "agentTimestampMs": t * 1000 + 7}}})
        w(f"{d}/updates.jsonl", lines)
        with open(f"{d}/summary.json", "w") as f:
            json.dump({"info": {"id": f"g{s}", "cwd": "/w"}, "current_model_id": "grok-code-fast-1"}, f)


AGENTS = {"codex": codex, "gemini": gemini, "qwen": qwen, "opencode": opencode, "droid": droid, "grok": grok}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("home")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--agents", default=",".join(AGENTS))
    a = ap.parse_args()
    now = int(time.time()) // DAY * DAY
    for name in a.agents.split(","):
        AGENTS[name](a.home, random.Random(name), now, a.scale)
        print(f"generated {name}")


if __name__ == "__main__":
    main()
