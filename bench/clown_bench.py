#!/usr/bin/env python3
"""Measurements for bench/profiles.sh, bench/import.sh and bench/query.sh.

    clown_bench.py profiles BINARY OUT_DIR
    clown_bench.py import   BINARY OUT_DIR CLAUDE_DIR CCUSAGE_BINARY
    clown_bench.py query    BINARY OUT_DIR

Each starts `clown daemon --listen 127.0.0.1:<free port>` with a fresh temporary HOME (so
its data directory, token and profile homes are new), talks to it with the token from
$HOME/.local/state/clown/token, and writes OUT_DIR/<name>.json next to what it prints.

The machine is shared: before each timed step the script waits (up to QUIET_WAIT seconds,
default 600) until the CPUs were at least QUIET_IDLE (default 0.85) idle over a second and
no compiler runs, and it records the load average, the idle share and whether a compiler
ran next to every figure. CPU time (user + system) is recorded too: it is the figure least
disturbed by other work.
"""

import http.client
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

QUIET_WAIT = float(os.environ.get("QUIET_WAIT", "600"))
QUIET_IDLE = float(os.environ.get("QUIET_IDLE", "0.85"))
TICK = os.sysconf("SC_CLK_TCK")
DROP = re.compile(r"^(XDG_.*|CLOWN_.*|JOURNAL_STREAM|LISTEN_.*|NOTIFY_SOCKET|WATCHDOG_.*|RUST_LOG|CODEX_HOME|GEMINI_CLI_HOME|QWEN_HOME|FACTORY_HOME_OVERRIDE|GROK_HOME|CLAUDE_CONFIG_DIR)$")
COMPILERS = {"rustc", "cc1", "cc1plus", "ld", "ld.lld", "mold", "cargo", "clippy-driver"}


def log(msg=""):
    print(msg, flush=True)


# ---------------------------------------------------------------- machine state


def cpu_times():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v), v[3] + v[4]  # total, idle + iowait


def idle_share(secs=1.0):
    t0, i0 = cpu_times()
    time.sleep(secs)
    t1, i1 = cpu_times()
    return (i1 - i0) / max(1, t1 - t0)


def compilers_running():
    names = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/comm") as f:
                    c = f.read().strip()
            except OSError:
                continue
            if c in COMPILERS:
                names.add(c)
    return sorted(names)


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def machine():
    """The state recorded next to a figure."""
    return {"loadavg": loadavg(), "idle": round(idle_share(0.5), 2), "compilers": compilers_running()}


def wait_quiet(what):
    """Waits until the machine is quiet (or QUIET_WAIT passed); returns its state."""
    start = time.time()
    said = False
    while True:
        idle = idle_share(1.0)
        comp = compilers_running()
        if idle >= QUIET_IDLE and not comp:
            break
        if time.time() - start > QUIET_WAIT:
            log(f"  (machine still busy after {QUIET_WAIT:.0f} s: idle {idle:.0%}, {comp}; measuring anyway)")
            break
        if not said:
            log(f"  waiting for a quiet machine before {what} (idle {idle:.0%}, compilers {comp or 'none'})")
            said = True
        time.sleep(2)
    return {"loadavg": loadavg(), "idle_before": round(idle, 2), "compilers_before": comp,
            "waited_s": round(time.time() - start, 1)}


def note(state):
    la = state["loadavg"]
    s = f"load {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}, idle {state.get('idle_before', state.get('idle', 0)):.0%}"
    comp = state.get("compilers_before", state.get("compilers"))
    if comp:
        s += f", compiling: {','.join(comp)}"
    return s


def pct(values, p):
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def dist(values, scale=1.0, nd=2):
    return {
        "n": len(values),
        "min": round(min(values) * scale, nd),
        "p50": round(pct(values, 50) * scale, nd),
        "p90": round(pct(values, 90) * scale, nd),
        "p99": round(pct(values, 99) * scale, nd),
        "max": round(max(values) * scale, nd),
        "mean": round(statistics.mean(values) * scale, nd),
    }


