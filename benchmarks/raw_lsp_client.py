"""A minimal LSP client over a child's stdio, for benchmarks that compare servers.

It speaks raw JSON-RPC (Content-Length framing), so any server can be driven the same way
(pytest-lsp's client is pygls-based and would favour ours), and it answers the requests
servers make mid-run like a client with nothing to configure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Publish:
    seq: int
    received: float
    version: int | None
    diagnostics: int


class LspClient:
    """JSON-RPC over a child's stdio with Content-Length framing; answers server requests."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._publishes: dict[str, list[Publish]] = {}
        self._seq = 0
        self.unversioned = 0  # publishes without a version, matched by arrival order instead
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read_loop())

    @classmethod
    async def spawn(cls, argv: list[str], env: dict[str, str], cwd: Path) -> LspClient:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
            cwd=cwd,
        )
        return cls(proc)

    async def request(self, method: str, params: Any, timeout: float) -> Any:
        self._next_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = future
        await self._send(
            {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params}
        )
        return await asyncio.wait_for(future, timeout)

    async def notify(self, method: str, params: Any) -> float:
        """Send a notification; returns the time just before it was written."""
        sent = time.perf_counter()
        await self._send({"jsonrpc": "2.0", "method": method, "params": params})
        return sent

    def last_seq(self) -> int:
        return self._seq

    async def wait_publish(self, uri: str, version: int, after_seq: int, timeout: float) -> Publish:
        """The publish for ``version``, or the first unversioned one after ``after_seq``."""

        def find() -> Publish | None:
            for p in self._publishes.get(uri, ()):
                if p.version == version or (p.version is None and p.seq > after_seq):
                    return p
            return None

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(find), timeout)
        found = find()
        assert found is not None
        return found

    async def close(self, timeout: float = 10.0) -> None:
        """shutdown + exit; kill the server if it does not leave in time."""
        with contextlib.suppress(Exception):
            await self.request("shutdown", None, timeout)
            await self._send({"jsonrpc": "2.0", "method": "exit"})
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.kill()
            await self.proc.wait()
        self._reader.cancel()

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()

    async def _send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        body = json.dumps(message).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await self.proc.stdin.drain()

    async def _read_loop(self) -> None:
        assert self.proc.stdout is not None
        stdout = self.proc.stdout
        try:
            while True:
                length = None
                while (line := await stdout.readline()) not in (b"\r\n", b"\n"):
                    if not line:
                        return
                    name, _, value = line.decode("ascii").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                if length is None:
                    continue
                body = await stdout.readexactly(length)
                await self._dispatch(json.loads(body), time.perf_counter())
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("server closed its output"))

    async def _dispatch(self, message: dict[str, Any], received: float) -> None:
        method = message.get("method")
        if method is None:
            future = self._pending.pop(message.get("id"), None)
            if future is not None and not future.done():
                if "error" in message:
                    future.set_exception(RuntimeError(str(message["error"])))
                else:
                    future.set_result(message.get("result"))
        elif "id" in message:
            await self._answer(message)
        elif method == "textDocument/publishDiagnostics":
            await self._record(message["params"], received)
        # window/*, $/progress and other notifications are ignored.

    async def _answer(self, request: dict[str, Any]) -> None:
        """Servers may ask things mid-run; answer like a client with nothing to configure."""
        method, params = request["method"], request.get("params") or {}
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request["id"]}
        if method == "workspace/configuration":
            reply["result"] = [None] * len(params.get("items", []))
        elif method == "workspace/workspaceFolders":
            reply["result"] = []
        elif method.startswith(("client/", "window/")):
            reply["result"] = None
        else:
            reply["error"] = {"code": -32601, "message": f"unsupported: {method}"}
        await self._send(reply)

    async def _record(self, params: dict[str, Any], received: float) -> None:
        async with self._changed:
            self._seq += 1
            self.unversioned += params.get("version") is None
            publish = Publish(
                self._seq, received, params.get("version"), len(params["diagnostics"])
            )
            self._publishes.setdefault(params["uri"], []).append(publish)
            self._changed.notify_all()
