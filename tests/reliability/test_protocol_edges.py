"""The edges of the JSON-RPC conversation (stdio, and TCP past its handshake): framing a client got wrong, params that do
not decode, and requests out of LSP's lifecycle. Each gets an answer or a clean, logged exit;
none kills the server or leaves the client waiting.

Raw bytes to a real ``python -m dspy_lsp.server`` (benchmarks/raw_lsp_client.py frames and
reads); a request the server never answers fails at ``ANSWER_S``, a deadline, not a timing.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from benchmark_scripts import load_benchmark
from security.test_tcp_serve import TOKEN_ENV
from security.test_tcp_serve import Server as TcpServer

pytestmark = pytest.mark.asyncio(loop_scope="module")

LspClient = load_benchmark("raw_lsp_client").LspClient
ANSWER_S = 30.0
URI = "file:///edges/mod.py"


@dataclass
class Server:
    client: Any
    stderr: Path

    @property
    def proc(self) -> asyncio.subprocess.Process:
        return self.client.proc

    async def send_raw(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        await self.proc.stdin.drain()

    async def request_in_one_write(self, before: bytes, method: str, params: Any) -> Any:
        """A request written together with ``before``, so the server reads both at once."""
        self.client._next_id += 1
        msg_id = self.client._next_id
        answer = self.client._pending[msg_id] = asyncio.get_running_loop().create_future()
        request = {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}
        await self.send_raw(before + frame(request))
        return await asyncio.wait_for(answer, ANSWER_S)

    async def exit_code(self) -> int:
        return await asyncio.wait_for(self.proc.wait(), ANSWER_S)

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


async def start(tmp_path: Path, *args: str, **env: str) -> Server:
    stderr = tmp_path / "stderr.log"
    with stderr.open("wb") as sink:  # a file, not a pipe nobody drains
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "dspy_lsp.server",
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=sink,
            env={**os.environ, **env},
            cwd=tmp_path,
        )
    return Server(LspClient(proc), stderr)


async def initialized(server: Server) -> Server:
    params = {"processId": None, "rootUri": None, "capabilities": {}}
    await server.client.request("initialize", params, ANSWER_S)
    await server.client.notify("initialized", {})
    return server


def code_action(line: Any) -> dict[str, Any]:
    position = {"line": line, "character": 0}
    return {
        "textDocument": {"uri": URI},
        "range": {"start": position, "end": position},
        "context": {"diagnostics": []},
    }


Spawn = Callable[..., Awaitable[Server]]


@pytest_asyncio.fixture(loop_scope="module")
async def spawn(tmp_path: Path) -> AsyncIterator[Spawn]:
    """``start`` in the test's directory; whatever is still running at the end is killed."""
    started: list[Server] = []

    async def spawn_one(*args: str, **env: str) -> Server:
        started.append(await start(tmp_path, *args, **env))
        return started[-1]

    yield spawn_one
    for server in started:
        server.client.kill()
        await server.proc.wait()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    """One initialized server with a document open, shared by the tests that leave it so."""
    running = await initialized(await start(tmp_path_factory.mktemp("edges")))
    item = {"uri": URI, "languageId": "python", "version": 1, "text": "x = 1\n"}
    await running.client.notify("textDocument/didOpen", {"textDocument": item})
    yield running
    await running.client.close()


# -- params that do not decode ------------------------------------------------------------------
@pytest.mark.parametrize("line", [-1, 2**32, "two"], ids=["negative", "2**32", "a string"])
async def test_a_request_with_params_that_do_not_decode_gets_invalid_params(
    server: Server, line: Any
) -> None:
    with pytest.raises(RuntimeError, match="'code': -32602"):
        await server.client.request("textDocument/codeAction", code_action(line), ANSWER_S)


async def test_a_request_missing_its_params_gets_invalid_params(server: Server) -> None:
    with pytest.raises(RuntimeError, match="'code': -32602"):
        await server.client.request("textDocument/hover", {"textDocument": {}}, ANSWER_S)


async def test_the_server_answers_normally_after_params_that_do_not_decode(
    server: Server,
) -> None:
    with pytest.raises(RuntimeError, match="-32602"):
        await server.client.request("textDocument/codeAction", code_action(-1), ANSWER_S)
    assert await server.client.request("textDocument/codeAction", code_action(0), ANSWER_S) in (
        None,
        [],
    )


# -- framing ------------------------------------------------------------------------------------
async def test_an_absurd_content_length_is_refused_without_allocating_it(spawn: Spawn) -> None:
    """The length is believed (a huge honest message is skipped, byte by byte), so what follows
    is taken for its body; when the stream ends first, the server says so and exits 1."""
    server = await initialized(await spawn())
    await server.send_raw(b"Content-Length: 999999999999\r\n\r\n")
    await server.send_raw(frame({"jsonrpc": "2.0", "id": 99, "method": "shutdown"}))
    server.proc.stdin.close()
    assert await server.exit_code() == 1
    log = server.log()
    assert "MemoryError" not in log
    assert "refused a message of 999999999999 bytes" in log
    assert "the stream ended 999999999" in log


@pytest.mark.parametrize("how", ["option", "environment"])
async def test_a_message_over_the_limit_is_skipped_and_the_next_one_answered(
    spawn: Spawn, how: str
) -> None:
    args, env = (
        (("--max-message-mb", "1"), {})
        if how == "option"
        else ((), {"DSPY_LSP_MAX_MESSAGE_MB": "1"})
    )
    server = await initialized(await spawn(*args, **env))
    padding = "x" * (2 << 20)
    huge = {"command": "dspy-lsp.status", "arguments": [padding]}
    await server.send_raw(
        frame({"jsonrpc": "2.0", "id": 7, "method": "workspace/executeCommand", "params": huge})
    )
    assert await server.client.request("shutdown", None, ANSWER_S) is None
    assert "refused a message of 2097" in server.log()
    await server.client.notify("exit", None)
    assert await server.exit_code() == 0


