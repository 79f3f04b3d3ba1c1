#!/usr/bin/env python3
"""A synthetic Claude Code data directory for the import benchmark (bench/import.sh).

Writes DIR/projects/<project>/<session>.jsonl: compact JSON lines shaped like the ones
Claude Code writes (key order, envelope fields, content blocks), in a realistic mix:

- user prompts, and tool results (most small, a long tail up to a few hundred KB, the
  content repeated in `toolUseResult` as Claude Code does);
- assistant messages with `message.id`, `requestId`, `model` and `message.usage` (the four
  token counts plus the `cache_creation` 5m/1h split and `service_tier`), one line per
  content block (thinking, text, tool_use with an `input` object): a message spans 1-3
  lines that repeat the same id, requestId and IDENTICAL usage (streaming snapshots);
- subagent (Task) conversations with `isSidechain: true` and their own message ids;
- summary, file-history-snapshot and system lines that carry no usage;
- timestamps spread over the DAYS days before --end-date; file sizes log-normal.

Every assistant line has a requestId and copies of one message carry the same usage, so
"count once per (message.id, requestId)" gives the same totals whichever copy is kept:
clown's rule and ccusage's agree on this data. The true totals are written to
--expected (JSON), computed here while generating, independently of both tools.

Deterministic: the same --seed, --end-date and sizes give the same bytes (each file has its
own generator seeded from the seed and the file's number, so --jobs does not matter).

    bench/gen_claude.py bench/out/claude                 # ~1 GiB, 3,000 files
    bench/gen_claude.py --size-mb 50 --files 150 /tmp/small-claude
"""

import argparse
import datetime as dt
import json
import math
import os
import random
import shutil
import sys
from multiprocessing import Pool

VERSION = "2.0.27"
# (model, weight) for a session's main model; ids are the ones Claude Code records and
# the registry prices (src/registry/builtin/pricing.json).
MAIN_MODELS = [
    ("claude-sonnet-4-5-20250929", 45),
    ("claude-opus-4-1-20250805", 15),
    ("claude-opus-4-5-20251101", 15),
    ("claude-sonnet-4-20250514", 10),
    ("claude-haiku-4-5-20251001", 10),
    ("claude-3-7-sonnet-20250219", 5),
]
SIDECHAIN_MODELS = [("claude-haiku-4-5-20251001", 60), ("claude-sonnet-4-5-20250929", 40)]
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
WORDS = (
    "the a to of and in is it for on that with this be as are at by from or not we "
    "function return const let var if else while match impl struct enum pub fn use mod "
    "self async await error result option some none ok err value key path file line "
    "config test build run daemon profile usage import token model cache request response "
    "server client handler route query store event session agent provider registry"
).split()
TOOLS = ["Read", "Bash", "Edit", "Grep", "Glob", "Write", "TodoWrite", "WebFetch"]
SEP = (",", ":")
PLACEHOLDER = "0000-00-00T00:00:00.000Z"


def dumps(obj):
    return json.dumps(obj, separators=SEP, ensure_ascii=False)


def build_corpus(seed, size=6 << 20):
    """Code-like text with quotes, backslashes, tabs and some non-ASCII, for tool output."""
    r = random.Random(f"{seed}:corpus")
    out, n = [], 0
    while n < size:
        indent = "    " * r.randrange(0, 4)
        k = r.randrange(2, 14)
        words = " ".join(r.choice(WORDS) for _ in range(k))
        kind = r.random()
        if kind < 0.15:
            line = f'{indent}let s = "{words}";'
        elif kind < 0.2:
            line = f"{indent}// {words} — naïve café ✓"
        elif kind < 0.25:
            line = f'{indent}path = "C:\\\\tmp\\\\{r.choice(WORDS)}"\t# {words}'
        elif kind < 0.3:
            line = ""
        else:
            line = f"{indent}{words}({r.randrange(1000)}) {{"
        out.append(line)
        n += len(line) + 1
    return "\n".join(out)


def weighted(r, pairs):
    total = sum(w for _, w in pairs)
    x = r.uniform(0, total)
    for v, w in pairs:
        x -= w
        if x <= 0:
            return v
    return pairs[-1][0]


