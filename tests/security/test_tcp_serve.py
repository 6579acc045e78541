"""``dspy-lsp serve --tcp``: loopback only, one client, and only the one holding the token.

Real server processes and real sockets on 127.0.0.1. Timeouts are deadlines for a loaded
machine, never measurements.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

DEADLINE_S = 60.0
TOKEN_ENV = "DSPY_LSP_TCP_TOKEN"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV and not k.startswith("XDG_")}
    for kind in ("CONFIG", "DATA", "CACHE"):
        env[f"XDG_{kind}_HOME"] = str(tmp_path / kind.lower())
    return {**env, **extra}


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "dspy_lsp.server", *args]


def _refusal(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(*args),
        env=_env(tmp_path, **env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
    )


def _frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def _initialize(options: Any = None, msg_id: int = 1) -> bytes:
    params: dict[str, Any] = {"processId": None, "rootUri": None, "capabilities": {}}
    if options is not None:
        params["initializationOptions"] = options
    return _frame({"jsonrpc": "2.0", "id": msg_id, "method": "initialize", "params": params})


class Client:
    """A raw LSP client on one socket: enough framing to talk, nothing hiding the bytes."""

    def __init__(self, port: int) -> None:
        self.conn = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S)
        self._buffer = bytearray()
        self._next_id = 100

    def send(self, data: bytes) -> None:
        self.conn.sendall(data)

    def receive(self) -> dict[str, Any]:
        while b"\r\n\r\n" not in self._buffer:
            chunk = self.conn.recv(65536)
            assert chunk, "the server closed the connection"
            self._buffer += chunk
        header, _, rest = bytes(self._buffer).partition(b"\r\n\r\n")
        length = int(header.split(b"Content-Length:")[1].split(b"\r\n")[0])
        while len(rest) < length:
            chunk = self.conn.recv(65536)
            assert chunk, "the server closed the connection"
            rest += chunk
        self._buffer[:] = rest[length:]
        return json.loads(rest[:length])

    def request(self, method: str, params: Any = None) -> dict[str, Any]:
        self._next_id += 1
        self.send(
            _frame({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params})
        )
        while "method" in (reply := self.receive()) or reply.get("id") != self._next_id:
            pass
        return reply

    def notify(self, method: str, params: Any) -> None:
        self.send(_frame({"jsonrpc": "2.0", "method": method, "params": params}))

    def debug_info(self) -> dict[str, Any]:
        reply = self.request("workspace/executeCommand", {"command": "dspy-lsp.debugInfo"})
        return reply["result"]

    def closed_without_reply(self) -> bool:
        """Read to the end: True if the server closed having sent nothing at all."""
        received = b""
        try:
            while chunk := self.conn.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
        return received == b""

    def close(self) -> None:
        self.conn.close()


class Server:
    """One ``serve --tcp`` process; ``connect`` waits for it to listen."""

    def __init__(self, tmp_path: Path, *args: str, **env: str) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            _command("--tcp", f"127.0.0.1:{self.port}", *args),
            env=_env(tmp_path, **env),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def connect(self) -> Client:
        deadline = time.monotonic() + DEADLINE_S
        while True:
            assert self.process.poll() is None, self.process.communicate()[1].decode()
            try:
                return Client(self.port)
            except OSError:
                assert time.monotonic() < deadline, "the server never listened"
                time.sleep(0.1)

    def authenticate(self, options: dict[str, Any]) -> tuple[Client, dict[str, Any]]:
        client = self.connect()
        client.send(_initialize(options))
        reply = client.receive()
        client.notify("initialized", {})
        return client, reply


@pytest.fixture
def token() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture
def spawned() -> Iterator[list[Server]]:
    servers: list[Server] = []
    yield servers
    for server in servers:
        server.process.kill()
        server.process.communicate(timeout=DEADLINE_S)


def _private_token_file(tmp_path: Path, token: str) -> Path:
    path = tmp_path / "token"
    path.write_text(token + "\n")
    path.chmod(0o600)
    return path


def test_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    result = _refusal(tmp_path, "--tcp", f"127.0.0.1:{_free_port()}")
    assert result.returncode == 2
    assert TOKEN_ENV in result.stderr and "--token-file" in result.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "[::]", "192.0.2.1", "example.com"])
def test_refuses_a_host_that_is_not_loopback(tmp_path: Path, token: str, host: str) -> None:
    result = _refusal(tmp_path, "--tcp", f"{host}:{_free_port()}", **{TOKEN_ENV: token})
    assert result.returncode == 2
    assert "loopback" in result.stderr


def test_refuses_a_token_file_others_can_read(tmp_path: Path, token: str) -> None:
    path = _private_token_file(tmp_path, token)
    path.chmod(0o644)
    result = _refusal(tmp_path, "--tcp", f"127.0.0.1:{_free_port()}", "--token-file", str(path))
    assert result.returncode == 2
    assert "chmod 600" in result.stderr


def test_refuses_a_symlinked_token_file(tmp_path: Path, token: str) -> None:
    link = tmp_path / "link"
    link.symlink_to(_private_token_file(tmp_path, token))
    result = _refusal(tmp_path, "--tcp", f"127.0.0.1:{_free_port()}", "--token-file", str(link))
    assert result.returncode == 2
    assert "symlink" in result.stderr


def test_unauthenticated_connections_are_dropped_and_the_server_keeps_waiting(
    tmp_path: Path, token: str, spawned: list[Server]
) -> None:
    server = Server(tmp_path, "--token-file", str(_private_token_file(tmp_path, token)))
    spawned.append(server)
    attempts = {
        "connect and close": b"",
        "garbage": b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "exit first": _frame({"jsonrpc": "2.0", "method": "exit"}),
        "shutdown first": _frame({"jsonrpc": "2.0", "id": 1, "method": "shutdown"}),
        "no token": _initialize(),
        "wrong token": _initialize({"token": secrets.token_urlsafe(32)}),
        "token not a string": _initialize({"token": [token]}),
    }
    for name, data in attempts.items():
        client = server.connect()
        if data:
            client.send(data)
            assert client.closed_without_reply(), name
        client.close()
        assert server.process.poll() is None, name

    client, reply = server.authenticate({"token": token})
    assert reply["id"] == 1 and reply["result"]["serverInfo"]["name"] == "dspy-lsp"
    document = {
        "uri": (tmp_path / "mutable.py").as_uri(),
        "languageId": "python",
        "version": 1,
        "text": "def f(x=[]):\n    return x\n",
    }
    client.notify("textDocument/didOpen", {"textDocument": document})
    while (message := client.receive()).get("method") != "textDocument/publishDiagnostics":
        pass
    assert any(str(d["code"]).startswith("DL10") for d in message["params"]["diagnostics"])
    client.request("shutdown")
    client.notify("exit", None)
    assert server.process.wait(timeout=DEADLINE_S) == 0


def test_a_second_connection_gets_nothing_while_a_client_is_served(
    tmp_path: Path, token: str, spawned: list[Server]
) -> None:
    server = Server(tmp_path, **{TOKEN_ENV: token})
    spawned.append(server)
    first, _ = server.authenticate({"token": token, "dspy-lsp": {"debounce_ms": 40}})
    before = first.debug_info()
    assert before["settings"]["debounce_ms"] == 40

    intruder = server.connect()
    try:
        intruder.send(_initialize({"token": token}))
        intruder.send(
            _frame(
                {
                    "jsonrpc": "2.0",
                    "method": "workspace/didChangeConfiguration",
                    "params": {"settings": {"dspy-lsp": {"debounce_ms": 999}}},
                }
            )
        )
        intruder.send(
            _frame(
                {
                    "jsonrpc": "2.0",
                    "id": 2,
                    "method": "workspace/executeCommand",
                    "params": {"command": "dspy-lsp.debugInfo"},
                }
            )
        )
    except OSError:
        pass  # already closed: exactly what should happen
    assert intruder.closed_without_reply()
    intruder.close()

    after = first.debug_info()
    assert after == before
    assert token not in json.dumps(before) + json.dumps(after)
    first.close()
    server.process.wait(timeout=DEADLINE_S)
    assert token not in server.process.communicate(timeout=DEADLINE_S)[1].decode()


def test_the_process_exits_when_the_authenticated_client_disconnects(
    tmp_path: Path, token: str, spawned: list[Server]
) -> None:
    server = Server(tmp_path, **{TOKEN_ENV: token})
    spawned.append(server)
    client, reply = server.authenticate({"token": token})
    assert "result" in reply
    client.close()
    assert server.process.wait(timeout=30) == 0
