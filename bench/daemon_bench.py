#!/usr/bin/env python3
"""Measurements for bench/daemon.sh: exec → READY=1, resident memory, status throughput.

The script owns a NOTIFY_SOCKET (a unix datagram socket in a temporary directory), starts
`clown daemon --listen 127.0.0.1:<free port>` with a temporary HOME and times the span from
just before the spawn to the receipt of the datagram carrying READY=1. Memory comes from
/proc/PID/status. Throughput is wrk against the authenticated `GET /api/daemon/status`.

Usage: daemon_bench.py BINARY OUT_DIR   (settings through the environment, see daemon.sh)
"""

import json
import math
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN = os.path.abspath(sys.argv[1])
OUT = os.path.abspath(sys.argv[2])
RUNS = int(os.environ.get("RUNS", "30"))
WRK_DURATION = os.environ.get("WRK_DURATION", "10s")
WRK_CONFIGS = [c.split(":") for c in os.environ.get("WRK_CONFIGS", "2:64 1:32").split()]
READY_TIMEOUT = 10.0
QUIET_WAIT = float(os.environ.get("QUIET_WAIT", "120"))

# Variables that would redirect the daemon's files, logging or activation: drop them so
# only the temporary HOME decides (XDG defaults) and the daemon binds --listen itself.
DROP = re.compile(
    r"^(XDG_.*|CLOWN_.*|JOURNAL_STREAM|LISTEN_.*|NOTIFY_SOCKET|WATCHDOG_.*|RUST_LOG)$"
)


def log(msg):
    print(msg, flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid):
    """The memory and thread lines of /proc/PID/status, in kB / count."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads"):
                fields[key] = int(value.split()[0])
    return fields


def cpu_ticks(process_only=False):
    """(busy, total) jiffies of the whole machine, from /proc/stat. With process_only, busy
    counts only time charged to processes (user, nice, system), leaving out interrupt and
    softirq time, which loopback networking under wrk causes and no process is charged for."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    if process_only:
        return v[0] + v[1] + v[2], sum(v)
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


class OtherLoad:
    """CPU used by processes outside this benchmark (in cores), over one span or summed over
    several (start/stop): time charged to processes on the whole machine minus this script,
    its reaped children (daemons, wrk) and, optionally, a live daemon. Two cores leave no
    slack: anything above ~0.1 skews the figures."""

    def __init__(self, pid=None):
        self.pid = pid
        self.other = 0.0
        self.wall = 0.0
        self.t = None

    def _now(self):
        busy, total = cpu_ticks(process_only=True)
        hz = os.sysconf("SC_CLK_TCK")
        own = 0.0
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
            r = resource.getrusage(who)
            own += r.ru_utime + r.ru_stime
        live = proc_ticks(self.pid) / hz if self.pid else 0.0
        return busy / hz, total / hz, own + live

    def start(self):
        self.t = self._now()
        return self

    def stop(self):
        busy0, total0, ours0 = self.t
        busy1, total1, ours1 = self._now()
        self.other += (busy1 - busy0) - (ours1 - ours0)
        self.wall += (total1 - total0) / os.cpu_count()

    def cores(self):
        if self.t is not None and self.wall == 0:
            self.stop()
        return round(max(0.0, self.other) / max(self.wall, 1e-9), 2)


def wait_quiet(label, window=2.0, max_wait=None, quiet=False):
    """Waits (at most max_wait, default QUIET_WAIT seconds) until the machine is idle: under
    0.1 cores busy over `window` seconds. Returns whether it was."""
    deadline = time.monotonic() + (QUIET_WAIT if max_wait is None else max_wait)
    while True:
        b0, t0 = cpu_ticks()
        time.sleep(window)
        b1, t1 = cpu_ticks()
        busy = os.cpu_count() * (b1 - b0) / max(1, t1 - t0)
        if busy < 0.1:
            return True
        if time.monotonic() >= deadline:
            if not quiet:
                log(f"  (machine still busy, {busy:.2f} cores, before {label}; measuring anyway)")
            return False


