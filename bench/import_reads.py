#!/usr/bin/env python3
"""API latency while a large import runs (issue 13: "API p99 < 50 ms during a 1 GB import").

  bench/import_reads.py BINARY CLAUDE_DIR OUT

One daemon (release build) on a fresh home with one profile. First the reads alone
(baseline), then the same reads, one after the other on one connection, for as long as
`POST /api/usage/import-claude?claude_dir=CLAUDE_DIR` runs (a cold import: nothing of it is
stored yet). Reported per path: p50/p90/p99/max in ms, baseline and during the import, the
import's wall time, and the machine's load. Results: OUT/import_reads.json.
"""

import os
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clown_bench import Daemon, dist, log, machine, note, save, wait_quiet  # noqa: E402

PATHS = ["/api/daemon/status", "/api/profiles", "/api/profiles/work",
         "/api/usage?period=all", "/api/usage?period=today", "/api/terminal/sessions"]
BASELINE_ROUNDS = int(os.environ.get("BASELINE_ROUNDS", "200"))


def reads(d, conn, rounds=None, stop=None):
    """Per path, the seconds of each read; round-robin until `rounds` or `stop` is set."""
    out = {p: [] for p in PATHS}
    i = 0
    while (rounds is None or i < rounds) and not (stop and stop.is_set()):
        for p in PATHS:
            status, _, dt = d.request("GET", p, conn=conn)
            if status != 200:
                raise SystemExit(f"GET {p}: {status}")
            out[p].append(dt)
        i += 1
    return out


def main():
    binary, claude_dir, out = (os.path.abspath(a) for a in sys.argv[1:4])
    os.makedirs(out, exist_ok=True)
    size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(claude_dir) for f in fs)
    log(f"data: {claude_dir}, {size / 2**30:.2f} GiB")
    work = tempfile.mkdtemp(prefix="import-reads-", dir="/tmp")
    d = Daemon(binary, work)
    try:
        d.ok("POST", "/api/profiles", {"agent_id": "claude", "alias": "work", "provider_id": "anthropic",
                                        "api_key": "sk-ant-bench-0123456789abcdef"})
        state = wait_quiet("the baseline")
        conn = d.conn()
        base = reads(d, conn, rounds=BASELINE_ROUNDS)
        state_during = wait_quiet("the import")
        done = threading.Event()
        result = {}

        def run_import():
            t = time.perf_counter()
            path = "/api/usage/import-claude?claude_dir=" + urllib.parse.quote(claude_dir)
            result["summary"], _ = d.ok("POST", path)
            result["seconds"] = time.perf_counter() - t
            done.set()

        th = threading.Thread(target=run_import)
        th.start()
        during = reads(d, conn, stop=done)
        th.join()
        conn.close()
        res = {
            "data_bytes": size,
            "import_seconds": round(result["seconds"], 2),
            "import_summary": result["summary"],
            "machine_baseline": note(state),
            "machine_import": note(state_during),
            "machine_after": note(machine()),
            "baseline_ms": {p: dist(v, 1000) for p, v in base.items()},
            "during_import_ms": {p: dist(v, 1000) for p, v in during.items()},
        }
        all_during = [x for v in during.values() for x in v]
        res["during_import_all_ms"] = dist(all_during, 1000)
        save(out, "import_reads", res)
        log(f"import: {res['import_seconds']} s; reads during it: {res['during_import_all_ms']}")
        for p in PATHS:
            log(f"  {p}: baseline {res['baseline_ms'][p]['p50']}/{res['baseline_ms'][p]['p99']} ms, "
                f"during {res['during_import_ms'][p]['p50']}/{res['during_import_ms'][p]['p99']} ms "
                f"(p50/p99, n={res['during_import_ms'][p]['n']})")
    finally:
        d.stop()


if __name__ == "__main__":
    main()
