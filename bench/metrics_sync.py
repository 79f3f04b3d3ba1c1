#!/usr/bin/env python3
"""Benchmarks of issue 20 ("Past one machine"); see bench/README.md.

  metrics BINARY OUT   GET /metrics with PROFILES (1000) profiles x MODELS (10) models of
                       usage: the scrape's time (p50/p99 over SCRAPES), its size, the daemon's
                       CPU per scrape, plain and gzipped as Prometheus asks (OpenMetrics,
                       Accept-Encoding: gzip; timed to the last compressed byte, the client's
                       decode timed apart), unchanged and with 10 changed pairs before each;
                       GET /api/usage and POST /api/usage/record latency with and without a
                       scraper hammering /metrics (plain, then gzipped), and what a real
                       Prometheus (Debian's) measures as scrape_duration_seconds.
  sync BINARY OUT      EVENTS (1,000,000) events recorded while the shared PostgreSQL is
                       unreachable, then the database given: the time until all of it is
                       pushed (events/s); then, with both up, SAMPLES single events each timed
                       from its POST's answer to the all-machines report counting it.
"""

import gzip
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clown_bench import (Daemon, dist, free_port, load_events, log, machine, note,  # noqa: E402
                         save, wait_quiet)

MODELS = ["claude-sonnet-4", "claude-opus-4", "claude-haiku-4-5", "claude-sonnet-4-5",
          "claude-opus-4-1", "gpt-5", "gpt-5-mini", "deepseek-chat", "kimi-k2", "glm-4.6"]


# What Prometheus (2.x) sends when it scrapes.
PROM_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
               "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")


def scrape(d, conn, accept=None, encoding=None):
    """One scrape on `conn`: (seconds to the body's last byte, body as sent). With
    `encoding` the body is the compressed bytes (http.client does not decode)."""
    headers = {"Authorization": f"Bearer {d.token}"}
    if accept:
        headers["Accept"] = accept
    if encoding:
        headers["Accept-Encoding"] = encoding
    t = time.perf_counter()
    conn.request("GET", "/metrics", headers=headers)
    r = conn.getresponse()
    body = r.read()
    dt = time.perf_counter() - t
    assert r.status == 200, (r.status, body[:300])
    assert (r.getheader("Content-Encoding") == "gzip") == (encoding == "gzip"), r.getheaders()
    return dt, body


def prom_scrape(d, conn):
    """A scrape as Prometheus makes it: (seconds to the last compressed byte, seconds to
    decode, decoded body)."""
    dt, body = scrape(d, conn, PROM_ACCEPT, "gzip")
    t = time.perf_counter()
    text = gzip.decompress(body)
    return dt, time.perf_counter() - t, text, len(body)