def proc_ticks(pid):
    """utime + stime jiffies of one process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def pct(values, p):
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def summary(values):
    return {
        "n": len(values),
        "min": min(values),
        "median": statistics.median(values),
        "p90": pct(values, 90),
        "max": max(values),
    }


class Daemon:
    """One daemon process with its own NOTIFY_SOCKET."""

    def __init__(self, home, sockdir):
        self.home = home
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.notify_path = os.path.join(sockdir, "notify.sock")
        if os.path.exists(self.notify_path):
            os.unlink(self.notify_path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.notify_path)
        self.sock.settimeout(READY_TIMEOUT)
        env = {k: v for k, v in os.environ.items() if not DROP.match(k)}
        env["HOME"] = home
        env["NOTIFY_SOCKET"] = self.notify_path
        self.env = env
        self.stderr_path = os.path.join(sockdir, "daemon.stderr")
        self.pid = None
        self.code = None
        self.messages = []

    def start(self):
        """Spawns the daemon and waits for READY=1; returns seconds from spawn to READY."""
        argv = [BIN, "daemon", "--listen", self.addr]
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, self.stderr_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
        ]
        # posix_spawn (vfork+exec in glibc) keeps the harness's share of the figure small;
        # spawn_baseline() measures that share.
        t0 = time.perf_counter_ns()
        self.pid = os.posix_spawn(BIN, argv, self.env, file_actions=actions)
        while True:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                self.kill()
                raise RuntimeError(f"no READY=1 within {READY_TIMEOUT}s; see {self.stderr_path}")
            t1 = time.perf_counter_ns()
            lines = data.decode(errors="replace").split("\n")
            self.messages.append(lines)
            if "READY=1" in lines:
                return (t1 - t0) / 1e9

    def running(self):
        return self.pid is not None and self.code is None and self.wait(0) is None

    def wait(self, timeout):
        """Reaps the daemon within `timeout` seconds; returns its exit code or None."""
        deadline = time.monotonic() + timeout
        while self.code is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.code = os.waitstatus_to_exitcode(status)
            elif time.monotonic() >= deadline:
                return None
            else:
                time.sleep(0.001)
        return self.code

    def status_line(self):
        for lines in self.messages:
            for line in lines:
                if line.startswith("STATUS="):
                    return line[len("STATUS="):]
        return None

    def stop(self):
        """SIGTERM; returns (exit code, seconds to exit, saw STOPPING=1)."""
        t0 = time.perf_counter()
        os.kill(self.pid, signal.SIGTERM)
        code = self.wait(10)
        took = time.perf_counter() - t0
        if code is None:
            self.kill()
            raise RuntimeError("the daemon did not exit within 10 s of SIGTERM")
        # STOPPING=1 was sent before the exit, so it is already queued: drain without waiting.
        stopping = False
        self.sock.setblocking(False)
        try:
            while True:
                if "STOPPING=1" in self.sock.recv(4096).decode(errors="replace").split("\n"):
                    stopping = True
        except BlockingIOError:
            pass
        self.sock.close()
        return code, took, stopping

    def kill(self):
        if self.pid is not None and self.code is None:
            os.kill(self.pid, signal.SIGKILL)
            self.wait(10)
        self.sock.close()


def spawn_baseline(runs):
    """Harness share: posix_spawn of /bin/true until it has exited and been reaped."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        pid = os.posix_spawn("/bin/true", ["/bin/true"], {})
        os.waitpid(pid, 0)
        times.append((time.perf_counter_ns() - t0) / 1e9)
    return summary([t * 1000 for t in times])


