"""An authenticated, single-client TCP transport in front of the pygls server.

pygls's ``start_tcp`` hands every local connection to the one protocol object, so any local
process could read open documents, reconfigure the server or stop it with a bare connect.
Here the listener binds to loopback only, and a connection reaches pygls only after its first
message, an ``initialize`` request, presents the shared token in ``initializationOptions``.
The rest of the stream, that first message included, is read as stdio is (``framing.py``,
``protocol_guard.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import ipaddress
import json
import logging
import os
import socket
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .framing import FrameReader, Read, StreamTruncated

if TYPE_CHECKING:
    from .guarded_server import GuardedServer

log = logging.getLogger(__name__)

TOKEN_ENV = "DSPY_LSP_TCP_TOKEN"
TOKEN_OPTION = "token"
# Generous for a loaded machine; a connection that sends nothing is dropped after it.
HANDSHAKE_TIMEOUT_S = 30.0
# Editors' initialize requests are tens of kilobytes; this only bounds what a stranger can make
# the server buffer before it has proven anything.
MAX_HANDSHAKE_BYTES = 4 << 20
MAX_HEADER_LINES = 8


class TcpSetupError(Exception):
    """The TCP transport refuses to start; the message says why and what to do instead."""


@dataclass(frozen=True)
class TcpConfig:
    """Where to listen and the token a client must present (kept out of ``repr``)."""

    hosts: tuple[str, ...]
    port: int
    token: str = field(repr=False)


def tcp_config(endpoint: str, token_file: Path | None, env: Mapping[str, str]) -> TcpConfig:
    """Validate ``HOST:PORT`` and find the token, refusing anything not safe to serve."""
    host, _, port = endpoint.rpartition(":")
    if not port.isdigit() or int(port) > 65535:
        raise TcpSetupError("--tcp takes HOST:PORT, e.g. 127.0.0.1:2087")
    return TcpConfig(loopback_hosts(host or "127.0.0.1"), int(port), read_token(token_file, env))


def loopback_hosts(host: str) -> tuple[str, ...]:
    """The addresses to bind for ``host``, which must be loopback: nobody else may connect."""
    if host.lower() == "localhost":
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise TcpSetupError(f"cannot resolve localhost: {exc}") from exc
        addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    else:
        addresses = (host.removeprefix("[").removesuffix("]"),)
    if not addresses or not all(_is_loopback(address) for address in addresses):
        raise TcpSetupError(
            f"refusing to listen on {host!r}: --tcp accepts only loopback hosts "
            "(127.0.0.0/8, ::1 or localhost)"
        )
    return addresses


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:  # a host name other than localhost: never resolved, so never trusted
        return False


def read_token(token_file: Path | None, env: Mapping[str, str]) -> str:
    """The token from ``--token-file`` or the environment; exactly one must provide it."""
    from_env = env.get(TOKEN_ENV, "")
    if token_file is not None and from_env:
        raise TcpSetupError(
            f"give the token either with --token-file or with ${TOKEN_ENV}, not both"
        )
    token = _read_token_file(token_file) if token_file is not None else from_env.strip()
    if not token:
        raise TcpSetupError(
            "serving over TCP needs a token: set the environment variable "
            f"{TOKEN_ENV}, or pass --token-file PATH (a regular file owned by you, mode 600); "
            'the client sends it as initializationOptions {"token": "..."}'
        )
    return token


def _read_token_file(path: Path) -> str:
    """Read the token only from a private regular file, checked on the descriptor it reads."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK  # NONBLOCK: a FIFO must not hang us
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise TcpSetupError(
                f"token file {path} is a symlink; point at the file itself"
            ) from exc
        raise TcpSetupError(f"cannot read token file {path}: {exc.strerror}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise TcpSetupError(f"token file {path} is not a regular file")
        if info.st_uid != os.getuid():
            raise TcpSetupError(f"token file {path} is not owned by the current user")
        if info.st_mode & 0o077:
            raise TcpSetupError(
                f"token file {path} is accessible by group or others; run chmod 600 on it"
            )
        token = os.read(fd, 64 * 1024).decode().strip()
    except UnicodeDecodeError as exc:
        raise TcpSetupError(f"token file {path} is not UTF-8 text") from exc
    finally:
        os.close(fd)
    if not token:
        raise TcpSetupError(f"token file {path} is empty")
    return token


def serve_tcp(server: GuardedServer, config: TcpConfig, limit: int) -> None:
    """Serve one authenticated client, then return; unauthenticated connections are dropped.

    Messages past the handshake are refused above ``limit`` bytes, as on stdio.
    """
    asyncio.run(_Listener(server, config, limit).run())


class _Listener:
    """Accept connections until one authenticates; refuse all others, before and after."""

    def __init__(self, server: GuardedServer, config: TcpConfig, limit: int) -> None:
        self._server = server
        self._config = config
        self._limit = limit
        self._claimed = False
        self._finished = asyncio.Event()

    async def run(self) -> None:
        try:
            listener = await asyncio.start_server(
                self._on_connection, list(self._config.hosts), self._config.port
            )
        except OSError as exc:
            raise TcpSetupError(f"cannot listen on port {self._config.port}: {exc}") from exc
        log.info("serving on %s", ", ".join(str(s.getsockname()) for s in listener.sockets))
        async with listener:
            await self._finished.wait()

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if self._claimed:
            await _refuse(writer, "a client is already connected")
            return
        try:
            frame = await asyncio.wait_for(_read_frame(reader), HANDSHAKE_TIMEOUT_S)
            replay = _authenticated_initialize(frame, self._config.token)
        except (OSError, EOFError, ValueError, RecursionError) as exc:  # timeouts are OSErrors
            await _refuse(writer, f"unreadable handshake ({type(exc).__name__})")
            return
        if replay is None or self._claimed:
            await _refuse(writer, "no valid token in initialize" if replay is None else "busy")
            return
        self._claimed = True
        log.info("authenticated TCP client connected")
        try:
            self._server.protocol.set_writer(writer)
            await self._server.protocol.serve(FrameReader(_replaying(replay, reader), self._limit))
        except (StreamTruncated, OSError) as exc:  # cut mid-message, or reset
            log.error("closing the TCP connection: %s", exc)
        finally:
            self._server.shutdown()
            self._finished.set()


async def _refuse(writer: asyncio.StreamWriter, reason: str) -> None:
    log.warning("closed a TCP connection: %s", reason)
    writer.close()
    with contextlib.suppress(OSError):  # the peer may have reset it already
        await writer.wait_closed()


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    """The body of one ``Content-Length``-framed message, bounded in size and header count."""
    length: int | None = None
    for _ in range(MAX_HEADER_LINES):
        line = await reader.readline()
        if not line.endswith(b"\r\n"):
            raise EOFError("connection closed inside the headers")
        if line == b"\r\n":
            break
        name, _, value = line.decode("ascii").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    else:
        raise ValueError("too many header lines")
    if length is None or not 0 < length <= MAX_HANDSHAKE_BYTES:
        raise ValueError("missing or unacceptable Content-Length")
    return await reader.readexactly(length)


def _authenticated_initialize(body: bytes, token: str) -> bytes | None:
    """The message re-framed without its token if it is an ``initialize`` presenting ``token``."""
    message: Any = json.loads(body)
    if not (
        isinstance(message, dict)
        and message.get("jsonrpc") == "2.0"
        and message.get("method") == "initialize"
        and isinstance(message.get("id"), int | str)
        and isinstance(params := message.get("params"), dict)
        and isinstance(options := params.get("initializationOptions"), dict)
        and isinstance(presented := options.pop(TOKEN_OPTION, None), str)
        and hmac.compare_digest(presented.encode(), token.encode())
    ):
        return None
    if not options:  # the client sent only the token: the server sees no options at all
        del params["initializationOptions"]
    replay = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(replay) + replay


def _replaying(prefix: bytes, reader: asyncio.StreamReader) -> Read:
    """Reads that yield ``prefix`` (the re-framed ``initialize``) before the socket's bytes."""
    pending = prefix

    async def read(n: int) -> bytes:
        nonlocal pending
        if not pending:
            return await reader.read(n)
        head, pending = pending[:n], pending[n:]
        return head

    return read