def prometheus_scrape(port, token_file, work, seconds):
    """Runs a real Prometheus scraping the daemon every second for `seconds`; returns its
    scrape_duration_seconds samples (avg, max) and how many scrapes it made."""
    d = tempfile.mkdtemp(prefix="prom-", dir=work)
    with open(os.path.join(d, "prometheus.yml"), "w") as f:
        f.write(f"global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n"
                f"  - job_name: clown\n    authorization:\n      type: Bearer\n"
                f"      credentials_file: {token_file}\n    static_configs:\n"
                f"      - targets: ['127.0.0.1:{port}']\n")
    pport = free_port()
    p = subprocess.Popen(["prometheus", f"--config.file={d}/prometheus.yml",
                          f"--storage.tsdb.path={d}/data", f"--web.listen-address=127.0.0.1:{pport}",
                          "--log.level=warn"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import http.client
        deadline = time.time() + 30
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", pport, timeout=5)
                c.request("GET", "/-/ready")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise SystemExit("prometheus not ready")
            time.sleep(0.1)
        time.sleep(seconds)

        def q(expr):
            c = http.client.HTTPConnection("127.0.0.1", pport, timeout=10)
            c.request("GET", "/api/v1/query?query=" + urllib.parse.quote(expr))
            res = json.loads(c.getresponse().read())["data"]["result"]
            return float(res[0]["value"][1]) if res else None
        w = f"{seconds}s"
        return {"avg_s": q(f"avg_over_time(scrape_duration_seconds[{w}])"),
                "max_s": q(f"max_over_time(scrape_duration_seconds[{w}])"),
                "scrapes": q(f"count_over_time(up[{w}])"),
                "samples_per_scrape": q("scrape_samples_scraped"),
                "up": q("up")}
    finally:
        p.terminate()
        p.wait()
        shutil.rmtree(d, ignore_errors=True)


def latencies(d, method, path, body, n):
    c = d.conn()
    out = []
    for i in range(n):
        b = body(i) if body else None
        out.append(d.ok(method, path, b, conn=c)[1])
    c.close()
    return out


def bench_metrics(binary, out):
    profiles = int(os.environ.get("PROFILES", "1000"))
    models = int(os.environ.get("MODELS", "10"))
    scrapes = int(os.environ.get("SCRAPES", "200"))
    work = os.path.join(out, "work")
    os.makedirs(work, exist_ok=True)
    home = tempfile.mkdtemp(prefix="home-", dir=work)
    token_file = os.path.join(home, "metrics.token")
    os.makedirs(os.path.join(home, ".config/clown"))
    with open(os.path.join(home, ".config/clown/config.toml"), "w") as f:
        f.write(f"[metrics]\ntoken_file = \"{token_file}\"\n")
    d = _daemon_in(binary, work, home)
    res = {"profiles": profiles, "models": models}
    try:
        log(f"creating {profiles} profiles")
        c = d.conn()
        for i in range(profiles):
            d.ok("POST", "/api/profiles", {"alias": f"p{i:04}", "agent_id": "claude",
                                            "provider_id": "anthropic", "api_key": "sk-bench-0123456789abcdef"}, conn=c)
        c.close()
        now = int(time.time())
        events = [(now - (j % 86400), f"p{i:04}", MODELS[m % len(MODELS)])
                  for i in range(profiles) for m in range(models) for j in range(3)]
        random.Random(1).shuffle(events)
        load_s, _ = load_events(d, events, "metrics")
        log(f"recorded {len(events)} events over {profiles * models} profile x model pairs in {load_s:.1f} s")
        c = d.conn()
        first, body = scrape(d, c)
        res["first_scrape_ms"] = round(first * 1000, 2)
        log(f"first scrape (renders every pair): {first * 1000:.1f} ms")
        res["bytes"] = len(body)
        res["series"] = sum(1 for line in body.split(b"\n") if line and not line.startswith(b"#"))
        first, _, om, gz_bytes = prom_scrape(d, c)
        res["first_gzip_scrape_ms"] = round(first * 1000, 2)
        res["gzip_bytes"] = gz_bytes
        log(f"first gzip scrape (compresses every block): {first * 1000:.1f} ms, {gz_bytes} bytes "
            f"for {len(om)} bytes of OpenMetrics")
        for fmt, accept in [("text", None), ("openmetrics", "application/openmetrics-text;version=1.0.0"),
                            ("prometheus_gzip", PROM_ACCEPT)]:
            enc = "gzip" if fmt == "prometheus_gzip" else None
            for _ in range(5):
                scrape(d, c, accept, enc)
            state = wait_quiet(f"/metrics ({fmt})")
            c.close()
            c = d.conn()  # the daemon closes connections idle for 30 s
            scrape(d, c, accept, enc)
            cpu0 = sum(d.cpu())
            times = [scrape(d, c, accept, enc)[0] for _ in range(scrapes)]
            cpu = sum(d.cpu()) - cpu0
            res[fmt] = {"ms": dist(times, 1000, 2), "daemon_cpu_ms_per_scrape": round(cpu / scrapes * 1000, 2),
                        "machine": state}
            if enc:
                decode = [prom_scrape(d, c)[1] for _ in range(min(scrapes, 50))]
                res[fmt]["client_decode_ms"] = dist(decode, 1000, 2)
            m = res[fmt]["ms"]
            log(f"GET /metrics ({fmt}): {res['series']} samples, {len(body)} bytes plain: p50 {m['p50']} ms, "
                f"p99 {m['p99']} ms, max {m['max']} ms; daemon CPU {res[fmt]['daemon_cpu_ms_per_scrape']} ms/scrape"
                + (f"; client decode p50 {res[fmt]['client_decode_ms']['p50']} ms" if enc else "")
                + f" [{note(state)}]")
        # A native client (curl's own time_total; no Python reading 6 MB in the loop).
        if shutil.which("curl"):
            for label, extra in [("curl", []), ("curl_compressed", ["--compressed"])]:
                state = wait_quiet(f"/metrics with {label}")
                out_t = []
                for _ in range(scrapes):
                    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{time_total}", *extra,
                                        "-H", f"Authorization: Bearer {d.token}",
                                        f"http://127.0.0.1:{d.port}/metrics"], capture_output=True, text=True,
                                       check=True)
                    out_t.append(float(r.stdout))
                res[label] = {"ms": dist(out_t, 1000, 2), "machine": state}
                m = res[label]["ms"]
                log(f"GET /metrics with {label} (new connection each): p50 {m['p50']} ms, p99 {m['p99']} ms "
                    f"[{note(state)}]")
        # With usage flowing: 10 new events on random pairs before each scrape (not timed;
        # the CPU is read after the record's answer, then around the scrape alone).
        for case, accept, enc in [("text_with_changes", None, None),
                                  ("prometheus_gzip_with_changes", PROM_ACCEPT, "gzip")]:
            state = wait_quiet(f"/metrics ({case})")
            c.close()
            c = d.conn()
            rr = random.Random(3)
            times, cpu = [], 0.0
            for k in range(scrapes):
                evs = [{"profile": f"p{rr.randrange(profiles):04}", "model": MODELS[rr.randrange(models)],
                        "source": "bench", "input_tokens": 5, "dedupe_key": f"{case}-{k}-{j}"} for j in range(10)]
                d.ok("POST", "/api/usage/record", {"events": evs}, conn=c)
                cpu0 = sum(d.cpu())
                times.append(scrape(d, c, accept, enc)[0])
                cpu += sum(d.cpu()) - cpu0
            res[case] = {"ms": dist(times, 1000, 2),
                         "daemon_cpu_ms_per_scrape": round(cpu / scrapes * 1000, 2), "machine": state}
            m = res[case]["ms"]
            log(f"GET /metrics ({case}) after 10 new events each: p50 {m['p50']} ms, p99 {m['p99']} ms, "
                f"max {m['max']} ms; daemon CPU {res[case]['daemon_cpu_ms_per_scrape']} ms/scrape [{note(state)}]")
        c.close()
        # Other requests while a scraper hammers /metrics (back to back, one connection).
        n = 300
        rec = lambda i: {"events": [{"profile": "p0000", "model": "claude-sonnet-4", "source": "bench",
                                     "input_tokens": 1, "dedupe_key": f"lat-{time.time_ns()}-{i}"}]}
        for label in ["idle", "while scraping", "while scraping gzip"]:
            stop = threading.Event()
            scraped = [0]

            def hammer():
                cc = d.conn()
                while not stop.is_set():
                    if label.endswith("gzip"):
                        scrape(d, cc, PROM_ACCEPT, "gzip")
                    else:
                        scrape(d, cc)
                    scraped[0] += 1
                cc.close()
            t = None
            if label != "idle":
                t = threading.Thread(target=hammer)
                t.start()
                time.sleep(0.5)
            get = latencies(d, "GET", "/api/usage?period=today", None, n)
            post = latencies(d, "POST", "/api/usage/record", rec, n)
            stop.set()
            if t:
                t.join()
            res[f"others_{label.replace(' ', '_')}"] = {
                "get_usage_ms": dist(get, 1000, 2), "record_ms": dist(post, 1000, 2), "scrapes_meanwhile": scraped[0]}
            g, p = dist(get, 1000, 2), dist(post, 1000, 2)
            log(f"{label:>15}: GET /api/usage?period=today p50 {g['p50']} p99 {g['p99']} ms; "
                f"POST /api/usage/record p50 {p['p50']} p99 {p['p99']} ms ({scraped[0]} scrapes meanwhile)")
        if shutil.which("prometheus"):
            secs = int(os.environ.get("PROM_SECONDS", "30"))
            res["prometheus"] = prometheus_scrape(d.port, token_file, work, secs)
            log(f"Prometheus 1 s scrapes for {secs} s: {res['prometheus']}")
    finally:
        d.stop()
    save(out, "metrics", res)


