"""What the session benchmarks share: a HOME whose registry declares a test agent (/bin/sh
under another name), a free port, and a minimal WebSocket client (enough to read the daemon's
frames)."""

import base64
import json
import os
import socket
import tempfile


def sh_agent_home(prefix, config_tail):
    """A new temporary root with `home/` whose user registry declares the agent `benchsh`
    (program `clown-bench-sh`, a link to /bin/sh on the configured extra path), and
    `config_tail` appended to its config. Returns (root, home)."""
    root = tempfile.mkdtemp(prefix=prefix)
    home = os.path.join(root, "home")
    agents = os.path.join(root, "agents")
    os.makedirs(agents)
    os.symlink("/bin/sh", os.path.join(agents, "clown-bench-sh"))
    reg = os.path.join(home, ".config/clown/registry")
    os.makedirs(reg)
    manifest = {"id": "benchsh", "name": "bench sh", "binary": "clown-bench-sh", "npm_package": "none",
                "version_args": ["--version"], "version_regex": "(\\d+)", "profile_strategy": "env",
                "launcher": "env", "protocol": "anthropic", "home_env": None, "base_url_env": "X_BASE",
                "api_key_env": "X_KEY", "model_env": None, "extra_env": {}, "supports_hooks": False,
                "default_model": "claude-sonnet-4", "supported_models": ["claude-sonnet-4"]}
    with open(os.path.join(reg, "agents.json"), "w") as f:
        json.dump({"version": 1, "agents": [manifest]}, f)
    with open(os.path.join(home, ".config/clown/config.toml"), "w") as f:
        f.write(f'[agents]\nextra_paths = ["{agents}"]\nlogin_shell = false\n{config_tail}')
    return root, home


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Ws:
    """A minimal WebSocket client: enough to read the daemon's frames."""

    def __init__(self, port, path, token):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
             f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert b" 101 " in head.split(b"\r\n")[0], head

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(self._read(2), "big")
        elif n == 127:
            n = int.from_bytes(self._read(8), "big")
        return b0 & 0x0F, self._read(n)

    def read_until(self, needle):
        """Binary payloads until their concatenation holds `needle`."""
        got = b""
        while needle not in got:
            op, payload = self.frame()
            if op == 2:
                got += payload
            elif op == 8:
                raise EOFError("closed")
        return got

    def close(self):
        self.sock.close()
