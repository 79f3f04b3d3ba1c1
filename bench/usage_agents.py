#!/usr/bin/env python3
"""Every agent's usage logs (issue 17, "Measure"): see bench/README.md.

    bench/usage_agents.py import BINARY CCUSAGE OUT   # each agent: clown's cold import vs ccusage, totals
    bench/usage_agents.py live BINARY OUT             # lag from an appended line to GET /api/usage, 100 writers
    bench/usage_agents.py idle OUT BINARY[=label]...  # wake-ups of an idle daemon, watching on and off

Run through bench/usage_agents.sh, which builds the binaries and installs ccusage.
"""

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clown_bench import Daemon, dist, log, save, warm_cache, wait_quiet, TICK  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NO_WATCH = "[usage]\nwatch = false\n"

# agent: (ccusage namespace, environment variable, data directory under HOME)
CCUSAGE = {
    "codex": ("CODEX_HOME", ".codex"),
    "gemini": ("GEMINI_DATA_DIR", ".gemini/tmp"),
    "qwen": ("QWEN_DATA_DIR", ".qwen"),
    "opencode": ("OPENCODE_DATA_DIR", ".local/share/opencode"),
    "droid": ("DROID_SESSIONS_DIR", ".factory/sessions"),
    "grok": ("GROK_HOME", ".grok"),
}


def du(path):
    total = files = 0
    for d, _, fs in os.walk(path):
        for f in fs:
            total += os.path.getsize(os.path.join(d, f))
            files += 1
    return total, files


def run_ccusage(ccusage, agent, data, scratch):
    var, _ = CCUSAGE[agent]
    home = os.path.join(scratch, "ccusage-home")
    os.makedirs(home, exist_ok=True)
    env = {"HOME": home, "TZ": "UTC", "PATH": "/usr/bin:/bin", var: data}
    tv = os.path.join(scratch, "ccusage.time")
    t = time.perf_counter()
    out = subprocess.run(["/usr/bin/time", "-v", "-o", tv, ccusage, agent, "daily", "--json", "--offline"],
                         env=env, capture_output=True, check=True)
    wall = time.perf_counter() - t
    info = {}
    with open(tv) as f:
        for line in f:
            k, _, v = line.strip().rpartition(": ")
            info[k] = v
    cpu = float(info.get("User time (seconds)", 0)) + float(info.get("System time (seconds)", 0))
    return wall, cpu, int(info.get("Maximum resident set size (kbytes)", 0)), json.loads(out.stdout)


def cc_totals(report):
    t = report["totals"]
    i, cw, cr = t.get("inputTokens", 0), t.get("cacheCreationTokens", 0), t.get("cacheReadTokens", 0)
    cost = t.get("costUSD", t.get("totalCost"))
    if "reasoningOutputTokens" in t:
        out = t["outputTokens"]
    else:
        out = t["totalTokens"] - i - cw - cr
    return {"input": i, "output": out, "cache_write": cw, "cache_read": cr, "cost": cost}


def clown_totals(d, profile):
    u, _ = d.ok("GET", f"/api/usage?period=all&profile={profile}")
    t = u["total_tokens"]
    return {"input": t["input_tokens"], "output": t["output_tokens"], "cache_write": t["cache_creation_input_tokens"],
            "cache_read": t["cache_read_input_tokens"], "cost": u["total_cost"]["total_cost"]}


def expected_clown(agent, cc):
    """What clown must report given ccusage's totals (the documented Qwen difference)."""
    if agent != "qwen":
        return cc
    return dict(cc, input=cc["input"] - cc["cache_read"], cost=cc["cost"] - cc["cache_read"] * 0.9e-6)


def equal(a, b):
    return all(a[k] == b[k] for k in ("input", "output", "cache_write", "cache_read")) and \
        abs(a["cost"] - b["cost"]) <= 1e-9 * max(1.0, abs(b["cost"]))


