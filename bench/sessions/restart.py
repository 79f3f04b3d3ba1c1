#!/usr/bin/env python3
"""A daemon restart with running terminal sessions: every session back, same screen.

    restart.py BINARY OUT_DIR

Starts `BINARY daemon` on a fixed port with a fresh temporary HOME, a NOTIFY_SOCKET this
script owns (to see READY=1), and a shell test agent; starts SESSIONS sessions (default
20), each printing 200 numbered lines, then waiting for a flag file, then printing one more
line and echoing its input. For each session a WebSocket client reads the screen so far.
Then, ROUNDS times:

1. `POST /api/daemon/restart`; wait until the daemon has exited;
2. create the flag: every session writes its line while no daemon runs (waited for
   through a file each touches after writing);
3. start a new daemon (same binary, same port) and note when READY=1 arrives;
4. for every session at once, a new WebSocket client reads until it holds that line; the
   session is *back* when what it received equals the screen read before the restart
   followed by the new line.

Prints and writes OUT_DIR/restart.json: per round, exec -> READY, and READY -> every
session back (and the slowest session), in ms.
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time

from wsclient import Ws, free_port, sh_agent_home

SESSIONS = int(os.environ.get("SESSIONS", "20"))
ROUNDS = int(os.environ.get("ROUNDS", "5"))
DOWN_LINES = int(os.environ.get("DOWN_LINES", "100"))


def wait_ready(sock, deadline):
    while time.time() < deadline:
        sock.settimeout(max(0.01, deadline - time.time()))
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            break
        if "READY=1" in msg.split("\n"):
            return time.perf_counter()
    raise RuntimeError("no READY=1")


def main():
    binary, out_dir = os.path.abspath(sys.argv[1]), sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    root, home = sh_agent_home("clown-restart-bench-", f"[terminal]\nmax_sessions = {max(32, SESSIONS)}\n")
    port = free_port()
    notify_path = os.path.join(root, "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    env = {"HOME": home, "PATH": "/usr/bin:/bin", "CLOWN_LOG": "warn", "TZ": "UTC",
           "NOTIFY_SOCKET": notify_path}
    log = open(os.path.join(out_dir, "restart-daemon.log"), "w")

    def start_daemon():
        t0 = time.perf_counter()
        p = subprocess.Popen([binary, "daemon", "--listen", f"127.0.0.1:{port}"], env=env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        ready = wait_ready(notify, time.time() + 30)
        return p, t0, ready

    daemon, _, _ = start_daemon()
    token = open(os.path.join(home, ".local/state/clown/token")).read().strip()
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request(method, path, body=json.dumps(body) if body is not None else None, headers=auth)
        data = json.loads(c.getresponse().read())
        assert data["success"], data
        return data["data"]

    call("POST", "/api/profiles", {"agent_id": "benchsh", "alias": "bench", "provider_id": "anthropic",
                                   "api_key": "sk-bench-0123456789"})
    ids = []
    for n in range(SESSIONS):
        # Polls with builtins and a slow sleep: the sessions cost nearly nothing while
        # the restart is measured.
        script = (f'i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo "s{n}-line-$i"; done; echo s{n}-MARK; '
                  f'r=0; while true; do while [ ! -e {root}/go.$r ]; do sleep 0.2; done; '
                  f'i=0; while [ $i -lt {DOWN_LINES} ]; do i=$((i+1)); echo "s{n}-DOWN-$r-$i"; done; '
                  f': > {root}/done.{n}.$r; r=$((r+1)); done')
        ids.append(call("POST", "/api/terminal/sessions",
                        {"profile_alias": "bench", "args": ["-c", script], "cols": 120, "rows": 40})["session_id"])
    screens = []
    for n, sid in enumerate(ids):
        ws = Ws(port, f"/ws/terminal/{sid}", token)
        ws.frame()  # connected
        screens.append(ws.read_until(f"s{n}-MARK\r\n".encode()))
        ws.close()
    rounds = []
    try:
        for r in range(ROUNDS):
            call("POST", "/api/daemon/restart")
            daemon.wait(timeout=30)
            # While no daemon runs, every session writes DOWN_LINES lines (a file per
            # round, so no session can miss the start of the next one).
            open(os.path.join(root, f"go.{r}"), "w").close()
            for n in range(SESSIONS):
                while not os.path.exists(os.path.join(root, f"done.{n}.{r}")):
                    time.sleep(0.005)
            daemon, t_exec, t_ready = start_daemon()
            back = [None] * SESSIONS
            errors = []

            def reattach(n, sid):
                try:
                    ws = Ws(port, f"/ws/terminal/{sid}", token)
                    op, payload = ws.frame()
                    assert json.loads(payload)["type"] == "connected", payload
                    last = f"s{n}-DOWN-{r}-{DOWN_LINES}\r\n".encode()
                    got = ws.read_until(last)
                    t = time.perf_counter()
                    ws.close()
                    # The same screen: what was there before, then exactly what the session
                    # wrote while the daemon was down, nothing lost, nothing twice.
                    assert got.startswith(screens[n]), f"session {n}: the screen differs"
                    down = "".join(f"s{n}-DOWN-{r}-{i}\r\n" for i in range(1, DOWN_LINES + 1)).encode()
                    assert got[len(screens[n]):] == down, f"session {n}: {got[len(screens[n]):][:200]!r}"
                    screens[n] = got
                    back[n] = t
                except Exception as e:  # noqa: BLE001
                    errors.append(f"{n}: {e}")

            threads = [threading.Thread(target=reattach, args=(n, sid)) for n, sid in enumerate(ids)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert not errors, errors
            ms = [(t - t_ready) * 1000 for t in back]
            rnd = {"exec_to_ready_ms": (t_ready - t_exec) * 1000, "ready_to_all_back_ms": max(ms),
                   "ready_to_first_back_ms": min(ms), "sessions": SESSIONS}
            rounds.append(rnd)
            print(f"round {r + 1}: exec->READY {rnd['exec_to_ready_ms']:.1f} ms; READY->all {SESSIONS} back "
                  f"{rnd['ready_to_all_back_ms']:.1f} ms (first {rnd['ready_to_first_back_ms']:.1f})", flush=True)
        worst = max(x["ready_to_all_back_ms"] for x in rounds)
        result = {"rounds": rounds, "worst_ready_to_all_back_ms": worst, "loadavg": os.getloadavg()}
        with open(os.path.join(out_dir, "restart.json"), "w") as f:
            json.dump(result, f, indent=2)
        print(f"worst READY -> all {SESSIONS} sessions back with the same screen: {worst:.1f} ms")
    finally:
        for sid in ids:
            try:
                call("DELETE", f"/api/terminal/sessions/{sid}")
            except Exception:  # noqa: BLE001
                pass
        daemon.terminate()
        daemon.wait(timeout=30)


if __name__ == "__main__":
    main()
