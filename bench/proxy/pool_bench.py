#!/usr/bin/env python3
"""A pool of five keys where one starts answering 429: does any request fail, and what does
the switch to the next key cost? See bench/README.md ("Key pool failover").

    pool_bench.py PROXY_PORT LOCAL_TOKEN FLAG_DIR API_URL DAEMON_TOKEN ALIAS

Phase 1, switches (one keep-alive connection): the first key's upstream answers 429 with
`retry-after: 1` (pool.sh's RETRY) throughout. EPISODES (20) times: wait until the first
key's cool-down has run out, send one request (the first key refuses it, the proxy answers
from the next key: a switch), then BASE (20) requests the next key answers at once. The
switch cost is the latency of a switched request minus the median of the requests answered
at once, client-side and as the proxy's inspector measured it.

Phase 2, load: CONC (8) connections, PER (800) requests each, back to back, the first key
refusing throughout (so it cools down, comes back after a second, refuses again, …). No
request may fail.

The inspector (GET /api/proxy/ALIAS/requests) says which requests were switched (`attempts`
not empty), which key answered each, and the proxy's own duration of each.
"""
import http.client
import json
import os
import statistics
import sys
import threading
import time

port, token, flag_dir, api, daemon_token, alias = sys.argv[1:7]
CONC = int(os.environ.get("CONC", "8"))
BODY = json.dumps({"model": "claude-sonnet-4", "max_tokens": 64,
                   "messages": [{"role": "user", "content": "say pong"}]})
HEADERS = {"content-type": "application/json", "anthropic-version": "2023-06-01", "x-api-key": token}
FLAG = os.path.join(flag_dir, "limit-1")


def client():
    return http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)


SENT = 0
SENT_LOCK = threading.Lock()


def one(conn):
    global SENT
    with SENT_LOCK:
        SENT += 1
    t = time.perf_counter()
    conn.request("POST", "/v1/messages", BODY, HEADERS)
    r = conn.getresponse()
    r.read()
    return r.status, (time.perf_counter() - t) * 1e6


def inspected(after):
    host = api.split("//", 1)[1]
    c = http.client.HTTPConnection(host, timeout=30)
    c.request("GET", f"/api/proxy/{alias}/requests?limit=10000&after={after}",
              headers={"authorization": f"Bearer {daemon_token}"})
    data = json.loads(c.getresponse().read())["data"]["requests"]
    c.close()
    return data


def wait_inspected(after, n):
    deadline = time.time() + 30
    while time.time() < deadline:
        got = inspected(after)
        if len(got) >= n:
            return got
        time.sleep(0.2)
    raise SystemExit(f"the inspector has {len(got)} of {n} requests")


def last_id():
    """The id of the last request sent so far, once the inspector has it: every earlier
    request is then in (the proxy reports in order; ids count from 1 in this daemon)."""
    deadline = time.time() + 30
    while time.time() < deadline:
        got = inspected(0)
        if got and got[-1]["id"] >= SENT:
            assert got[-1]["id"] == SENT, (got[-1]["id"], SENT)
            return SENT
        time.sleep(0.2)
    raise SystemExit("the inspector does not have every request")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))] if xs else float("nan")


def summary(name, client_us, entries):
    switched = [i for i, e in enumerate(entries) if e["attempts"]]
    direct = [i for i, e in enumerate(entries) if not e["attempts"]]
    failed = [e for e in entries if e["status"] != 200]
    out = {"phase": name, "requests": len(entries), "failed": len(failed), "switched": len(switched)}
    base_c = statistics.median(client_us[i] for i in direct)
    base_p = statistics.median(entries[i]["duration_ms"] * 1000 for i in direct)
    out["direct_client_p50_us"] = round(base_c)
    out["direct_proxy_p50_us"] = round(base_p)
    if switched:
        cost_c = [client_us[i] - base_c for i in switched]
        cost_p = [entries[i]["duration_ms"] * 1000 - base_p for i in switched]
        out["switch_cost_client_us"] = {"p50": round(statistics.median(cost_c)), "max": round(max(cost_c))}
        out["switch_cost_proxy_us"] = {"p50": round(statistics.median(cost_p)), "max": round(max(cost_p))}
    keys = {}
    for e in entries:
        keys[e["key"]] = keys.get(e["key"], 0) + 1
    out["answered_by"] = keys
    return out