def clown_import(binary, agent, data_home, data, sub, work):
    """A cold import into a new daemon: (summary, wall s, daemon CPU s, VmHWM, totals)."""
    home = tempfile.mkdtemp(prefix="home-", dir=work)
    os.symlink(os.path.join(data_home, sub.split("/")[0]), os.path.join(home, sub.split("/")[0]))
    if sub.startswith(".local/share"):
        os.unlink(os.path.join(home, ".local"))
        os.makedirs(os.path.join(home, ".local/share"))
        os.symlink(data, os.path.join(home, sub))
    d = Daemon(binary, work, home=home, config=NO_WATCH)
    u0, s0 = d.cpu()
    summary, wall = d.ok("POST", f"/api/usage/import?agent={agent}")
    u1, s1 = d.cpu()
    mine = clown_totals(d, f"@{agent}")
    rss = d.status()["VmHWM"]
    d.stop()
    shutil.rmtree(home, ignore_errors=True)
    return summary, wall, (u1 - u0) + (s1 - s0), rss, mine


def bench_import(binary, ccusage, out, runs, agents, base):
    work = tempfile.mkdtemp(prefix="agents-", dir=out)
    data_home = os.environ.get("DATA_HOME") or os.path.join(work, "data-home")
    if not os.path.isdir(data_home):
        log("generating the agents' logs (bench/gen_agents.py)")
        subprocess.run([sys.executable, os.path.join(HERE, "gen_agents.py"), data_home, "--agents", ",".join(agents)],
                       check=True)
    results = {}
    for agent in agents:
        _, sub = CCUSAGE[agent]
        data = os.path.join(data_home, sub)
        size, files = du(data)
        warm_cache(data)
        warm_cache(data)
        run_ccusage(ccusage, agent, data, work)  # once untimed
        rounds = []
        for r in range(runs):
            wait_quiet(f"{agent} round {r + 1}")
            cw, ccpu, crss, report = run_ccusage(ccusage, agent, data, work)
            sides = {}
            for side, b in [("base", base)] * bool(base) + [("clown", binary)]:
                sides[side] = clown_import(b, agent, data_home, data, sub, work)
            summary, wall, cpu, rss, mine = sides["clown"]
            want = expected_clown(agent, cc_totals(report))
            rounds.append({"ccusage": {"wall": cw, "cpu": ccpu, "max_rss_kb": crss}, "clown": {"wall": wall, "cpu": cpu, "vmhwm_kb": rss},
                           "load": os.getloadavg(),
                           "clown_totals": mine, "ccusage_totals": cc_totals(report), "equal": equal(mine, want),
                           "events_added": summary[0]["events_added"]})
            if base:
                bs, bw, bc, brss, btot = sides["base"]
                rounds[-1]["base"] = {"wall": bw, "cpu": bc, "vmhwm_kb": brss}
                rounds[-1]["base_equal"] = equal(btot, want)
                log(f"{agent}: base {bw:.3f} s (CPU {bc:.2f} s), equal={rounds[-1]['base_equal']}")
            log(f"{agent}: ccusage {cw:.3f} s (CPU {ccpu:.2f} s), clown {wall:.3f} s (CPU {cpu:.2f} s), equal={rounds[-1]['equal']}, load {os.getloadavg()[0]:.1f}")
        med = lambda side, k: sorted(x[side][k] for x in rounds)[len(rounds) // 2]
        results[agent] = {"bytes": size, "files": files, "rounds": rounds,
                          "median": {"ccusage_wall": med("ccusage", "wall"), "clown_wall": med("clown", "wall"),
                                     "ccusage_cpu": med("ccusage", "cpu"), "clown_cpu": med("clown", "cpu"),
                                     **({"base_wall": med("base", "wall"), "base_cpu": med("base", "cpu")} if base else {})},
                          "all_equal": all(x["equal"] for x in rounds)}
    save(out, "usage_agents_import", results)
    shutil.rmtree(work, ignore_errors=True)
    for agent, r in results.items():
        m = r["median"]
        log(f"{agent:9} {r['bytes'] / 1e6:7.1f} MB {r['files']:6} files  ccusage {m['ccusage_wall']:.3f} s ({m['ccusage_cpu']:.2f} s CPU)"
            f"  clown {m['clown_wall']:.3f} s ({m['clown_cpu']:.2f} s CPU)  ratio {m['clown_wall'] / m['ccusage_wall']:.2f}"
            + (f"  base {m['base_wall']:.3f} s ({m['base_cpu']:.2f} s CPU)" if base else "") + f"  totals equal: {r['all_equal']}")


def claude_line(i, sid, now):
    return json.dumps({"parentUuid": None, "isSidechain": False, "sessionId": sid, "type": "assistant", "timestamp": now,
                       "requestId": f"req_{sid}_{i}", "message": {"id": f"msg_{sid}_{i}", "model": "claude-sonnet-4-5-20250929",
                       "content": [{"type": "text", "text": "x" * 400}],
                       "usage": {"input_tokens": 1, "output_tokens": 2, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}},
                      separators=(",", ":")) + "\n"


def bench_live(binary, out, sessions, seconds, rate):
    work = tempfile.mkdtemp(prefix="live-", dir=out)
    d = Daemon(binary, work, config=os.environ.get("LIVE_CONFIG"))
    for s in range(sessions):
        d.ok("POST", "/api/profiles", {"agent_id": "claude", "alias": f"p{s}", "provider_id": "anthropic", "api_key": "sk-ant-bench-0123456789abcdef"})
    files = []
    for s in range(sessions):
        path = os.path.join(d.home, f".claude-profiles/p{s}/projects/-w/s{s}.jsonl")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        files.append(path)
    # Wait until the watch covers every profile (a first line each, seen).
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    for s, path in enumerate(files):
        with open(path, "a") as f:
            f.write(claude_line(0, f"s{s}", stamp))
    deadline = time.time() + 60
    while True:
        u, _ = d.ok("GET", "/api/usage?period=all")
        if sum(p["tokens"]["input_tokens"] for p in u["aggregates"]["by_profile"].values()) >= sessions:
            break
        if time.time() > deadline:
            raise SystemExit("the watcher did not pick up the first lines")
        time.sleep(0.05)
    # The writers run in a process of their own (their threads never hold up the poller);
    # both sides stamp with CLOCK_MONOTONIC, which is one clock for every process.
    times_file = os.path.join(work, "written.json")
    quiet = wait_quiet("the live lag")
    writer_proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "writers", times_file, str(seconds), str(rate), stamp] + files)
    seen = [[] for _ in range(sessions)]  # per session: when each line was first seen
    conn = d.conn()
    u0 = d.cpu()
    polls = 0
    written = None
    while True:
        now = time.monotonic()
        u, _ = d.ok("GET", "/api/usage?period=all", conn=conn)
        polls += 1
        for s in range(sessions):
            n = u["aggregates"]["by_profile"][f"p{s}"]["tokens"]["input_tokens"] - 1
            while len(seen[s]) < n:
                seen[s].append(now)  # the answer reflects the store as of the request
        if written is None and writer_proc.poll() is not None:
            with open(times_file) as f:
                written = json.load(f)
        if written is not None and all(len(seen[s]) >= len(written[s]) for s in range(sessions)):
            break
        if written is not None and time.monotonic() > written_end(written) + 30:
            raise SystemExit("lines not imported 30 s after the writers stopped")
        time.sleep(0.002)
    u1 = d.cpu()
    lags = [seen[s][i] - written[s][i] for s in range(sessions) for i in range(len(written[s]))]
    lags = [max(0.0, x) for x in lags]
    result = {"sessions": sessions, "seconds": seconds, "lines": len(lags), "lines_per_sec": len(lags) / seconds,
              "polls": polls, "lag_ms": dist(lags, 1000), "daemon_cpu_s": (u1[0] - u0[0]) + (u1[1] - u0[1]),
              "machine_before": quiet}
    d.stop(keep=bool(os.environ.get("KEEP")))
    save(out, "usage_live", result)
    if not os.environ.get("KEEP"):
        shutil.rmtree(work, ignore_errors=True)
    log(json.dumps(result))


