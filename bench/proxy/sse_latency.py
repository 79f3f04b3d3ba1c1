#!/usr/bin/env python3
"""Time from an upstream SSE event to the agent.

`serve PORT`: an Anthropic-style SSE upstream. Every POST /v1/messages gets a
message_start, then EVENTS ping events GAP_MS apart, each carrying the moment it was
written (CLOCK_MONOTONIC, shared by every process on the machine), then message_delta
and message_stop, chunked, keep-alive.

`measure HOST:PORT KEY REQUESTS`: sends the requests one after another and prints, as
JSON, the delay of every ping event between the upstream's write and this process's
read (p50, p99, max, in microseconds).
"""
import json
import re
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EVENTS = 50
GAP_MS = 10


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def chunk(self, text):
        data = text.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        start = {"type": "message_start", "message": {"id": "msg_sse", "model": "claude-sonnet-4",
                 "usage": {"input_tokens": 5, "output_tokens": 1}}}
        self.chunk(f"event: message_start\ndata: {json.dumps(start)}\n\n")
        for _ in range(EVENTS):
            time.sleep(GAP_MS / 1000)
            self.chunk(f'event: ping\ndata: {{"type":"ping","t":{time.monotonic_ns()}}}\n\n')
        delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 50}}
        self.chunk(f"event: message_delta\ndata: {json.dumps(delta)}\n\n")
        self.chunk('event: message_stop\ndata: {"type":"message_stop"}\n\n')
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def serve(port):
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def measure(target, key, requests):
    host, port = target.rsplit(":", 1)
    body = json.dumps({"model": "claude-sonnet-4", "max_tokens": 64, "stream": True,
                       "messages": [{"role": "user", "content": "ping"}]})
    pattern = re.compile(rb'"t":(\d+)')
    delays = []
    for _ in range(requests):
        s = socket.create_connection((host, int(port)))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall((f"POST /v1/messages HTTP/1.1\r\nHost: {target}\r\nx-api-key: {key}\r\n"
                   f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
                   f"connection: close\r\n\r\n{body}").encode())
        buf, seen = b"", 0
        while True:
            data = s.recv(65536)
            now = time.monotonic_ns()
            if not data:
                break
            buf += data
            found = pattern.findall(buf)
            for t in found[seen:]:
                delays.append((now - int(t)) / 1000)
            seen = len(found)
            # Done at the last event: not every proxy closes the connection when asked.
            if b"message_stop" in buf:
                break
        s.close()
    delays.sort()
    pick = lambda q: round(delays[min(len(delays) - 1, int(q * len(delays)))], 1)
    print(json.dumps({"events": len(delays), "p50_us": pick(0.50), "p99_us": pick(0.99),
                      "max_us": round(delays[-1], 1)}))


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    else:
        measure(sys.argv[2], sys.argv[3], int(sys.argv[4]))
