"""Connections held open across `systemctl --user reload clown` (run by run.sh).

Opens a WebSocket to /ws/events and a keep-alive HTTP/1.1 connection to the daemon, prints
"ready PID" (the daemon's pid, from the first answer on the HTTP connection), waits for a
line on stdin (run.sh writes it once the reload is done), then checks, on the same two
connections:
  - the WebSocket delivers a text frame containing "configuration reloaded" (the daemon's
    log event for the reload) within the deadline;
  - the HTTP connection answers a second request with 200 from the same pid.
Prints one "ok NAME" or "FAILED NAME: why" line per check; exits 1 when one failed.

    python3 held_connections.py HOST:PORT TOKEN
"""

import base64
import json
import os
import socket
import sys
import time

DEADLINE_SECS = 10


def read_until(sock, marker, buf=b""):
    while marker not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    head, _, rest = buf.partition(marker)
    return head, rest


def http_get(sock, buf, host, token, path):
    """One request on an open keep-alive connection; returns (status, json, leftover)."""
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        "Connection: keep-alive\r\n\r\n".encode()
    )
    head, buf = read_until(sock, b"\r\n\r\n", buf)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    if "content-length" not in headers:
        raise ValueError(f"no content-length in {lines}")
    length = int(headers["content-length"])
    while len(buf) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed in the body")
        buf += chunk
    return status, json.loads(buf[:length]), buf[length:]


def ws_frames(sock, buf):
    """Yields (opcode, payload) of the server's (unmasked) frames, forever."""
    while True:
        while len(buf) < 2:
            buf += recv_some(sock)
        opcode, n = buf[0] & 0x0F, buf[1] & 0x7F
        at = 2
        if n == 126:
            while len(buf) < 4:
                buf += recv_some(sock)
            n, at = int.from_bytes(buf[2:4], "big"), 4
        elif n == 127:
            while len(buf) < 10:
                buf += recv_some(sock)
            n, at = int.from_bytes(buf[2:10], "big"), 10
        while len(buf) < at + n:
            buf += recv_some(sock)
        yield opcode, buf[at : at + n]
        buf = buf[at + n :]


def recv_some(sock):
    chunk = sock.recv(65536)
    if not chunk:
        raise EOFError("connection closed")
    return chunk


def main():
    host, token = sys.argv[1], sys.argv[2]
    addr, port = host.rsplit(":", 1)

    ws = socket.create_connection((addr, int(port)), timeout=DEADLINE_SECS)
    key = base64.b64encode(os.urandom(16)).decode()
    ws.sendall(
        f"GET /ws/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head, ws_buf = read_until(ws, b"\r\n\r\n")
    if b" 101 " not in head.split(b"\r\n")[0]:
        print(f"FAILED websocket handshake: {head[:200]!r}", flush=True)
        return 1

    http = socket.create_connection((addr, int(port)), timeout=DEADLINE_SECS)
    status, body, http_buf = http_get(http, b"", host, token, "/api/daemon/status")
    if status != 200:
        print(f"FAILED first HTTP request: {status} {body}", flush=True)
        return 1
    pid = body["data"]["pid"]
    print(f"ready {pid}", flush=True)

    sys.stdin.readline()  # the reload is done
    failed = 0

    deadline = time.monotonic() + DEADLINE_SECS
    seen = []
    try:
        for opcode, payload in ws_frames(ws, ws_buf):
            if opcode == 0x8:
                raise EOFError(f"close frame {payload!r}")
            if opcode == 0x1:
                text = payload.decode("utf-8", "replace")
                seen.append(text[:120])
                if "configuration reloaded" in text:
                    print("ok websocket: the reload's log event arrived on the connection opened before", flush=True)
                    break
            ws.settimeout(max(0.1, deadline - time.monotonic()))
    except (OSError, EOFError) as e:
        failed += 1
        print(f"FAILED websocket: {type(e).__name__}: {e}; frames seen: {seen[-5:]}", flush=True)

    try:
        status, body, _ = http_get(http, http_buf, host, token, "/api/daemon/status")
        if status == 200 and body["data"]["pid"] == pid:
            print(f"ok keep-alive HTTP: the connection opened before answers again (pid {pid})", flush=True)
        else:
            failed += 1
            print(f"FAILED keep-alive HTTP: {status} {body}", flush=True)
    except (OSError, EOFError, ValueError) as e:
        failed += 1
        print(f"FAILED keep-alive HTTP: {type(e).__name__}: {e}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
