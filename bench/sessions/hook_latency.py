#!/usr/bin/env python3
"""From an agent's hook firing to the state change on /ws/events.

    hook_latency.py BINARY OUT_DIR

Starts `BINARY daemon` with a fresh temporary HOME and a shell test agent (/bin/sh under
another name, declared in the user registry), starts one terminal session whose script
writes the session's hook environment to a file and sleeps, subscribes to /ws/events, and
then, ROUNDS times (after WARMUP rounds), alternates the two events of a Claude Code turn
(`UserPromptSubmit`, `Stop`), so each one changes the state:

- *hook*: the clock starts just before `BINARY hook claude` is spawned with the event on
  its stdin and the session's environment (what Claude Code does for each hook), and stops
  when the `terminal_attention_changed` frame for the new state has been read;
- *post*: the same event POSTed straight to the hook route on a kept-alive connection
  (the daemon's part alone).

Prints and writes OUT_DIR/hook_latency.json: min, p50, p90, p99, max in ms for both.
"""

import http.client
import json
import os
import statistics
import subprocess
import sys
import time

from wsclient import Ws, free_port, sh_agent_home

ROUNDS = int(os.environ.get("ROUNDS", "1000"))
WARMUP = int(os.environ.get("WARMUP", "50"))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def summary(ms):
    return {"n": len(ms), "min": min(ms), "p50": pct(ms, 50), "p90": pct(ms, 90),
            "p99": pct(ms, 99), "max": max(ms), "mean": statistics.mean(ms)}


def main():
    binary, out_dir = os.path.abspath(sys.argv[1]), sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    root, home = sh_agent_home("clown-hook-bench-", "")
    port = free_port()
    env = {"HOME": home, "PATH": "/usr/bin:/bin", "CLOWN_LOG": "warn", "TZ": "UTC"}
    daemon = subprocess.Popen([binary, "daemon", "--listen", f"127.0.0.1:{port}"], env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(out_dir, "hook_latency-daemon.log"), "w"))
    try:
        token_file = os.path.join(home, ".local/state/clown/token")
        for _ in range(500):
            try:
                token = open(token_file).read().strip()
                c = http.client.HTTPConnection("127.0.0.1", port)
                c.request("GET", "/api/daemon/status", headers={"Authorization": f"Bearer {token}"})
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.02)
        api = http.client.HTTPConnection("127.0.0.1", port)
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        def call(method, path, body=None):
            api.request(method, path, body=json.dumps(body) if body is not None else None, headers=auth)
            r = api.getresponse()
            data = json.loads(r.read())
            assert data["success"], data
            return data["data"]

        call("POST", "/api/profiles", {"agent_id": "benchsh", "alias": "bench", "provider_id": "anthropic",
                                       "api_key": "sk-bench-0123456789"})
        envfile = os.path.join(root, "hookenv")
        script = (f'printf "%s\\n%s\\n%s\\n" "$CLOWN_SESSION_ID" "$CLOWN_HOOK_TOKEN" "$CLOWN_HOOK_URL" > {envfile}.tmp;'
                  f' mv {envfile}.tmp {envfile}; exec sleep 100000')
        call("POST", "/api/terminal/sessions", {"profile_alias": "bench", "args": ["-c", script]})
        while not os.path.exists(envfile):
            time.sleep(0.01)
        sid, htoken, hurl = open(envfile).read().split()
        hook_env = {"PATH": "/usr/bin:/bin", "CLOWN_SESSION_ID": sid, "CLOWN_HOOK_TOKEN": htoken,
                    "CLOWN_HOOK_URL": hurl}
        ws = Ws(port, "/ws/events", token)
        ws.frame()  # hello

        def wait_state(state):
            while True:
                op, payload = ws.frame()
                if op != 1:
                    continue
                ev = json.loads(payload)
                if ev["type"] == "terminal_attention_changed" and ev["data"]["id"] == sid \
                        and ev["data"]["attention"] == state:
                    return

        events = [("UserPromptSubmit", "working"), ("Stop", "turn_finished")]
        hook_ms, post_ms = [], []
        direct = http.client.HTTPConnection("127.0.0.1", port)
        hauth = {"Authorization": f"Bearer {htoken}", "Content-Type": "application/json"}
        # One alternation across both loops: every event changes the state, whatever the
        # number of rounds (the same event twice in a row changes nothing, and nothing
        # would come on /ws/events).
        turn = 0
        for i in range(WARMUP + ROUNDS):
            name, state = events[turn % 2]
            turn += 1
            stdin = json.dumps({"session_id": "bench", "hook_event_name": name, "cwd": root}).encode()
            t0 = time.perf_counter()
            p = subprocess.Popen([binary, "hook", "claude"], env=hook_env, stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            p.stdin.write(stdin)
            p.stdin.close()
            wait_state(state)
            t1 = time.perf_counter()
            p.wait()
            if i >= WARMUP:
                hook_ms.append((t1 - t0) * 1000)
        for i in range(WARMUP + ROUNDS):
            name, state = events[turn % 2]
            turn += 1
            body = json.dumps({"agent": "claude", "event": name})
            t0 = time.perf_counter()
            direct.request("POST", f"/api/terminal/sessions/{sid}/hook", body=body, headers=hauth)
            r = direct.getresponse()
            r.read()
            wait_state(state)
            t1 = time.perf_counter()
            if i >= WARMUP:
                post_ms.append((t1 - t0) * 1000)
        result = {"rounds": ROUNDS, "warmup": WARMUP, "hook_process": summary(hook_ms),
                  "post_only": summary(post_ms), "cpus": os.cpu_count(), "loadavg": os.getloadavg()}
        with open(os.path.join(out_dir, "hook_latency.json"), "w") as f:
            json.dump(result, f, indent=2)
        for name in ("hook_process", "post_only"):
            s = result[name]
            print(f"{name:13} n={s['n']}  min {s['min']:.2f}  p50 {s['p50']:.2f}  p90 {s['p90']:.2f}  "
                  f"p99 {s['p99']:.2f}  max {s['max']:.2f} ms")
        print(f"load average at the end: {os.getloadavg()}")
    finally:
        daemon.terminate()
        daemon.wait(timeout=20)


if __name__ == "__main__":
    main()