def written_end(written):
    return max((w[-1] for w in written if w), default=time.monotonic())


def writers(times_file, seconds, rate, stamp, files):
    """The writer process: one thread per session appending lines at random (Poisson)
    times; writes every line's time when done."""
    written = [[] for _ in files]
    stop = threading.Event()

    def writer(s):
        rng = random.Random(s)
        i = 1
        with open(files[s], "a") as f:
            while not stop.is_set():
                time.sleep(rng.expovariate(rate))
                f.write(claude_line(i, f"s{s}", stamp))
                f.flush()
                written[s].append(time.monotonic())
                i += 1

    threads = [threading.Thread(target=writer, args=(s,)) for s in range(len(files))]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    with open(times_file, "w") as f:
        json.dump(written, f)


def switches(pid):
    """Per thread, its context switches: (voluntary, the wake-ups; nonvoluntary, preemptions,
    which grow with the machine's load rather than with the daemon's work)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        vol = nonvol = 0
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches"):
                        vol = int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches"):
                        nonvol = int(line.split()[1])
        except FileNotFoundError:
            continue
        out[tid] = (vol, nonvol)
    return out


def switched(before, after):
    """Switches during the window, summed over the threads alive at both ends, plus the
    threads that came or went (their counts are not in the sum)."""
    both = before.keys() & after.keys()
    return (sum(after[t][0] - before[t][0] for t in both), sum(after[t][1] - before[t][1] for t in both),
            len(before.keys() - after.keys()), len(after.keys() - before.keys()))


def bench_idle(out, variants, window):
    results = []
    for binary, label, config in variants:
        work = tempfile.mkdtemp(prefix="idle-", dir=out)
        d = Daemon(binary, work, config=config)
        # Agent homes with data, so the watcher has something to watch.
        subprocess.run([sys.executable, os.path.join(HERE, "gen_agents.py"), d.home, "--scale", "0.05"], check=True, capture_output=True)
        # Let the start-up import finish, and the blocking pool's threads it used exit (tokio
        # keeps an idle one 10 s), before the window.
        time.sleep(15)
        quiet = wait_quiet(f"idle {label}")
        c0, cpu0 = switches(d.pid), d.cpu()
        threads0 = d.status()["Threads"]
        time.sleep(window)
        c1, cpu1 = switches(d.pid), d.cpu()
        wake, preempt, gone, came = switched(c0, c1)
        r = {"label": label, "window_s": window, "wakeups": wake, "wakeups_per_s": wake / window,
             "preemptions": preempt, "cpu_s": (cpu1[0] - cpu0[0]) + (cpu1[1] - cpu0[1]), "threads": threads0,
             "threads_gone": gone, "threads_new": came, "machine": quiet}
        d.stop()
        shutil.rmtree(work, ignore_errors=True)
        results.append(r)
        log(json.dumps(r))
    save(out, "usage_idle", results)


def main():
    cmd = sys.argv[1]
    if cmd == "writers":
        writers(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6:])
    elif cmd == "import":
        agents = [a for a in os.environ.get("AGENTS", ",".join(CCUSAGE)).split(",") if a]
        base = os.path.abspath(os.environ["BASE"]) if os.environ.get("BASE") else None
        bench_import(sys.argv[2], sys.argv[3], sys.argv[4], int(os.environ.get("RUNS", 3)), agents, base)
    elif cmd == "live":
        bench_live(sys.argv[2], sys.argv[3], int(os.environ.get("SESSIONS", 100)), float(os.environ.get("SECONDS", 30)),
                   float(os.environ.get("RATE", 2)))
    elif cmd == "idle":
        out = sys.argv[2]
        variants = []
        for spec in sys.argv[3:]:
            binary, _, label = spec.partition("=")
            config = NO_WATCH if label.endswith("watch-off") else None
            variants.append((binary, label or binary, config))
        bench_idle(out, variants, float(os.environ.get("WINDOW", 60)))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