def startup(kind, runs, work):
    """kind 'fresh': a new empty HOME each run; 'warm': one HOME whose database exists.
    Before each run, waits (briefly) for an idle machine; the other-load figure covers the
    runs themselves, not the waits."""
    ready_ms, mem = [], []
    warm_home = None
    busy_starts = 0
    wait_quiet(f"the {kind} start-ups")
    other = OtherLoad()
    if kind == "warm":
        warm_home = tempfile.mkdtemp(prefix="home-", dir=work)
        d = Daemon(warm_home, tempfile.mkdtemp(prefix="sock-", dir=work))
        d.start()
        d.stop()
        assert os.path.exists(os.path.join(warm_home, ".local/share/clown/clown.db"))
    for i in range(runs):
        home = warm_home or tempfile.mkdtemp(prefix="home-", dir=work)
        sockdir = tempfile.mkdtemp(prefix="sock-", dir=work)
        d = Daemon(home, sockdir)
        if not wait_quiet("a start-up", window=0.5, max_wait=min(QUIET_WAIT, 20), quiet=True):
            busy_starts += 1
        other.start()
        try:
            secs = d.start()
            mem.append(proc_status(d.pid))
            status = d.status_line()
            if status != f"Listening on {d.addr}":
                raise RuntimeError(f"unexpected STATUS={status!r}")
        finally:
            code, took, stopping = d.stop() if d.running() else (d.code, 0, False)
            other.stop()
        if code != 0 or not stopping:
            raise RuntimeError(f"run {i}: exit code {code}, STOPPING=1 seen: {stopping}")
        ready_ms.append(secs * 1000)
        if kind == "fresh":
            shutil.rmtree(home)
        shutil.rmtree(sockdir)
    if warm_home:
        shutil.rmtree(warm_home)
    return {
        "ready_ms": summary(ready_ms),
        "ready_ms_all": [round(x, 3) for x in ready_ms],
        "rss_kb_at_ready": summary([m["VmRSS"] for m in mem]),
        "threads_at_ready": summary([m["Threads"] for m in mem]),
        "other_load_cores": other.cores(),
        "runs_started_on_a_busy_machine": busy_starts,
    }


def parse_wrk(text):
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    total = re.search(r"(\d+) requests in", text)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors: (.*)", text)
    lat = {m.group(1): m.group(2) for m in re.finditer(r"^\s+(50|75|90|99)%\s+(\S+)", text, re.M)}
    return {
        "requests_per_sec": float(rps.group(1)) if rps else None,
        "requests": int(total.group(1)) if total else None,
        "non_2xx_3xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1).strip() if errors else None,
        "latency_percentiles": lat,
    }


def throughput(work):
    home = tempfile.mkdtemp(prefix="home-", dir=work)
    sockdir = tempfile.mkdtemp(prefix="sock-", dir=work)
    d = Daemon(home, sockdir)
    d.start()
    result = {"at_ready": proc_status(d.pid)}
    try:
        time.sleep(1.0)
        result["idle_1s"] = proc_status(d.pid)
        token_path = os.path.join(home, ".local/state/clown/token")
        token = open(token_path).read().strip()
        url = f"http://{d.addr}/api/daemon/status"
        # Pre-flight: the authenticated request answers 200 with the envelope; without the
        # token it is refused (so wrk's 2xx count really means authenticated requests).
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=5) as r:
            body = json.loads(r.read())
            if r.status != 200:
                raise RuntimeError(f"status answered {r.status}")
        result["sample_response"] = body
        try:
            urllib.request.urlopen(url, timeout=5)
            raise RuntimeError("status answered without the token")
        except urllib.error.HTTPError as e:
            if e.code != 401:
                raise RuntimeError(f"unauthenticated status answered {e.code}, expected 401")
        runs = []
        for threads, conns in WRK_CONFIGS:
            argv = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{WRK_DURATION}", "--latency",
                    "-H", f"Authorization: Bearer {token}", url]
            wait_quiet(f"wrk -t{threads} -c{conns}")
            busy0, total0 = cpu_ticks()
            own0 = proc_ticks(d.pid)
            other = OtherLoad(d.pid).start()
            out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
            busy1, total1 = cpu_ticks()
            own1 = proc_ticks(d.pid)
            ncpu = os.cpu_count()
            with open(os.path.join(OUT, f"wrk-t{threads}-c{conns}.txt"), "w") as f:
                f.write(out.replace(token, "<token>"))
            r = parse_wrk(out)
            r["args"] = f"-t{threads} -c{conns} -d{WRK_DURATION}"
            r["mem_after"] = proc_status(d.pid)
            # CPU use in cores: the whole machine, and the daemon alone (wrk is most of the rest).
            r["machine_busy_cores"] = round(ncpu * (busy1 - busy0) / (total1 - total0), 2)
            r["daemon_cores"] = round(ncpu * (own1 - own0) / (total1 - total0), 2)
            r["other_load_cores"] = other.cores()
            runs.append(r)
            log(f"  wrk {r['args']}: {r['requests_per_sec']:.0f} req/s, "
                f"{r['requests']} requests, non-2xx/3xx {r['non_2xx_3xx']}, "
                f"socket errors {r['socket_errors'] or 'none'}, "
                f"p50 {r['latency_percentiles'].get('50')} p99 {r['latency_percentiles'].get('99')}; "
                f"CPU: daemon {r['daemon_cores']} cores, machine {r['machine_busy_cores']} of {ncpu}, "
                f"other processes {r['other_load_cores']}")
            time.sleep(1.0)
        result["wrk"] = runs
        result["after_throughput"] = proc_status(d.pid)
    finally:
        code, took, stopping = d.stop()
    result["stop"] = {"exit_code": code, "secs": round(took, 3), "stopping_seen": stopping}
    shutil.rmtree(home)
    shutil.rmtree(sockdir)
    return result