class Session:
    def __init__(self, job, corpus):
        (self.index, seed, self.window, self.target, self.project, self.cwd) = job
        self.r = random.Random(f"{seed}:{self.index}")
        self.corpus = corpus
        self.sid = self.uuid()
        self.t = 0.0  # seconds from the session's start; placed in the window at the end
        self.times = []  # per line: its time, or None
        self.line_t = None
        self.parent = None
        self.lines = []
        self.size = 0
        self.model = weighted(self.r, MAIN_MODELS)
        self.context = self.r.randrange(12_000, 22_000)  # system prompt + tools
        self.tokens = [0, 0, 0, 0]  # input, output, cache write, cache read
        self.messages = 0
        self.usage_lines = 0
        self.by_model = {}

    def uuid(self):
        h = "%032x" % self.r.getrandbits(128)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"

    def rid(self, prefix, n):
        return prefix + "".join(self.r.choice(B62) for _ in range(n))

    def ts(self, advance):
        """A placeholder of a timestamp's width; `finish` writes the real one."""
        self.t += advance
        self.line_t = self.t
        return PLACEHOLDER

    def text(self, lo, median, hi):
        n = int(min(hi, max(lo, self.r.lognormvariate(math.log(median), 1.1))))
        n = min(n, len(self.corpus) - 1)
        off = self.r.randrange(0, len(self.corpus) - n)
        return self.corpus[off : off + n]

    def emit(self, obj):
        t, self.line_t = self.line_t, None
        s = dumps(obj)
        self.lines.append(s)
        self.times.append(t)
        self.size += len(s.encode()) + 1

    def finish(self):
        """Places the session in its window (squeezed if it is longer) and writes the times."""
        begin, end = self.window
        span = (end - begin) * 0.9
        f = min(1.0, span / max(self.t, 1.0))
        self.start = self.r.uniform(begin, end - self.t * f - 60)
        self.end = self.start + self.t * f
        for i, t in enumerate(self.times):
            if t is not None:
                a = self.start + t * f
                stamp = dt.datetime.fromtimestamp(a, dt.timezone.utc).strftime(
                    "%Y-%m-%dT%H:%M:%S.") + "%03dZ" % int((a % 1) * 1000)
                self.lines[i] = self.lines[i].replace(PLACEHOLDER, stamp, 1)

    def envelope(self, sidechain, agent):
        e = {
            "parentUuid": self.parent,
            "isSidechain": sidechain,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.sid,
            "version": VERSION,
            "gitBranch": "main",
        }
        if agent:
            e["agentId"] = agent
        return e

    def user(self, content, sidechain=False, agent=None, tool_result=None):
        u = self.uuid()
        e = self.envelope(sidechain, agent)
        e["type"] = "user"
        e["message"] = {"role": "user", "content": content}
        e["uuid"] = u
        e["timestamp"] = self.ts(self.r.uniform(0.05, 3.0))
        if tool_result is not None:
            e["toolUseResult"] = tool_result
        self.emit(e)
        self.parent = u

    def assistant(self, model, blocks, new_tokens, sidechain=False, agent=None):
        """One model response: one line per content block, same id, requestId and usage."""
        r = self.r
        cache_write = max(0, new_tokens + r.randrange(0, 400))
        cache_read = self.context
        if r.random() < 0.03:  # cache expired: everything written again
            cache_write, cache_read = cache_write + cache_read, 0
        input_tokens = r.randrange(1, 12) if r.random() < 0.93 else r.randrange(500, 20_000)
        output = int(min(16_000, r.lognormvariate(math.log(180), 1.0)))
        output += sum(len(json.dumps(b)) // 4 for b in blocks if b["type"] == "tool_use")
        one_hour = cache_write if r.random() < 0.2 else 0
        usage = {
            "input_tokens": input_tokens,
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": cache_write - one_hour,
                "ephemeral_1h_input_tokens": one_hour,
            },
            "output_tokens": output,
            "service_tier": "standard",
        }
        mid = self.rid("msg_01", 22)
        req = self.rid("req_011C", 18)
        for b in blocks:
            u = self.uuid()
            e = self.envelope(sidechain, agent)
            e["message"] = {
                "model": model,
                "id": mid,
                "type": "message",
                "role": "assistant",
                "content": [b],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage,
            }
            e["requestId"] = req
            e["type"] = "assistant"
            e["uuid"] = u
            e["timestamp"] = self.ts(r.uniform(0.2, 8.0))
            self.emit(e)
            self.parent = u
            self.usage_lines += 1
        counts = (input_tokens, output, cache_write, cache_read)
        for i, c in enumerate(counts):
            self.tokens[i] += c
        m = self.by_model.setdefault(model, [0, 0, 0, 0, 0])
        for i, c in enumerate(counts):
            m[i] += c
        m[4] += 1
        self.messages += 1
        self.context = min(self.context + cache_write + input_tokens + output, 190_000)

    def tool_use(self, name):
        r = self.r
        tid = self.rid("toolu_01", 22)
        path = f"{self.cwd}/src/{r.choice(WORDS)}/{r.choice(WORDS)}.rs"
        if name == "Read":
            inp = {"file_path": path}
        elif name == "Bash":
            inp = {"command": f"cargo test {r.choice(WORDS)} 2>&1 | tail -50",
                   "description": "Run the tests"}
        elif name == "Edit":
            inp = {"file_path": path, "old_string": self.text(20, 300, 4000),
                   "new_string": self.text(20, 400, 6000)}
        elif name == "Write":
            inp = {"file_path": path, "content": self.text(200, 3000, 40_000)}
        elif name == "TodoWrite":
            inp = {"todos": [{"content": self.text(10, 40, 120), "status": "pending",
                              "activeForm": self.text(10, 40, 120)} for _ in range(r.randrange(2, 7))]}
        else:
            inp = {"pattern": r.choice(WORDS), "path": self.cwd}
        return tid, {"type": "tool_use", "id": tid, "name": name, "input": inp}

    def tool_result(self, tid, name, sidechain, agent):
        """The result of one tool call; returns its size in tokens."""
        if name == "Read":
            body = self.text(50, 4000, 400_000)
            extra = {"type": "text", "file": {"filePath": f"{self.cwd}/src/x.rs", "content": body,
                     "numLines": body.count("\n") + 1, "startLine": 1,
                     "totalLines": body.count("\n") + 1}}
        elif name == "Bash":
            body = self.text(20, 1200, 150_000)
            extra = {"stdout": body, "stderr": "", "interrupted": False, "isImage": False}
        else:
            body = self.text(20, 300, 20_000)
            extra = {"type": "update", "content": body}
        content = [{"tool_use_id": tid, "type": "tool_result", "content": body}]
        self.user(content, sidechain, agent, tool_result=extra)
        return len(body) // 4 + 20

    def turn(self, model, sidechain=False, agent=None):
        """One agentic step: a response of 1-3 blocks, then the results of its tools."""
        r = self.r
        x = r.random()
        blocks = []
        if x < 0.15 and "opus" in model:
            blocks.append({"type": "thinking", "thinking": self.text(50, 600, 6000),
                           "signature": self.rid("Eu", 120)})
        if x < 0.7:
            blocks.append({"type": "text", "text": self.text(10, 250, 3000)})
        tools = []
        for _ in range(1 if r.random() < 0.85 else 2):
            if len(blocks) >= 3:
                break
            name = r.choice(TOOLS)
            tid, b = self.tool_use(name)
            blocks.append(b)
            tools.append((tid, name))
        self.assistant(model, blocks, self.pending, sidechain, agent)
        self.pending = 0
        for tid, name in tools:
            self.pending += self.tool_result(tid, name, sidechain, agent)

    def sidechain(self):
        """A Task subagent: its prompt, a few steps, its answer, then the parent's result."""
        r = self.r
        agent = "%08x" % r.getrandbits(32)
        model = weighted(r, SIDECHAIN_MODELS)
        saved = (self.parent, self.context, self.pending)
        self.parent, self.context, self.pending = None, r.randrange(8000, 14000), 0
        self.user(self.text(40, 300, 2000), True, agent)
        for _ in range(r.randrange(2, 9)):
            self.turn(model, True, agent)
        self.assistant(model, [{"type": "text", "text": self.text(100, 1200, 8000)}],
                       self.pending, True, agent)
        self.parent, self.context, self.pending = saved

    def run(self):
        r = self.r
        self.pending = 0
        if r.random() < 0.3:
            self.emit({"type": "summary", "summary": self.text(20, 60, 120),
                       "leafUuid": self.uuid()})
        while self.size < self.target:
            u = self.uuid()
            self.emit({"type": "file-history-snapshot", "messageId": u,
                       "snapshot": {"messageId": u, "trackedFileBackups": {},
                                    "timestamp": self.ts(0)}, "isSnapshotUpdate": False})
            self.user(self.text(10, 200, 5000))
            self.t += r.uniform(5, 600)  # the user thinks
            self.pending = 300
            for _ in range(r.randrange(1, 15)):
                if r.random() < 0.03:
                    self.sidechain()
                self.turn(self.model)
                if self.size >= self.target:
                    break
            self.assistant(self.model, [{"type": "text", "text": self.text(20, 500, 4000)}],
                           self.pending)
            if self.context >= 190_000 or r.random() < 0.01:
                e = self.envelope(False, None)
                e.update({"type": "system", "subtype": "compact_boundary",
                          "content": "Conversation compacted", "isMeta": False,
                          "timestamp": self.ts(1), "uuid": self.uuid(), "level": "info"})
                self.emit(e)
                self.context = r.randrange(15_000, 30_000)


