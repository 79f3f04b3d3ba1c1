"""Terminado (Jupyter's terminal server) for the terminal benchmark.

usage: terminado_server.py PORT COMMAND...
Each WebSocket at /websocket/NAME gets the terminal NAME (created on first use) running
COMMAND; every client of a name shares its terminal.
"""

import sys

import tornado.ioloop
import tornado.web
from terminado import NamedTermManager, TermSocket


def main() -> None:
    port = int(sys.argv[1])
    manager = NamedTermManager(shell_command=sys.argv[2:], max_terminals=10000)
    app = tornado.web.Application(
        [(r"/websocket/(\w+)", TermSocket, {"term_manager": manager})]
    )
    app.listen(port, "127.0.0.1")
    print("ready", flush=True)
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