def fmt_ms(s):
    return f"min {s['min']:.2f} ms, median {s['median']:.2f} ms, p90 {s['p90']:.2f} ms, max {s['max']:.2f} ms (n={s['n']})"


def main():
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="clown-bench-")
    try:
        results = {"runs": RUNS, "nproc": os.cpu_count(), "binary": BIN}
        results["spawn_baseline_ms"] = spawn_baseline(RUNS)
        log(f"spawn baseline (/bin/true to exit): {fmt_ms(results['spawn_baseline_ms'])}")
        for kind in ("fresh", "warm"):
            r = startup(kind, RUNS, work)
            results[f"startup_{kind}"] = r
            log(f"exec → READY=1, {kind} HOME: {fmt_ms(r['ready_ms'])}; "
                f"other processes {r['other_load_cores']} cores, "
                f"{r['runs_started_on_a_busy_machine']} runs started on a busy machine")
            m = r["rss_kb_at_ready"]
            log(f"  VmRSS at READY: min {m['min']} kB, median {m['median']} kB, max {m['max']} kB; "
                f"threads at READY: median {r['threads_at_ready']['median']}")
        t = throughput(work)
        results["throughput"] = t
        for label in ("at_ready", "idle_1s", "after_throughput"):
            m = t[label]
            log(f"memory {label}: VmRSS {m['VmRSS']} kB, VmHWM {m['VmHWM']} kB "
                f"(RssAnon {m['RssAnon']} kB, RssFile {m['RssFile']} kB), threads {m['Threads']}")
        log(f"stop: exit code {t['stop']['exit_code']} after {t['stop']['secs']} s, "
            f"STOPPING=1 seen: {t['stop']['stopping_seen']}")
        with open(os.path.join(OUT, "daemon.json"), "w") as f:
            json.dump(results, f, indent=2)
        log(f"results: {os.path.join(OUT, 'daemon.json')}")
        busy = [results[f"startup_{k}"]["other_load_cores"] for k in ("fresh", "warm")]
        busy += [r["other_load_cores"] for r in t["wrk"]]
        if max(busy) > 0.15:
            log(f"WARNING: other processes used up to {max(busy)} cores during the measurement; "
                "the figures are skewed, run again on a quiet machine")
        bad = [r for r in t["wrk"] if r["non_2xx_3xx"] or r["socket_errors"]]
        if bad or t["stop"]["exit_code"] != 0:
            log("FAILED: non-2xx responses, socket errors or a bad exit; see above")
            return 1
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
