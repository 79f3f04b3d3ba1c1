#!/usr/bin/env python3
"""`clown statusline` against `ccusage statusline` on the same Claude data (issue 17,
"Measure"): see bench/README.md.

    bench/statusline.py BINARY CCUSAGE CLAUDE_DIR OUT

Both read the same status-line input (Claude Code 2.1.332's JSON, for a session that is
running now: a transcript with lines of the last hour is added beside the data set and
removed at the end). clown's daemon has imported the data set first (watching off, so
nothing else runs meanwhile); each `clown statusline` run is a new process from start to
exit, timed around the process from this script (fork, exec, the request over the Unix
socket, the answer, exit). ccusage runs with --no-cache (what every call costs when the
transcript has changed, i.e. on every new message) and with its default 1 s cache
(back-to-back calls, mostly cache hits). Settings: RUNS (clown runs, 300), CC_RUNS (5; 0 skips
ccusage), BASE (another clown binary, e.g. a build before a change: its `statusline` and
`--version` run interleaved with this one's, against the same daemon). Each clown run's wall
time (fork to reaped) and CPU time (user + system of the child) are recorded.
"""

import json
import os
import shutil
import resource
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clown_bench import Daemon, dist, log, save, warm_cache, wait_quiet  # noqa: E402

NO_WATCH = "[usage]\nwatch = false\n"


def current_session(claude_dir):
    """A transcript of a session running now (20 requests over the last hour)."""
    sid = str(uuid.UUID(int=0x5151))
    project = os.path.join(claude_dir, "projects", "-home-dev-src-statusline-bench")
    os.makedirs(project, exist_ok=True)
    path = os.path.join(project, f"{sid}.jsonl")
    now = time.time()
    with open(path, "w") as f:
        for i in range(20):
            ts = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now - 3600 + i * 180))
            f.write(json.dumps({"parentUuid": None, "isSidechain": False, "sessionId": sid, "type": "assistant",
                                "timestamp": ts, "requestId": f"req_sl_{i}", "cwd": "/home/dev/src/statusline-bench",
                                "message": {"id": f"msg_sl_{i}", "model": "claude-sonnet-4-5-20250929", "role": "assistant",
                                            "content": [{"type": "text", "text": "ok"}],
                                            "usage": {"input_tokens": 1200, "output_tokens": 800,
                                                      "cache_creation_input_tokens": 3000, "cache_read_input_tokens": 40000}}},
                               separators=(",", ":")) + "\n")
    return sid, path, project


def status_input(sid, transcript):
    return json.dumps({
        "session_id": sid, "transcript_path": transcript, "cwd": "/home/dev/src/statusline-bench",
        "model": {"id": "claude-sonnet-4-5-20250929", "display_name": "Sonnet 4.5"},
        "workspace": {"current_dir": "/home/dev/src/statusline-bench", "project_dir": "/home/dev/src/statusline-bench", "added_dirs": []},
        "version": "2.1.332", "output_style": {"name": "default"},
        "cost": {"total_cost_usd": 0.4321, "total_duration_ms": 3600000, "total_api_duration_ms": 60000,
                 "total_lines_added": 10, "total_lines_removed": 2},
        "context_window": {"total_input_tokens": 44200, "total_output_tokens": 800, "context_window_size": 200000,
                           "current_usage": {"input_tokens": 1200, "output_tokens": 800, "cache_creation_input_tokens": 3000,
                                             "cache_read_input_tokens": 40000}, "used_percentage": 22, "remaining_percentage": 78},
        "exceeds_200k_tokens": False, "effort": {"level": "high"},
        "rate_limits": {"five_hour": {"used_percentage": 23.5, "resets_at": int(time.time()) + 7200},
                        "seven_day": {"used_percentage": 41.2, "resets_at": int(time.time()) + 400000}},
    }).encode()


