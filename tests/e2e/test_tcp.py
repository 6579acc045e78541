"""``dspy-lsp serve --tcp HOST:PORT`` speaks the same protocol over a socket, given the token."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _send(conn: socket.socket, message: dict) -> None:
    body = json.dumps(message).encode()
    conn.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)


def _receive(conn: socket.socket, buffer: bytearray) -> dict:
    while b"\r\n\r\n" not in buffer:
        buffer += conn.recv(65536)
    header, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    length = int(header.split(b"Content-Length:")[1].split(b"\r\n")[0])
    while len(rest) < length:
        rest += conn.recv(65536)
    buffer[:] = rest[length:]
    return json.loads(rest[:length])


def test_tcp_transport_answers_initialize_and_publishes_diagnostics() -> None:
    port = _free_port()
    token = secrets.token_urlsafe(32)
    server = subprocess.Popen(
        [sys.executable, "-m", "dspy_lsp.server", "--tcp", f"127.0.0.1:{port}"],
        env={**os.environ, "DSPY_LSP_TCP_TOKEN": token},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                # Generous: a loaded machine may take long to answer, never forever.
                conn = socket.create_connection(("127.0.0.1", port), timeout=120)
                break
            except OSError:
                assert time.monotonic() < deadline, "server never listened"
                time.sleep(0.1)
        buffer = bytearray()
        _send(
            conn,
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"capabilities": {}, "initializationOptions": {"token": token}},
            },
        )
        reply = _receive(conn, buffer)
        assert reply["id"] == 1 and reply["result"]["serverInfo"]["name"] == "dspy-lsp"
        _send(conn, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
        item = {
            "uri": "file:///tmp/tcp.py",
            "languageId": "python",
            "version": 1,
            "text": "def f(a=[]):\n    return a\n",
        }
        _send(
            conn,
            {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": item}},
        )
        while (message := _receive(conn, buffer)).get(
            "method"
        ) != "textDocument/publishDiagnostics":
            pass
        assert [d["code"] for d in message["params"]["diagnostics"]] == ["DL101"]
        _send(conn, {"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
        while _receive(conn, buffer).get("id") != 2:
            pass
        _send(conn, {"jsonrpc": "2.0", "method": "exit"})
        conn.close()
    finally:
        server.kill()
        server.wait(timeout=10)
