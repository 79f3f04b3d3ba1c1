#!/usr/bin/env python3
"""A pool of five keys where one starts answering 429: does any request fail, and what does
the switch to the next key cost? See bench/README.md ("Key pool failover").

    pool_bench.py PROXY_PORT LOCAL_TOKEN FLAG_DIR API_URL DAEMON_TOKEN ALIAS

Phase 1, switches (one keep-alive connection), SWITCHES (200) of them, four per cycle (see
`switches`): the key answering so far starts answering 429 with `retry-after: 1` (pool.sh's
RETRY), so the next request is refused by it and answered by the next key, and BASE (20)
more are answered by that key at once. The switch cost is the latency of a switched request
minus the median of the requests answered at once, client-side and as the proxy's inspector
measured it; its p50, p99 and maximum over all switches are reported.

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
    """SWITCHES switches, four per cycle: with every key fresh, key 1 answers BASE requests;
    then key 1 starts refusing (one request switched to key 2, BASE more answered by key 2
    at once), then key 2 (switched to key 3), key 3, key 4 — each switch a few ms after the
    last, every refused key cooling for its retry-after. Then the refusals stop and the
    cycle waits until every cool-down has run out."""
    cycles = max(1, int(os.environ.get("SWITCHES", "200")) // 4)
    base_n = int(os.environ.get("BASE", "20"))
    conn = client()
    start_id = last_id()
    lat, statuses, kinds = [], [], []  # kind: "idle" (first after a wait), "switch", "direct"
    flags = [os.path.join(flag_dir, f"limit-{k}") for k in range(1, 5)]
    for _ in range(cycles):
        for f in flags:
            if os.path.exists(f):
                os.remove(f)
        time.sleep(1.05)  # every refused key's 1 s cool-down runs out
        for j in range(5):
            if j:
                open(flags[j - 1], "w").close()  # the key answering so far refuses now
            for n in range(1 + base_n):
                s, us = one(conn)
                statuses.append(s)
                lat.append(us)
                kinds.append("idle" if j == 0 and n == 0 else "switch" if j and n == 0 else "direct")
    for f in flags:
        if os.path.exists(f):
            os.remove(f)
    conn.close()
    entries = wait_inspected(start_id, len(lat))[: len(lat)]
    assert [e["status"] for e in entries] == statuses, "the inspector's order is the client's"
    # A cycle slowed past a second by the machine lets a refusing key's cool-down run out
    # before its flag is removed: that key then refuses once more, another switch. Which
    # requests were switched is what the inspector says.
    sw = [i for i, e in enumerate(entries) if e["attempts"]]
    direct = [i for i, k in enumerate(kinds) if k == "direct" and not entries[i]["attempts"]]
    assert all(entries[i]["attempts"] for i, k in enumerate(kinds) if k == "switch"), "each planned switch happened"
    med = statistics.median
    base_c = med(lat[i] for i in direct)
    base_p = med(entries[i]["duration_ms"] * 1000 for i in direct)
    cost_c = [lat[i] - base_c for i in sw]
    cost_p = [entries[i]["duration_ms"] * 1000 - base_p for i in sw]
    dist = lambda xs: {"p50": round(pct(xs, 50)), "p99": round(pct(xs, 99)), "max": round(max(xs))}
    keys = {}
    for e in entries:
        keys[e["key"]] = keys.get(e["key"], 0) + 1
    out = {"phase": "switches, 1 connection", "requests": len(entries),
           "failed": sum(1 for s in statuses if s != 200), "switched": len(sw),
           "unplanned_switches": len(sw) - kinds.count("switch"),
           "direct_client_us": dist([lat[i] for i in direct]),
           "direct_proxy_us": dist([entries[i]["duration_ms"] * 1000 for i in direct]),
           "switch_cost_client_us": dist(cost_c),
           "switch_cost_proxy_us": dist(cost_p),
           "switches_over_5ms_client": sum(1 for c in cost_c if c >= 5000),
           "first_after_idle_client_p50_us": round(med(lat[i] for i, k in enumerate(kinds) if k == "idle")),
           "answered_by": keys}
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
