"""Serving the dashboard's web app with uvicorn on a socket bound first, so that ``--port 0``
can say which port it got, and announcing the URL once the server is ready."""

from __future__ import annotations

import contextlib
import socket
import sys
from typing import TextIO

import uvicorn
from starlette.applications import Starlette

ANNOUNCEMENT = "dspy-lsp dashboard: {url}"
"""The first line on stdout, once requests are answered: the editors' commands parse it."""


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: a free port). Raises OSError."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def url_of(host: str, sock: socket.socket) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


class _AnnouncingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, line: str, out: TextIO) -> None:
        super().__init__(config)
        self.line = line
        self.out = out

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit:
            self.out.write(self.line + "\n")
            self.out.flush()


def serve(app: Starlette, sock: socket.socket, url: str, out: TextIO | None = None) -> None:
    """Answer requests on ``sock`` until interrupted (Ctrl-C returns once the server has shut
    down; SIGTERM ends the process as that signal, as uvicorn re-raises it). The announcement
    goes to ``out``."""
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = _AnnouncingServer(config, ANNOUNCEMENT.format(url=url), out or sys.stdout)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl-C it handled
        server.run(sockets=[sock])