def _daemon_in(binary, work, home):
    """A Daemon on an existing home (so its config file is read at start)."""
    real = tempfile.mkdtemp
    tempfile.mkdtemp = lambda **kw: home
    try:
        return Daemon(binary, work)
    finally:
        tempfile.mkdtemp = real


class Postgres:
    """A throwaway cluster, as the tests make one (as the postgres user under root)."""

    def __init__(self, work):
        versions = sorted(int(v) for v in os.listdir("/usr/lib/postgresql") if v.isdigit())
        self.bin = f"/usr/lib/postgresql/{versions[-1]}/bin"
        self.dir = tempfile.mkdtemp(prefix="pg-", dir="/tmp")
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(self.dir, self.user, self.user)
        subprocess.run([f"{self.bin}/initdb", "-D", f"{self.dir}/data", "-U", "clown", "-A", "trust",
                        "--no-sync", "-E", "UTF8", "--locale=C"], user=self.user, check=True,
                       stdout=subprocess.DEVNULL, cwd=self.dir)
        self.proc = subprocess.Popen([f"{self.bin}/postgres", "-D", f"{self.dir}/data", "-p", str(self.port),
                                      "-k", self.dir, "-c", "listen_addresses=127.0.0.1"],
                                     user=self.user, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.dir)
        deadline = time.time() + 30
        while subprocess.run([f"{self.bin}/pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)]).returncode:
            if time.time() > deadline:
                raise SystemExit("postgres not ready")
            time.sleep(0.1)
        self.url = f"postgres://clown@127.0.0.1:{self.port}/postgres?sslmode=disable"

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def sync_status(d, c=None):
    return d.ok("GET", "/api/sync/status", conn=c)[0]


def bench_sync(binary, out):
    n = int(os.environ.get("EVENTS", "1000000"))
    samples = int(os.environ.get("SAMPLES", "200"))
    batch = int(os.environ.get("SYNC_BATCH", "5000"))
    work = os.path.join(out, "work")
    os.makedirs(work, exist_ok=True)
    pg = Postgres(work)
    home = tempfile.mkdtemp(prefix="home-", dir=work)
    cfg = os.path.join(home, ".config/clown/config.toml")
    os.makedirs(os.path.dirname(cfg), exist_ok=True)
    dead = f"postgres://clown@127.0.0.1:{free_port()}/postgres?sslmode=disable"
    with open(cfg, "w") as f:
        f.write(f"[sync]\nurl = \"{dead}\"\nbatch = {batch}\nretry_max_ms = 1000\n")
    d = _daemon_in(binary, work, home)
    res = {"events": n, "batch": batch}
    try:
        now = int(time.time())
        r = random.Random(2)
        events = [(now - r.randrange(0, 60 * 86400), f"p{r.randrange(20):02}", MODELS[r.randrange(10)])
                  for _ in range(n)]
        load_s, _ = load_events(d, events, "sync")
        log(f"recorded {n} events in {load_s:.1f} s while the database was unreachable; "
            f"backlog {sync_status(d)['backlog']}")
        with open(cfg, "w") as f:
            f.write(f"[sync]\nurl = \"{pg.url}\"\nbatch = {batch}\ninterval_ms = 1000\n")
        state = wait_quiet("the push")
        cpu0 = sum(d.cpu())
        t0 = time.perf_counter()
        os.kill(d.pid, signal.SIGHUP)
        c = d.conn()
        while True:
            s = sync_status(d, c)
            if s["connected"] and s["backlog"] == 0 and s["pushed_events"] >= n:
                break
            time.sleep(0.05)
        push_s = time.perf_counter() - t0
        cpu = sum(d.cpu()) - cpu0
        res["push"] = {"seconds": round(push_s, 2), "events_per_s": round(n / push_s),
                       "daemon_cpu_s": round(cpu, 2), "machine": state}
        log(f"pushed {n} events in {push_s:.1f} s: {n / push_s:.0f} events/s "
            f"(daemon CPU {cpu:.1f} s) [{note(state)}]")
        local, _ = d.ok("GET", "/api/usage?period=all", conn=c)
        shared, dt = d.ok("GET", "/api/usage?period=all&scope=all-machines", conn=c)
        assert local["total_tokens"] == shared["total_tokens"], (local["total_tokens"], shared["total_tokens"])
        res["report_all_machines_all_ms"] = round(dt * 1000, 1)
        log(f"all-machines report (period=all) equals the local one; took {dt * 1000:.1f} ms")
        # Event -> all-machines report, one at a time.
        with open(cfg, "w") as f:
            f.write(f"[sync]\nurl = \"{pg.url}\"\nbatch = {batch}\n")
        os.kill(d.pid, signal.SIGHUP)
        time.sleep(1)
        base = d.ok("GET", "/api/usage?period=today&scope=all-machines", conn=c)[0]["total_tokens"]["input_tokens"]
        state = wait_quiet("event to report latency")
        c.close()
        c = d.conn()
        lat, polls = [], 0
        for i in range(samples):
            body = {"events": [{"profile": "lat", "model": "claude-sonnet-4", "source": "bench",
                                "input_tokens": 1, "ts": int(time.time()), "dedupe_key": f"lat-{i}"}]}
            d.ok("POST", "/api/usage/record", body, conn=c)
            t = time.perf_counter()
            want = base + i + 1
            while True:
                polls += 1
                got = d.ok("GET", "/api/usage?period=today&scope=all-machines", conn=c)[0]
                if got["total_tokens"]["input_tokens"] >= want:
                    break
            lat.append(time.perf_counter() - t)
        res["event_to_report"] = {"ms": dist(lat, 1000, 1), "samples": samples,
                                  "report_polls": polls, "machine": state}
        m = res["event_to_report"]["ms"]
        log(f"local event -> all-machines report: p50 {m['p50']} ms, p99 {m['p99']} ms, max {m['max']} ms "
            f"({samples} events, {polls} report polls) [{note(state)}]")
        c.close()
    finally:
        d.stop()
        pg.stop()
    save(out, "sync", res)


def main():
    cmd, binary, out = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
    os.makedirs(out, exist_ok=True)
    log(f"machine: {os.cpu_count()} CPUs; now {note(machine())}")
    {"metrics": bench_metrics, "sync": bench_sync}[cmd](binary, out)
    log(f"done; now {note(machine())}")


if __name__ == "__main__":
    main()