def write_session(args):
    job, out = args
    s = Session(job, CORPUS)
    s.run()
    s.finish()
    path = os.path.join(out, "projects", s.project, f"{s.sid}.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(s.lines))
        f.write("\n")
    return {"size": s.size, "messages": s.messages, "usage_lines": s.usage_lines,
            "tokens": s.tokens, "by_model": s.by_model, "first": s.start, "last": s.end}


CORPUS = None


def init(seed):
    global CORPUS
    CORPUS = build_corpus(seed)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--size-mb", type=float, default=1024, help="total size in MiB (1024)")
    ap.add_argument("--files", type=int, default=3000)
    ap.add_argument("--projects", type=int, default=40)
    ap.add_argument("--days", type=int, default=25)
    ap.add_argument("--end-date", default=dt.date.today().isoformat(),
                    help="sessions start within DAYS days before this UTC date (today)")
    ap.add_argument("--seed", default="clown-bench-1")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--expected", help="write the true totals here (default DIR.expected.json)")
    a = ap.parse_args()

    r = random.Random(f"{a.seed}:layout")
    end = dt.datetime.fromisoformat(a.end_date).replace(tzinfo=dt.timezone.utc).timestamp()
    begin = end - a.days * 86400
    raw = [r.lognormvariate(0, 1.5) for _ in range(a.files)]
    scale = a.size_mb * (1 << 20) / sum(raw)
    sizes = [max(2000, int(x * scale)) for x in raw]
    projects = [f"-home-dev-src-{r.choice(WORDS)}-{i:02d}" for i in range(a.projects)]
    weights = [1 / (i + 1) for i in range(a.projects)]
    if os.path.exists(a.dir):
        shutil.rmtree(a.dir)
    for p in projects:
        os.makedirs(os.path.join(a.dir, "projects", p))
    jobs = []
    for i in range(a.files):
        p = r.choices(projects, weights)[0]
        jobs.append(((i, a.seed, (begin, end - 3600), sizes[i], p, "/home/dev/src/" + p.split("-src-")[1]), a.dir))

    with Pool(a.jobs, initializer=init, initargs=(a.seed,)) as pool:
        results = pool.map(write_session, jobs, chunksize=8)

    tokens = [0, 0, 0, 0]
    by_model = {}
    for res in results:
        for i in range(4):
            tokens[i] += res["tokens"][i]
        for m, v in res["by_model"].items():
            acc = by_model.setdefault(m, [0, 0, 0, 0, 0])
            for i in range(5):
                acc[i] += v[i]
    names = ["input_tokens", "output_tokens", "cache_creation_input_tokens",
             "cache_read_input_tokens"]
    expected = {
        "seed": a.seed,
        "end_date": a.end_date,
        "files": a.files,
        "bytes": sum(x["size"] for x in results),
        "messages": sum(x["messages"] for x in results),
        "usage_lines": sum(x["usage_lines"] for x in results),
        "first_ts": min(x["first"] for x in results),
        "last_ts": max(x["last"] for x in results),
        "tokens": dict(zip(names, tokens)),
        "total_tokens": sum(tokens),
        "by_model": {m: dict(zip(names + ["messages"], v)) for m, v in sorted(by_model.items())},
    }
    path = a.expected or a.dir.rstrip("/") + ".expected.json"
    with open(path, "w") as f:
        json.dump(expected, f, indent=1)
    print(f"{a.dir}: {a.files} files, {expected['bytes'] / (1 << 20):.0f} MiB, "
          f"{expected['usage_lines']} usage lines, {expected['messages']} messages, "
          f"{expected['total_tokens']} tokens; totals in {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
