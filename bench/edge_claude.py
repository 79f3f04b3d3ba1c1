#!/usr/bin/env python3
"""Where clown's Claude import and ccusage can disagree: one small Claude directory per
case, each imported by clown (POST /api/usage/import-claude) and read by
`ccusage daily --json --offline`; prints the total tokens each counts against the truth
(what the API billed: every distinct response once).

    bench/edge_claude.py BINARY CCUSAGE_BINARY OUT_DIR

The main benchmark data (bench/gen_claude.py) avoids these shapes on purpose, so that the
two tools must agree there; this script shows what each does with them.
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clown_bench import Daemon  # noqa: E402

SID = "11111111-2222-4333-8444-555555555555"
SID2 = "66666666-7777-4888-8999-aaaaaaaaaaaa"


def usage(i, o, cw, cr):
    return {"input_tokens": i, "cache_creation_input_tokens": cw, "cache_read_input_tokens": cr,
            "cache_creation": {"ephemeral_5m_input_tokens": cw, "ephemeral_1h_input_tokens": 0},
            "output_tokens": o, "service_tier": "standard"}


def assistant(mid, req, u, ts, sid=SID, side=False, n=0, block=None):
    line = {"parentUuid": None, "isSidechain": side, "userType": "external", "cwd": "/w",
            "sessionId": sid, "version": "2.0.27", "gitBranch": "main",
            "message": {"model": "claude-sonnet-4-5-20250929", "id": mid, "type": "message",
                        "role": "assistant",
                        "content": [block or {"type": "text", "text": f"part {n}"}],
                        "stop_reason": None, "stop_sequence": None, "usage": u},
            "type": "assistant", "uuid": f"00000000-0000-4000-8000-{n:012d}",
            "timestamp": ts}
    if req is not None:
        line["requestId"] = req
    return line


def total(u):
    return u["input_tokens"] + u["output_tokens"] + u["cache_creation_input_tokens"] + u["cache_read_input_tokens"]


U1 = usage(3, 250, 1200, 30000)
U2 = usage(5, 90, 400, 31000)
T1, T2 = "2026-11-20T10:00:00.000Z", "2026-11-20T10:00:05.000Z"

CASES = {
    # name: (description, {relative file: [lines]}, true total)
    "snapshots-growing": (
        "one response on 3 lines, output_tokens growing 1 -> 120 -> 250 (same id, requestId)",
        {f"projects/p/{SID}.jsonl": [
            assistant("msg_01A", "req_01A", usage(3, 1, 1200, 30000), T1, n=1),
            assistant("msg_01A", "req_01A", usage(3, 120, 1200, 30000), T1, n=2),
            assistant("msg_01A", "req_01A", U1, T1, n=3)]},
        total(U1)),
    "no-request-id": (
        "one response on 2 lines without requestId (older Claude Code)",
        {f"projects/p/{SID}.jsonl": [
            assistant("msg_01B", None, U1, T1, n=1),
            assistant("msg_01B", None, U1, T1, n=2)]},
        total(U1)),
    "sidechain-replay": (
        "a /btw sidechain line replays a parent response with a NEW requestId (same id, session, usage)",
        {f"projects/p/{SID}.jsonl": [
            assistant("msg_01C", "req_01C", U1, T1, n=1),
            assistant("msg_01C", "req_01C_btw", U1, T1, side=True, n=2)]},
        total(U1)),
    "resumed-session": (
        "a resumed session: the new session's file repeats the old response (same id, requestId), other sessionId",
        {f"projects/p/{SID}.jsonl": [assistant("msg_01D", "req_01D", U1, T1, n=1)],
         f"projects/p/{SID2}.jsonl": [assistant("msg_01D", "req_01D", U1, T1, sid=SID2, n=2),
                                      assistant("msg_01E", "req_01E", U2, T2, sid=SID2, n=3)]},
        total(U1) + total(U2)),
    "progress-only": (
        "a subagent response recorded only nested in a type:progress line (data.message.message)",
        {f"projects/p/{SID}.jsonl": [
            {"parentUuid": None, "isSidechain": False, "userType": "external", "cwd": "/w",
             "sessionId": SID, "version": "2.1.0", "gitBranch": "main", "type": "progress",
             "data": {"type": "agent_progress", "message": {
                 "type": "assistant", "timestamp": T1, "requestId": "req_01F",
                 "message": {"model": "claude-haiku-4-5-20251001", "id": "msg_01F", "type": "message",
                             "role": "assistant", "content": [{"type": "text", "text": "x"}],
                             "usage": U2}}},
             "uuid": "00000000-0000-4000-8000-000000000009", "timestamp": T1}]},
        total(U2)),
}


def write(base, files):
    for rel, lines in files.items():
        p = os.path.join(base, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            for line in lines:
                f.write(json.dumps(line, separators=(",", ":")) + "\n")


def ccusage_total(ccusage, claude_dir, home):
    env = {"PATH": "/usr/bin:/bin", "HOME": home, "CLAUDE_CONFIG_DIR": claude_dir, "TZ": "UTC"}
    out = subprocess.run([ccusage, "daily", "--json", "--offline"], env=env,
                         capture_output=True, text=True, check=True).stdout
    t = json.loads(out).get("totals") or {}
    return sum(t.get(k, 0) for k in ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens"))


def main():
    binary, ccusage, out = (os.path.abspath(a) for a in sys.argv[1:4])
    root = os.path.join(out, "edge")
    os.makedirs(root, exist_ok=True)
    home = os.path.join(root, "ccusage-home")
    os.makedirs(home, exist_ok=True)
    print(f"{'case':20} {'truth':>7} {'clown':>7} {'ccusage':>7}  what")
    results = {}
    for name, (desc, files, truth) in CASES.items():
        base = os.path.join(root, name)
        write(base, files)
        d = Daemon(binary, root)
        try:
            d.ok("POST", f"/api/usage/import-claude?claude_dir={base}")
            t = d.ok("GET", "/api/usage?period=all")[0]["total_tokens"]
            clown = sum(t.values())
        finally:
            d.stop()
        cc = ccusage_total(ccusage, base, home)
        results[name] = {"truth": truth, "clown": clown, "ccusage": cc, "what": desc}
        mark = lambda v: "" if v == truth else " *"
        print(f"{name:20} {truth:>7} {clown:>7}{mark(clown):2} {cc:>7}{mark(cc):2} {desc}")
    with open(os.path.join(out, "edge.json"), "w") as f:
        json.dump(results, f, indent=1)
    print("(* = differs from the truth)")


if __name__ == "__main__":
    main()
