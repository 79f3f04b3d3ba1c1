#!/usr/bin/env python3
"""Time to first token, and per token, through a Messages → Chat Completions translation.

`serve PORT`: a Chat Completions upstream. Every POST gets a streamed completion: a role
chunk, then TOKENS content chunks, the first at once and the others GAP_MS apart, each
carrying the moment it was written (CLOCK_MONOTONIC, shared by every process on the
machine) as its text `t=<ns> `, then the finish chunk, the usage chunk and `[DONE]`;
chunked, TCP_NODELAY.

`measure HOST:PORT KEY REQUESTS BODY PATH`: sends the request in the file BODY to PATH,
REQUESTS times one after another (a new connection each), and prints as JSON: the time
from sending the request to reading the first token (`ttft_*`), and the delay of every
token between the upstream's write and this process's read (`token_*`), in microseconds.
Stops reading at `message_stop` (a translated stream) or `[DONE]` (the upstream itself).
"""
import json
import re
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKENS = 20
GAP_MS = 5


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def chunk(self, obj):
        data = b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        base = {"id": "chatcmpl-sse", "object": "chat.completion.chunk", "model": "deepseek-chat"}
        delta = lambda d, f=None: {**base, "choices": [{"index": 0, "delta": d, "finish_reason": f}]}
        self.chunk(delta({"role": "assistant", "content": ""}))
        for i in range(TOKENS):
            if i:
                time.sleep(GAP_MS / 1000)
            self.chunk(delta({"content": f"t={time.monotonic_ns()} "}))
        self.chunk(delta({}, "stop"))
        self.chunk({**base, "choices": [], "usage": {"prompt_tokens": 12000, "completion_tokens": TOKENS,
                                                     "prompt_tokens_details": {"cached_tokens": 10000}}})
        self.chunk(b"[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def serve(port):
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def measure(target, key, requests, body_file, path):
    host, port = target.rsplit(":", 1)
    with open(body_file, "rb") as f:
        body = f.read()
    pattern = re.compile(rb"t=(\d+) ")
    ttft, tokens = [], []
    for _ in range(requests):
        s = socket.create_connection((host, int(port)))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        head = (f"POST {path} HTTP/1.1\r\nHost: {target}\r\nx-api-key: {key}\r\n"
                f"anthropic-version: 2023-06-01\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode()
        sent = time.monotonic_ns()
        s.sendall(head + body)
        buf, seen = b"", 0
        while True:
            data = s.recv(65536)
            now = time.monotonic_ns()
            if not data:
                break
            buf += data
            found = pattern.findall(buf)
            if found and not seen:
                ttft.append((now - sent) / 1000)
            for t in found[seen:]:
                tokens.append((now - int(t)) / 1000)
            seen = len(found)
            if b"message_stop" in buf or b"[DONE]" in buf:
                break
        s.close()
        if seen != 20:
            sys.exit(f"error: {seen} tokens came back from {target}{path}:\n{buf[:2000]!r}")
    pick = lambda xs, q: round(sorted(xs)[min(len(xs) - 1, int(q * len(xs)))], 1)
    print(json.dumps({"requests": len(ttft), "ttft_p50_us": pick(ttft, 0.5), "ttft_p99_us": pick(ttft, 0.99),
                      "tokens": len(tokens), "token_p50_us": pick(tokens, 0.5),
                      "token_p99_us": pick(tokens, 0.99), "token_max_us": round(max(tokens), 1)}))


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    else:
        measure(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6])