def timed(argv, env, stdin, n, cpu=None):
    """Runs argv n times; returns the wall times (and appends each run's CPU time, user +
    system from the kernel's accounting of the reaped child, to `cpu`)."""
    times, out = [], b""
    for _ in range(n):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        p = subprocess.run(argv, env=env, input=stdin, capture_output=True)
        times.append(time.perf_counter() - t)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if cpu is not None:
            cpu.append((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
        if p.returncode != 0:
            raise SystemExit(f"{argv[0]} exited {p.returncode}: {p.stderr.decode()[:500]}")
        out = p.stdout
    return times, out.decode().strip()


def interleaved(variants, env, stdin, runs):
    """Each (name, argv) once per round, in turn, for `runs` rounds: what the machine's load
    does to one it does to the others. Returns name: (wall times, CPU times, last line)."""
    res = {name: ([], [], "") for name, _ in variants}
    for _ in range(runs):
        for name, argv in variants:
            w, c, _ = res[name]
            cpu = []
            t, line = timed(argv, env, stdin, 1, cpu)
            w.extend(t)
            c.extend(cpu)
            res[name] = (w, c, line)
    return res


def main():
    binary, ccusage, claude_dir, out = (os.path.abspath(a) for a in sys.argv[1:5])
    runs, cc_runs = int(os.environ.get("RUNS", 300)), int(os.environ.get("CC_RUNS", 5))
    base = os.path.abspath(os.environ["BASE"]) if os.environ.get("BASE") else None
    claude_dir = os.path.abspath(claude_dir)
    work = tempfile.mkdtemp(prefix="statusline-", dir=out)
    sid, transcript, project = current_session(claude_dir)
    try:
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(claude_dir) for f in fs)
        files = sum(len(fs) for _, _, fs in os.walk(claude_dir))
        home = os.path.join(work, "home")
        os.makedirs(home)
        os.symlink(claude_dir, os.path.join(home, ".claude"))
        d = Daemon(binary, work, home=home, config=NO_WATCH)
        log(f"importing {size / 1e6:.0f} MB in {files} files")
        summary, import_s = d.ok("POST", "/api/usage/import?agent=claude")
        log(f"imported in {import_s:.1f} s: {summary[0].get('summary', '')}")
        stdin = status_input(sid, transcript)
        env = {"HOME": home, "PATH": "/usr/bin:/bin", "TZ": "UTC"}
        warm_cache(claude_dir)
        variants = [("clown statusline", [binary, "statusline"]),
                    ("clown --version", [binary, "--version"]),
                    ("/bin/true", ["/bin/true"])]
        if base:
            variants.insert(1, ("base statusline", [base, "statusline"]))
            variants.insert(3, ("base --version", [base, "--version"]))
        interleaved(variants, env, stdin, 20)  # warm the binaries' pages
        machine_clown = wait_quiet("clown statusline")
        res = interleaved(variants, env, stdin, runs)
        machine_clown["load_after"] = os.getloadavg()
        for name, (w, c, line) in res.items():
            log(f"{name}: wall {dist(w, 1000)}\n  CPU {dist(c, 1000)}" + (f"\n  {line}" if "statusline" in name else ""))
        clown_line = res["clown statusline"][2]
        if base and res["base statusline"][2].split("(")[0] != clown_line.split("(")[0]:
            raise SystemExit(f"the lines differ: {res['base statusline'][2]!r} / {clown_line!r}")
        if cc_runs <= 0:
            d.stop()
            save(out, "statusline", {"data_bytes": size, "files": files, "import_s": import_s, "machine": machine_clown,
                                     "runs": {n: {"wall_ms": dist(w, 1000), "cpu_ms": dist(c, 1000)} for n, (w, c, _) in res.items()},
                                     "clown_line": clown_line})
            return
        clown_t, floor_t, version_t = (res[n][0] for n in ("clown statusline", "/bin/true", "clown --version"))
        cc_home = os.path.join(work, "ccusage-home")
        os.makedirs(cc_home)
        cc_env = {"HOME": cc_home, "PATH": "/usr/bin:/bin", "TZ": "UTC", "NO_COLOR": "1", "CLAUDE_CONFIG_DIR": claude_dir}
        timed([ccusage, "statusline", "--offline", "--no-cache"], cc_env, stdin, 1)  # warm
        machine_cc = wait_quiet("ccusage statusline")
        cc_t, cc_line = timed([ccusage, "statusline", "--offline", "--no-cache"], cc_env, stdin, cc_runs)
        log(f"ccusage statusline --no-cache: {dist(cc_t, 1000)}\n  {cc_line}")
        cached_t, _ = timed([ccusage, "statusline", "--offline"], cc_env, stdin, max(cc_runs, 20))
        log(f"ccusage statusline (its 1 s cache): {dist(cached_t, 1000)}")
        d.stop()
        save(out, "statusline", {
            "data_bytes": size, "files": files, "import_s": import_s,
            "clown_ms": dist(clown_t, 1000), "clown_line": clown_line, "machine_clown": machine_clown,
            "bin_true_ms": dist(floor_t, 1000), "clown_version_ms": dist(version_t, 1000),
            "ccusage_no_cache_ms": dist(cc_t, 1000), "ccusage_line": cc_line, "machine_ccusage": machine_cc,
            "ccusage_cached_ms": dist(cached_t, 1000),
            "runs": {n: {"wall_ms": dist(w, 1000), "cpu_ms": dist(c, 1000)} for n, (w, c, _) in res.items()}})
    finally:
        shutil.rmtree(project, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
