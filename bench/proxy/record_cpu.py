"""The daemon's CPU per proxied request: posts batches shaped like a busy proxy's (each
request's usage event, its status and timings, its inspector entry) to a running daemon's
`POST /api/usage/record` and reads the daemon's CPU time (user + system, all threads, from
/proc/PID/stat) before and after. CPU time, unlike latency, hardly moves with the machine's
load, so two builds can be compared on a busy machine.

    python3 bench/proxy/record_cpu.py --url http://127.0.0.1:PORT --token TOKEN --pid PID \
        [--batches 200] [--per-batch 330] [--profile bench]

Prints one JSON object: requests posted, batches, daemon CPU seconds, µs per request.
"""
import argparse, json, os, time, urllib.request, uuid

ap = argparse.ArgumentParser()
ap.add_argument("--url", required=True)
ap.add_argument("--token", required=True)
ap.add_argument("--pid", type=int, required=True)
ap.add_argument("--batches", type=int, default=200)
ap.add_argument("--per-batch", type=int, default=330)
ap.add_argument("--profile", default="bench")
a = ap.parse_args()

tck = os.sysconf("SC_CLK_TCK")
def cpu():
    f = open(f"/proc/{a.pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tck

prefix = uuid.uuid4().hex
n = 0
def batch():
    global n
    now = int(time.time())
    events, requests, inspected = [], [], []
    for _ in range(a.per_batch):
        n += 1
        events.append({"profile": a.profile, "agent": "claude", "provider": "anthropic",
                       "model": "claude-sonnet-4", "ts": now, "input_tokens": 12,
                       "output_tokens": 3, "cache_creation_input_tokens": 0,
                       "cache_read_input_tokens": 0, "source": "proxy",
                       "dedupe_key": f"proxy:{prefix}:{n}", "key_label": "primary",
                       "key_hint": "cdef"})
        requests.append({"profile": a.profile, "target": "anthropic", "status": 200,
                         "duration_seconds": 0.0002, "ttfb_seconds": 0.00015})
        inspected.append({"profile": a.profile, "id": n, "at_ms": now * 1000, "method": "POST",
                          "path": "/v1/messages", "route": "default", "key": "primary",
                          "key_hint": "cdef", "target": "anthropic", "model": "claude-sonnet-4",
                          "status": 200, "ttfb_ms": 0.15, "duration_ms": 0.2, "input_tokens": 12,
                          "output_tokens": 3})
    return json.dumps({"events": events, "requests": requests, "inspected": inspected}).encode()

bodies = [batch() for _ in range(a.batches)]
c0, t0 = cpu(), time.monotonic()
for body in bodies:
    req = urllib.request.Request(a.url.rstrip("/") + "/api/usage/record", data=body, method="POST",
                                 headers={"Authorization": f"Bearer {a.token}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        r.read()
c1, t1 = cpu(), time.monotonic()
total = a.batches * a.per_batch
print(json.dumps({"requests": total, "batches": a.batches, "daemon_cpu_s": round(c1 - c0, 3),
                  "us_per_request": round((c1 - c0) * 1e6 / total, 1),
                  "wall_s": round(t1 - t0, 3)}))