def switches():
    episodes = int(os.environ.get("EPISODES", "20"))
    base_n = int(os.environ.get("BASE", "20"))
    conn = client()
    start_id = last_id()
    lat, statuses, firsts = [], [], []
    # Switch episodes and control episodes (no key refusing) alternate: the first request
    # after a second of idleness pays for waking everything up, switch or not, so the
    # switch is compared with the first request of the control episodes.
    for k in range(2 * episodes):
        control = k % 2 == 1
        if control and os.path.exists(FLAG):
            os.remove(FLAG)
        if not control:
            open(FLAG, "w").close()
        time.sleep(1.05)  # the first key's 1 s cool-down runs out
        for j in range(1 + base_n):
            s, us = one(conn)
            statuses.append(s)
            lat.append(us)
            if j == 0:
                firsts.append((control, len(lat) - 1))
    conn.close()
    entries = wait_inspected(start_id, len(lat))[: len(lat)]
    assert [e["status"] for e in entries] == statuses, "the inspector's order is the client's"
    out = summary("switches, 1 connection", lat, entries)
    sw = [i for c, i in firsts if not c]
    ctl = [i for c, i in firsts if c]
    assert all(entries[i]["attempts"] for i in sw) and not any(entries[i]["attempts"] for i in ctl)
    med = statistics.median
    out["first_after_idle"] = {
        "switched_client_p50_us": round(med(lat[i] for i in sw)),
        "control_client_p50_us": round(med(lat[i] for i in ctl)),
        "switched_proxy_p50_us": round(med(entries[i]["duration_ms"] * 1000 for i in sw)),
        "control_proxy_p50_us": round(med(entries[i]["duration_ms"] * 1000 for i in ctl)),
        "switch_cost_client_us": {"p50": round(med(lat[i] for i in sw) - med(lat[i] for i in ctl)),
                                  "max": round(max(lat[i] for i in sw) - med(lat[i] for i in ctl))},
        "switch_cost_proxy_us": {
            "p50": round(med(entries[i]["duration_ms"] * 1000 for i in sw) - med(entries[i]["duration_ms"] * 1000 for i in ctl)),
            "max": round(max(entries[i]["duration_ms"] * 1000 for i in sw) - med(entries[i]["duration_ms"] * 1000 for i in ctl))},
    }
    return out, statuses


def concurrent():
    open(FLAG, "w").close()
    start_id = last_id()
    results = []
    lock = threading.Lock()
    per = int(os.environ.get("PER", "800"))

    def worker():
        conn = client()
        mine = []
        for _ in range(per):
            mine.append(one(conn))
        conn.close()
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(CONC)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = wait_inspected(start_id, len(results))[: len(results)]
    statuses = [s for s, _ in results]
    # Latencies of concurrent requests cannot be matched to entries one by one: the
    # client side is reported as a whole, the switch cost from the proxy's durations.
    switched = [e for e in entries if e["attempts"]]
    direct = [e["duration_ms"] * 1000 for e in entries if not e["attempts"]]
    base = statistics.median(direct)
    out = {"phase": f"{CONC} connections", "requests": len(results),
           "failed": sum(1 for s in statuses if s != 200), "switched": len(switched),
           "client_p50_us": round(pct([u for _, u in results], 50)),
           "client_p99_us": round(pct([u for _, u in results], 99)),
           "direct_proxy_p50_us": round(base),
           "direct_proxy_p99_us": round(pct(direct, 99)),
           "direct_proxy_max_us": round(max(direct))}
    if switched:
        cost = [e["duration_ms"] * 1000 - base for e in switched]
        out["switch_cost_proxy_us"] = {"p50": round(statistics.median(cost)), "max": round(max(cost))}
        out["switched_detail"] = [
            {"id": e["id"], "duration_ms": round(e["duration_ms"], 3), "ttfb_ms": e["ttfb_ms"] and round(e["ttfb_ms"], 3),
             "refused_by": [a["key"] for a in e["attempts"]], "answered_by": e["key"]} for e in switched]
    keys = {}
    for e in entries:
        keys[e["key"]] = keys.get(e["key"], 0) + 1
    out["answered_by"] = keys
    os.remove(FLAG)
    return out


conn = client()
for _ in range(300):
    s, _ = one(conn)
    assert s == 200, s
conn.close()
seq, statuses = switches()
conc = concurrent()
print(json.dumps({"switches": seq, "load": conc}, indent=1))
bad = seq["failed"] + conc["failed"] + sum(1 for s in statuses if s != 200)
sys.exit(1 if bad else 0)