# ---------------------------------------------------------------- the daemon


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    def __init__(self, binary, root, path=None, home=None, config=None):
        self.home = home or tempfile.mkdtemp(prefix="home-", dir=root)
        if config is not None:
            os.makedirs(os.path.join(self.home, ".config/clown"), exist_ok=True)
            with open(os.path.join(self.home, ".config/clown/config.toml"), "w") as f:
                f.write(config)
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not DROP.match(k)}
        env["HOME"] = self.home
        env["PATH"] = path or "/usr/local/bin:/usr/bin:/bin"
        env.pop("CLAUDE_CONFIG_DIR", None)
        self.logf = open(os.path.join(self.home, "daemon.log"), "wb")
        self.proc = subprocess.Popen(
            [binary, "daemon", "--listen", f"127.0.0.1:{self.port}"],
            env=env, stdin=subprocess.DEVNULL, stdout=self.logf, stderr=subprocess.STDOUT,
        )
        self.pid = self.proc.pid
        token_file = os.path.join(self.home, ".local/state/clown/token")
        deadline = time.time() + 20
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"daemon exited ({self.proc.returncode}); see {self.logf.name}")
            if os.path.exists(token_file):
                with open(token_file) as f:
                    self.token = f.read().strip()
                if self.token:
                    try:
                        if self.request("GET", "/api/daemon/status")[0] == 200:
                            break
                    except OSError:
                        pass
            if time.time() > deadline:
                raise SystemExit("daemon did not become ready in 20 s")
            time.sleep(0.02)
        self.auth = f"Authorization: Bearer {self.token}"

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)

    def request(self, method, path, body=None, conn=None):
        """(status, parsed JSON or None, seconds). Reuses `conn` when given."""
        c = conn or self.conn()
        headers = {"Authorization": f"Bearer {getattr(self, 'token', '')}"}
        if body is not None:
            body = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        t = time.perf_counter()
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        dt = time.perf_counter() - t
        if conn is None:
            c.close()
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        return r.status, parsed, dt

    def ok(self, method, path, body=None, conn=None):
        status, parsed, dt = self.request(method, path, body, conn)
        if status != 200 or not parsed or not parsed.get("success"):
            raise SystemExit(f"{method} {path}: {status} {str(parsed)[:500]}")
        return parsed["data"], dt

    def status(self):
        out = {}
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "Threads"):
                    out[k] = int(v.split()[0])
        return out

    def cpu(self):
        """User and system CPU seconds of the daemon so far."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) / TICK, int(fields[12]) / TICK

    def io(self):
        out = {}
        with open(f"/proc/{self.pid}/io") as f:
            for line in f:
                k, _, v = line.partition(":")
                out[k] = int(v)
        return out

    def db(self):
        return os.path.join(self.home, ".local/share/clown/clown.db")

    def stop(self, keep=False):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.logf.close()
        if not keep:
            shutil.rmtree(self.home, ignore_errors=True)


def wrk(url, auth, threads, conns, duration):
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}", "--latency", "-H", auth, url],
        capture_output=True, text=True, check=True,
    ).stdout

    def ms(s):
        v, unit = re.match(r"([\d.]+)(us|ms|s)", s).groups()
        return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    lat = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "threads": threads, "connections": conns, "duration": duration,
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "transfer_per_s": re.search(r"Transfer/sec:\s+(\S+)", out).group(1),
        "latency_ms": {f"p{k}": round(ms(v), 2) for k, v in lat.items()},
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1) if errors else None,
    }


def save(out_dir, name, result):
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{name}.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    log(f"\nresults: {path}")


# ---------------------------------------------------------------- profiles and agents


def bench_profiles(binary, out):
    n = int(os.environ.get("PROFILES", "1000"))
    duration = os.environ.get("WRK_DURATION", "10s")
    configs = [c.split(":") for c in os.environ.get("WRK_CONFIGS", "1:16 2:64").split()]
    agent_path = os.environ.get("AGENT_PATH", "")
    path = ":".join(p for p in [agent_path, "/usr/local/bin:/usr/bin:/bin"] if p)
    res = {"profiles": n, "path": path}
    work = os.path.join(out, "work")
    os.makedirs(work, exist_ok=True)

    # Agent detection. The first request after start runs every agent's version command
    # (all at once); the result is cached for 2 s.
    log("agent detection (GET /api/agents, whole catalogue)")
    res["agents_machine"] = wait_quiet("agent detection")
    d = Daemon(binary, work, path)
    try:
        agents, cold_first = d.ok("GET", "/api/agents")
        c = d.conn()
        warm = [d.ok("GET", "/api/agents", conn=c)[1] for _ in range(50)]
        cold = []
        for _ in range(int(os.environ.get("AGENT_RUNS", "10"))):
            time.sleep(2.2)  # past the cache's 2 s
            cold.append(d.ok("GET", "/api/agents", conn=c)[1])
            warm.append(d.ok("GET", "/api/agents", conn=c)[1])
        c.close()
        res["agents"] = [{k: a.get(k) for k in ("id", "installed", "version", "binary_path")} for a in agents]
        res["agents_cold_first_ms"] = round(cold_first * 1000, 1)
        res["agents_cold_ms"] = dist(cold, 1000, 1)
        res["agents_warm_ms"] = dist(warm, 1000, 2)
        res["agents_machine_after"] = machine()
        for a in agents:
            log(f"  {a['id']:9} installed={a['installed']!s:5} version={a.get('version')}")
        log(f"  cold, first request after start: {res['agents_cold_first_ms']} ms")
        log(f"  cold, cache expired (n={len(cold)}): p50 {res['agents_cold_ms']['p50']} ms, "
            f"max {res['agents_cold_ms']['max']} ms")
        log(f"  warm, cached (n={len(warm)}): p50 {res['agents_warm_ms']['p50']} ms, "
            f"p99 {res['agents_warm_ms']['p99']} ms  [{note(res['agents_machine'])}]")
    finally:
        d.stop()

    log(f"\ncreating {n} profiles (claude on anthropic, dummy key)")
    d = Daemon(binary, work, path)
    try:
        res["create_machine"] = wait_quiet("creating profiles")
        c = d.conn()
        times = []
        t0 = time.perf_counter()
        for i in range(n):
            body = {"agent_id": "claude", "alias": f"bench-{i:04d}", "provider_id": "anthropic",
                    "api_key": f"sk-ant-api03-bench-dummy-key-{i:04d}"}
            times.append(d.ok("POST", "/api/profiles", body, conn=c)[1])
        total = time.perf_counter() - t0
        listed, _ = d.ok("GET", "/api/profiles", conn=c)
        c.close()
        assert len(listed) == n, len(listed)
        body = d.request("GET", "/api/profiles")
        size = len(json.dumps(body[1]).encode())
        res["create"] = {"total_s": round(total, 2), "per_s": round(n / total, 1),
                         "ms": dist(times, 1000, 2)}
        res["list_response_bytes"] = size
        log(f"  {n} created in {total:.2f} s ({n / total:.0f}/s; p50 {res['create']['ms']['p50']} ms, "
            f"p99 {res['create']['ms']['p99']} ms); GET /api/profiles returns {n} profiles, "
            f"{size / 1024:.0f} KiB")

        res["wrk"] = []
        url = f"http://127.0.0.1:{d.port}/api/profiles"
        for threads, conns in configs:
            state = wait_quiet(f"wrk -t{threads} -c{conns}")
            r = wrk(url, d.auth, int(threads), int(conns), duration)
            r["machine"] = state
            r["daemon_after"] = d.status()
            res["wrk"].append(r)
            log(f"  wrk -t{threads} -c{conns} -d{duration}: {r['requests_per_s']:.0f} req/s, "
                f"p50 {r['latency_ms'].get('p50')} ms, p99 {r['latency_ms'].get('p99')} ms, "
                f"non-2xx {r['non_2xx']}, daemon RSS {r['daemon_after']['VmRSS'] / 1024:.0f} MiB  [{note(state)}]")
    finally:
        d.stop()
    save(out, "profiles", res)


# ---------------------------------------------------------------- Claude import vs ccusage


def warm_cache(directory):
    n = 0
    for root, _, files in os.walk(directory):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                while chunk := f.read(1 << 20):
                    n += len(chunk)
    return n


def run_ccusage(ccusage, claude_dir, scratch):
    home = os.path.join(scratch, "ccusage-home")
    os.makedirs(home, exist_ok=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": home, "CLAUDE_CONFIG_DIR": claude_dir,
           "NO_COLOR": "1", "TZ": os.environ.get("TZ", "UTC")}
    tv = os.path.join(scratch, "ccusage.time")
    out = os.path.join(scratch, "ccusage.json")
    with open(out, "wb") as f:
        subprocess.run(["/usr/bin/time", "-v", "-o", tv, ccusage, "daily", "--json", "--offline"],
                       env=env, stdout=f, check=True)
    fields = {}
    with open(tv) as f:
        for line in f:
            k, _, v = line.strip().rpartition(": ")
            fields[k] = v
    h, m, s = (["0"] + fields["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":"))[-3:]
    with open(out) as f:
        report = json.load(f)
    return {
        "wall_s": int(h) * 3600 + int(m) * 60 + float(s),
        "user_s": float(fields["User time (seconds)"]),
        "sys_s": float(fields["System time (seconds)"]),
        "max_rss_kb": int(fields["Maximum resident set size (kbytes)"]),
        "totals": report["totals"],
    }


def bench_import(binary, out, claude_dir, ccusage):
    runs = int(os.environ.get("RUNS", "5"))
    reimports = int(os.environ.get("REIMPORTS", "20"))
    claude_dir = os.path.abspath(claude_dir)
    work = os.path.join(out, "work")
    os.makedirs(work, exist_ok=True)
    files = sum(len([f for f in fs if f.endswith(".jsonl")]) for _, _, fs in os.walk(claude_dir))
    size = warm_cache(claude_dir)
    warm_cache(claude_dir)
    res = {"claude_dir": claude_dir, "files": files, "bytes": size, "runs": []}
    expected_path = claude_dir.rstrip("/") + ".expected.json"
    if os.path.exists(expected_path):
        with open(expected_path) as f:
            res["expected"] = json.load(f)
    log(f"data: {claude_dir}: {files} files, {size / (1 << 20):.0f} MiB (page cache warmed)")
    log(f"{runs} rounds, each: ccusage daily --json --offline, then clown cold import into a "
        f"new data directory and {reimports} re-imports\n")
    run_ccusage(ccusage, claude_dir, work)  # once untimed: its binary and the data in cache
    for i in range(runs):
        rnd = {}
        state = wait_quiet(f"round {i + 1} (ccusage)")
        cc = run_ccusage(ccusage, claude_dir, work)
        cc["machine"] = state
        rnd["ccusage"] = cc
        log(f"round {i + 1}: ccusage   {cc['wall_s']:6.2f} s wall, {cc['user_s'] + cc['sys_s']:5.2f} s CPU "
            f"({cc['user_s']:.2f} user + {cc['sys_s']:.2f} sys), peak RSS {cc['max_rss_kb'] / 1024:6.1f} MiB  [{note(state)}]")

        d = Daemon(binary, work)
        try:
            before = d.status()
            cpu0, io0 = d.cpu(), d.io()
            state = wait_quiet(f"round {i + 1} (clown)")
            summary, dt = d.ok("POST", f"/api/usage/import-claude?claude_dir={claude_dir}")
            cpu1, io1 = d.cpu(), d.io()
            after = d.status()
            cl = {
                "wall_s": round(dt, 3),
                "user_s": round(cpu1[0] - cpu0[0], 2),
                "sys_s": round(cpu1[1] - cpu0[1], 2),
                "hwm_before_kb": before["VmHWM"],
                "hwm_after_kb": after["VmHWM"],
                "rss_after_kb": after["VmRSS"],
                "write_bytes": io1["write_bytes"] - io0["write_bytes"],
                "wchar": io1["wchar"] - io0["wchar"],
                "summary": summary,
                "machine": state,
            }
            db = d.db()
            cl["db_bytes"] = sum(os.path.getsize(db + s) for s in ("", "-wal") if os.path.exists(db + s))
            log(f"         clown     {cl['wall_s']:6.2f} s wall, {cl['user_s'] + cl['sys_s']:5.2f} s CPU "
                f"({cl['user_s']:.2f} user + {cl['sys_s']:.2f} sys), peak RSS {cl['hwm_after_kb'] / 1024:6.1f} MiB "
                f"(VmHWM {before['VmHWM'] / 1024:.1f} MiB before), wrote {cl['write_bytes'] / (1 << 20):.0f} MiB "
                f"(database now {cl['db_bytes'] / (1 << 20):.0f} MiB)  [{note(state)}]")
            state = wait_quiet(f"round {i + 1} (re-import)")
            c = d.conn()
            times = []
            for _ in range(reimports):
                s2, t = d.ok("POST", f"/api/usage/import-claude?claude_dir={claude_dir}", conn=c)
                times.append(t)
            if "0 new messages, 0 updated" not in s2:
                raise SystemExit(f"re-import added something: {s2}")
            cl["reimport_ms"] = dist(times, 1000, 1)
            cl["reimport_machine"] = state
            cl["reimport_summary"] = s2
            report, _ = d.ok("GET", "/api/usage?period=all&profile=%40claude", conn=c)
            c.close()
            cl["totals"] = report["total_tokens"]
            cl["total_cost"] = report["total_cost"]
            cl["by_model"] = {m: a["tokens"] for m, a in report["aggregates"]["by_model"].items()}
            log(f"         re-import p50 {cl['reimport_ms']['p50']} ms, p90 {cl['reimport_ms']['p90']} ms, "
                f"max {cl['reimport_ms']['max']} ms (n={reimports})  [{note(state)}]")
            rnd["clown"] = cl
        finally:
            d.stop()
        res["runs"].append(rnd)
        save(out, "import", res)  # partial results survive an interruption

    # Totals: clown against ccusage (and the generator's own count, when there is one).
    kinds = [("input_tokens", "inputTokens"), ("output_tokens", "outputTokens"),
             ("cache_creation_input_tokens", "cacheCreationTokens"),
             ("cache_read_input_tokens", "cacheReadTokens")]
    cl_t = res["runs"][-1]["clown"]["totals"]
    cc_t = res["runs"][-1]["ccusage"]["totals"]
    ex_t = res.get("expected", {}).get("tokens")
    log("\ntoken totals          clown            ccusage          generator        clown-ccusage")
    equal = True
    for ck, ok_ in kinds:
        e = ex_t[ck] if ex_t else None
        diff = cl_t[ck] - cc_t[ok_]
        equal &= diff == 0
        log(f"  {ck:28} {cl_t[ck]:>16} {cc_t[ok_]:>16} {e if e is not None else '-':>16} {diff:>+12}")
    res["totals_equal"] = equal
    log(f"  totals equal: {equal}; costs: clown {res['runs'][-1]['clown']['total_cost']['total_cost']:.2f} USD, "
        f"ccusage {cc_t['totalCost']:.2f} USD")

    def med(side, key):
        return statistics.median(r[side][key] for r in res["runs"])

    def med_cpu(side):
        return statistics.median(r[side]["user_s"] + r[side]["sys_s"] for r in res["runs"])

    s = {
        "ccusage_wall_s": med("ccusage", "wall_s"),
        "ccusage_cpu_s": med_cpu("ccusage"),
        "ccusage_peak_rss_mib": med("ccusage", "max_rss_kb") / 1024,
        "clown_wall_s": med("clown", "wall_s"),
        "clown_cpu_s": med_cpu("clown"),
        "clown_peak_rss_mib": med("clown", "hwm_after_kb") / 1024,
        "clown_reimport_p50_ms": statistics.median(r["clown"]["reimport_ms"]["p50"] for r in res["runs"]),
        "clown_reimport_max_ms": max(r["clown"]["reimport_ms"]["max"] for r in res["runs"]),
    }
    s["wall_ratio_clown_over_ccusage"] = s["clown_wall_s"] / s["ccusage_wall_s"]
    s["cpu_ratio_clown_over_ccusage"] = s["clown_cpu_s"] / s["ccusage_cpu_s"]
    s["rss_ratio_clown_over_ccusage"] = s["clown_peak_rss_mib"] / s["ccusage_peak_rss_mib"]
    res["summary"] = {k: round(v, 3) for k, v in s.items()}
    log(f"\nmedians over {runs} rounds:")
    log(f"  ccusage: {s['ccusage_wall_s']:.2f} s wall, {s['ccusage_cpu_s']:.2f} s CPU, peak {s['ccusage_peak_rss_mib']:.0f} MiB")
    log(f"  clown:   {s['clown_wall_s']:.2f} s wall, {s['clown_cpu_s']:.2f} s CPU, peak {s['clown_peak_rss_mib']:.0f} MiB; "
        f"re-import p50 {s['clown_reimport_p50_ms']:.1f} ms (worst {s['clown_reimport_max_ms']:.1f} ms)")
    log(f"  clown/ccusage: wall {s['wall_ratio_clown_over_ccusage']:.2f}, CPU {s['cpu_ratio_clown_over_ccusage']:.2f}, "
        f"peak memory {s['rss_ratio_clown_over_ccusage']:.2f}")
    res["machine_end"] = machine()
    save(out, "import", res)


# ---------------------------------------------------------------- 1M events and the query


MODELS = ["claude-sonnet-4-5-20250929", "claude-opus-4-5-20251101", "claude-haiku-4-5-20251001",
          "claude-opus-4-1-20250805", "claude-sonnet-4-20250514", "MiniMax-M2", "glm-4.6",
          "kimi-k2-0905-preview", "deepseek-chat", "gpt-5-codex"]


def realistic_events(n, profiles, days, seed):
    """Agent sessions: each profile works on some days, in sessions of a few hours during
    the day, one or two models per profile, a response every ~10-40 s."""
    r = random.Random(seed)
    now = int(time.time())
    today = now - now % 86400
    names = [f"bench-{i:02d}" for i in range(profiles)]
    weight = [1 / (i + 1) ** 0.8 for i in range(profiles)]
    primary = {p: MODELS[i % len(MODELS)] for i, p in enumerate(names)}
    secondary = {p: MODELS[(i * 3 + 1) % len(MODELS)] for i, p in enumerate(names)}
    out = []
    while len(out) < n:
        p = r.choices(names, weight)[0]
        day = today - r.randrange(0, days) * 86400
        t = day + int(r.gauss(14, 3) * 3600) % 86400
        for _ in range(int(r.lognormvariate(math.log(150), 0.8))):
            t += r.randrange(5, 45)
            if t > now:
                break
            model = primary[p] if r.random() < 0.85 else secondary[p]
            out.append((t, p, model))
            if len(out) >= n:
                break
    return out


def uniform_events(n, profiles, days, seed):
    """The worst case for the rollup: every event at a random second, profile and model."""
    r = random.Random(seed)
    now = int(time.time())
    names = [f"bench-{i:02d}" for i in range(profiles)]
    return [(now - r.randrange(0, days * 86400), r.choice(names), r.choice(MODELS)) for _ in range(n)]


def load_events(d, events, seed, batch=4_000, limit=1_000_000):
    """Records `events` through POST /api/usage/record: up to `batch` events a request (the
    route's limit), fewer when the body would pass `limit` bytes (the daemon refuses bodies
    over 1 MiB).
    Returns (seconds, requests)."""
    r = random.Random(seed)
    c = d.conn()
    requests = 0
    t0 = time.perf_counter()
    pending, size = [], 2

    def flush():
        nonlocal pending, size, requests
        body = ("{\"events\":[" + ",".join(pending) + "]}").encode()
        data, _ = d.ok("POST", "/api/usage/record", body, conn=c)
        assert data["events_added"] == len(pending), data
        requests += 1
        pending, size = [], 2

    for j, (ts, p, model) in enumerate(events):
        e = json.dumps({
            "profile": p, "model": model, "ts": ts,
            "input_tokens": r.randrange(1, 4000),
            "output_tokens": int(r.lognormvariate(math.log(300), 1.0)),
            "cache_creation_input_tokens": r.randrange(0, 20_000),
            "cache_read_input_tokens": r.randrange(0, 150_000),
            "source": "proxy", "dedupe_key": f"bench:{seed}:{j}",
        }, separators=(",", ":"))
        if pending and (len(pending) >= batch or size + len(e) + 1 + 20 > limit):
            flush()
        pending.append(e)
        size += len(e) + 1
    if pending:
        flush()
    c.close()
    return time.perf_counter() - t0, requests


def time_queries(d, paths, n):
    out = {}
    c = d.conn()
    for path in paths:
        for _ in range(3):
            d.ok("GET", path, conn=c)
        state = wait_quiet(f"GET {path}")
        cpu0 = sum(d.cpu())
        times = [d.ok("GET", path, conn=c)[1] for _ in range(n)]
        cpu = sum(d.cpu()) - cpu0
        out[path] = {"ms": dist(times, 1000, 2), "daemon_cpu_ms_per_request": round(cpu / n * 1000, 2),
                     "machine": state}
        m = out[path]["ms"]
        log(f"  GET {path:40} p50 {m['p50']:7.2f} ms  p99 {m['p99']:7.2f} ms  max {m['max']:7.2f} ms "
            f"(n={n})  [{note(state)}]")
    c.close()
    return out


def bench_query(binary, out):
    n = int(os.environ.get("EVENTS", "1000000"))
    profiles = int(os.environ.get("QUERY_PROFILES", "20"))
    days = int(os.environ.get("DAYS", "60"))
    requests = int(os.environ.get("REQUESTS", "50"))
    cases = os.environ.get("CASES", "realistic uniform").split()
    work = os.path.join(out, "work")
    os.makedirs(work, exist_ok=True)
    res = {"events": n, "profiles": profiles, "models": len(MODELS), "days": days, "cases": {}}
    paths = ["/api/usage?period=all", "/api/usage?period=30d", "/api/usage?period=today",
             "/api/usage?period=all&profile=bench-00"]
    for case in cases:
        gen = realistic_events if case == "realistic" else uniform_events
        events = gen(n, profiles, days, f"query-{case}")
        log(f"{case}: {len(events)} events, {profiles} profiles, {len(MODELS)} models, {days} days")
        d = Daemon(binary, work)
        try:
            state = wait_quiet("recording events")
            load_s, reqs = load_events(d, events, case)
            after = d.status()
            with sqlite3.connect(f"file:{d.db()}?mode=ro", uri=True) as db:
                rows = db.execute("SELECT COUNT(*) FROM usage_rollup").fetchone()[0]
                evs = db.execute("SELECT COUNT(*) FROM usage_events").fetchone()[0]
                has_daily = db.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'usage_daily'").fetchone()[0]
                daily = db.execute("SELECT COUNT(*) FROM usage_daily").fetchone()[0] if has_daily else None
            log(f"  recorded in {load_s:.1f} s ({n / load_s:.0f} events/s, {reqs} requests of "
                f"~{n // reqs} events) [{note(state)}]; {evs} events, {rows} 15-minute rollup rows, "
                f"{daily} daily rows; daemon peak RSS {after['VmHWM'] / 1024:.0f} MiB")
            r = {"record_s": round(load_s, 2), "record_events_per_s": round(n / load_s),
                 "record_requests": reqs,
                 "record_machine": state, "usage_events": evs, "rollup_rows": rows,
                 "daily_rows": daily, "daemon_hwm_kb": after["VmHWM"]}
            report, _ = d.ok("GET", "/api/usage?period=all")
            r["report_total_tokens"] = report["total_tokens"]
            r["queries"] = time_queries(d, paths, requests)
            res["cases"][case] = r
        finally:
            d.stop()
        save(out, "query", res)


def main():
    cmd = sys.argv[1]
    binary = os.path.abspath(sys.argv[2])
    out = os.path.abspath(sys.argv[3])
    os.makedirs(out, exist_ok=True)
    log(f"machine: {os.cpu_count()} CPUs; now {note(machine())}")
    if cmd == "profiles":
        bench_profiles(binary, out)
    elif cmd == "import":
        bench_import(binary, out, sys.argv[4], os.path.abspath(sys.argv[5]))
    elif cmd == "query":
        bench_query(binary, out)
    else:
        raise SystemExit(f"unknown command {cmd}")
    log(f"done; now {note(machine())}")


if __name__ == "__main__":
    main()