async def test_over_tcp_a_message_over_the_limit_is_skipped_too(tmp_path: Path) -> None:
    """The TCP transport reads past its handshake as stdio does: a 2 MB didOpen is refused."""
    token = "t" * 32
    server = TcpServer(tmp_path, **{TOKEN_ENV: token, "DSPY_LSP_MAX_MESSAGE_MB": "1"})
    try:
        client, _ = await asyncio.to_thread(server.authenticate, {"token": token})
        item = {"uri": URI, "languageId": "python", "version": 1, "text": "x = 1\n" * 400_000}
        client.notify("textDocument/didOpen", {"textDocument": item})
        info = await asyncio.to_thread(client.debug_info)
        assert info["open_documents"] == 0
        client.close()
    finally:
        server.process.kill()
        stderr = server.process.communicate(timeout=ANSWER_S)[1].decode()
    assert "refused a message of 2800" in stderr


async def test_an_unusable_message_limit_stops_the_server_with_a_message(spawn: Spawn) -> None:
    server = await spawn(DSPY_LSP_MAX_MESSAGE_MB="lots")
    server.proc.stdin.close()
    assert await server.exit_code() == 2
    assert "DSPY_LSP_MAX_MESSAGE_MB must be a whole number of megabytes" in server.log()


async def test_a_body_longer_than_its_content_length_costs_one_message_not_the_session(
    spawn: Spawn,
) -> None:
    server = await initialized(await spawn())
    body = json.dumps({"jsonrpc": "2.0", "id": 5, "method": "shutdown"}).encode()
    await server.send_raw(b"Content-Length: %d\r\n\r\n" % (len(body) - 8) + body)
    assert await server.client.request("shutdown", None, ANSWER_S) is None
    assert "skipped 8 bytes that belong to no message" in server.log()
    await server.client.notify("exit", None)
    assert await server.exit_code() == 0


def chunks_of(data: bytes, size: int) -> Any:
    """A ``framing.Read`` over ``data`` that never returns more than ``size`` bytes."""
    view = memoryview(data)

    async def read(n: int) -> bytes:
        nonlocal view
        head, view = view[: min(n, size)], view[min(n, size) :]
        return bytes(head)

    return read


async def bodies(data: bytes, size: int, limit: int = 1 << 20) -> list[bytes]:
    from dspy_lsp.server.lsp.framing import FrameReader

    frames, found = FrameReader(chunks_of(data, size), limit), []
    while (body := await frames.next()) is not None:
        found.append(body)
    return found


async def test_frames_split_anywhere_still_read_whole(caplog: pytest.LogCaptureFixture) -> None:
    """Whatever the reads return, in whatever case and order the headers come."""
    stream = (
        frame({"a": 1})
        + b"content-length: 2\r\nContent-Type: x\r\n\r\n{}"
        + b"Content-Type: x\r\nContent-Length: 2\r\n\r\n[]"
    )
    for size in (1, 2, 3, 7, 64):
        assert await bodies(stream, size) == [b'{"a": 1}', b"{}", b"[]"], size
    assert "skipped" not in caplog.text


async def test_a_header_is_found_after_any_amount_of_noise(
    caplog: pytest.LogCaptureFixture,
) -> None:
    noise = b"not a header " * 10_000  # far past where a header block could be this long
    assert await bodies(noise + frame({"a": 1}), 4096) == [b'{"a": 1}']
    assert f"skipped {len(noise)} bytes" in caplog.text


async def test_messages_read_together_are_handled_as_if_read_apart(spawn: Spawn) -> None:
    """An async handler (``initialized`` applying the options) starts before the next message
    is handled, as it did when each message waited for its own read."""
    server = await spawn()
    options = {"dspy-lsp": {"debounce_ms": 40}}
    params = {"processId": None, "rootUri": None, "capabilities": {}}
    await server.client.request(
        "initialize", {**params, "initializationOptions": options}, ANSWER_S
    )
    notification = frame({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    debug = {"command": "dspy-lsp.debugInfo"}
    info = await server.request_in_one_write(notification, "workspace/executeCommand", debug)
    assert info["settings"]["debounce_ms"] == 40


# -- the lifecycle ------------------------------------------------------------------------------
async def test_a_request_before_initialize_gets_server_not_initialized(spawn: Spawn) -> None:
    server = await spawn()
    with pytest.raises(RuntimeError, match="'code': -32002"):
        await server.client.request("textDocument/codeAction", code_action(0), ANSWER_S)
    await initialized(server)  # and the session can still begin
    await server.client.close()


async def test_a_request_after_shutdown_gets_invalid_request(spawn: Spawn) -> None:
    server = await initialized(await spawn())
    assert await server.client.request("shutdown", None, ANSWER_S) is None
    with pytest.raises(RuntimeError, match="'code': -32600"):
        await server.client.request("textDocument/codeAction", code_action(0), ANSWER_S)
    await server.client.notify("exit", None)
    assert await server.exit_code() == 0


async def test_exit_without_shutdown_exits_with_code_1(spawn: Spawn) -> None:
    server = await initialized(await spawn())
    await server.client.notify("exit", None)
    assert await server.exit_code() == 1
