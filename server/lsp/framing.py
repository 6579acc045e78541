"""``Content-Length`` framing of the JSON-RPC stream, read in bounded chunks.

pygls reads a header line and then the announced body in one call: ``Content-Length:
999999999999`` made it allocate that much and die with ``MemoryError``, and a body shorter than
announced left it reading bodies as headers for the rest of the session. Here nothing is read
whole but a body within the limit. A larger one is refused and skipped, exactly its announced
length, chunk by chunk, so a client sending a huge but honest message (a generated file)
keeps its session; the stream then ends inside it only if the length was a lie, which ends the
session with a message. Bytes that are not a header are skipped up to the next
``Content-Length``, even one in the middle of a line, which is where a short body leaves it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping

log = logging.getLogger(__name__)

LIMIT_ENV = "DSPY_LSP_MAX_MESSAGE_MB"
DEFAULT_LIMIT_MB = 64
CHUNK = 64 * 1024
# A header block (Content-Length, perhaps Content-Type) is tens of bytes; past this, the
# "header" found was text inside something else.
MAX_HEADER_BYTES = 8 * 1024
_HEADER = b"content-length:"
# Whole header lines (a token, a colon, a value): what may precede Content-Length in a block.
_HEADER_LINES = re.compile(rb"(?:[!-9;-~]+:[^\r\n]*\r\n)*")

Read = Callable[[int], Awaitable[bytes]]
"""Up to ``n`` bytes of the stream as soon as some are there; ``b""`` at its end."""


class StreamTruncated(Exception):
    """The stream ended inside a message: the client died mid-write or lied about a length."""


def message_limit(option_mb: int | None, env: Mapping[str, str]) -> int:
    """The largest body accepted, in bytes: ``--max-message-mb``, else the environment, else
    64 MB. Raises ``ValueError`` naming the source if the value is not a positive integer."""
    if option_mb is not None:
        source, value = "--max-message-mb", str(option_mb)
    else:
        source, value = LIMIT_ENV, env.get(LIMIT_ENV, str(DEFAULT_LIMIT_MB))
    if not value.strip().isdigit() or int(value) < 1:
        raise ValueError(f"{source} must be a whole number of megabytes, at least 1: {value!r}")
    return int(value) << 20


class FrameReader:
    """The bodies of a ``Content-Length``-framed stream; memory held is bounded by the limit."""

    def __init__(self, read: Read, limit: int) -> None:
        self._read = read
        self._limit = limit
        self._buffer = bytearray()
        self._garbage = 0  # bytes skipped since the last header, reported once

    async def next(self) -> bytes | None:
        """The next body within the limit; ``None`` where the stream ends between messages.

        Raises ``StreamTruncated`` where it ends inside one.
        """
        while (length := await self._header()) is not None:
            if length <= self._limit:
                return await self._take(length)
            log.error(
                "refused a message of %d bytes: the limit is %d MB (--max-message-mb or %s); "
                "skipping its body",
                length,
                self._limit >> 20,
                LIMIT_ENV,
            )
            await self._discard(length)
        return None

    async def _header(self) -> int | None:
        """Find the next header block and consume it; its length, or ``None`` at the end."""
        while True:
            at = self._find_header()
            end = self._buffer.find(b"\r\n\r\n", at) if at >= 0 else -1
            if end >= 0:
                length = self._consume_header(at, end)
                if length is not None:
                    return length
            elif len(self._buffer) - max(at, 0) > MAX_HEADER_BYTES:
                # No header block completes here: skip to where the next one could start.
                self._skip(at + len(_HEADER) if at >= 0 else len(self._buffer) - len(_HEADER))
            elif not await self._fill():
                if at >= 0:
                    raise StreamTruncated("the stream ended inside a message's headers")
                self._skip(len(self._buffer))
                self._report_garbage()
                return None

    def _find_header(self) -> int:
        """Where the next Content-Length starts, however it is spelt; only what precedes the
        usual spelling (nothing, normally) is case-folded to look."""
        usual = self._buffer.find(b"Content-Length:")
        folded = self._buffer[: usual if usual >= 0 else len(self._buffer)].lower().find(_HEADER)
        return usual if folded < 0 else folded

    def _consume_header(self, at: int, end: int) -> int | None:
        """Consume the block from ``at`` to ``end`` and what precedes it; its length, if valid."""
        before = bytes(self._buffer[:at])
        value = bytes(self._buffer[at + len(_HEADER) : end]).split(b"\r\n", 1)[0].strip()
        del self._buffer[: end + 4]
        if _HEADER_LINES.fullmatch(before.lstrip()) is None:  # not other headers: garbage
            self._garbage += at
        self._report_garbage()
        if value.isdigit() and len(value) <= 20:
            return int(value)
        log.warning("skipped a message whose Content-Length is not a number: %r", value[:40])
        return None

    def _skip(self, count: int) -> None:
        """Drop ``count`` bytes that are no part of a message (blank lines do not count)."""
        if bytes(self._buffer[:count]).strip():
            self._garbage += count
        del self._buffer[:count]

    def _report_garbage(self) -> None:
        if self._garbage:
            log.warning(
                "skipped %d bytes that belong to no message (a body longer than its "
                "Content-Length?); reading on from the next header",
                self._garbage,
            )
            self._garbage = 0

    async def _fill(self) -> bool:
        chunk = await self._read(CHUNK)
        self._buffer += chunk
        return bool(chunk)

    async def _take(self, length: int) -> bytes:
        while len(self._buffer) < length:
            if not await self._fill():
                raise StreamTruncated(
                    f"the stream ended after {len(self._buffer)} of a message's {length} bytes"
                )
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        return body

    async def _discard(self, length: int) -> None:
        """Consume ``length`` bytes without ever holding more than one chunk of them."""
        held = min(length, len(self._buffer))
        del self._buffer[:held]
        remaining = length - held
        while remaining > 0:
            chunk = await self._read(min(remaining, CHUNK))
            if not chunk:
                raise StreamTruncated(
                    f"the stream ended {remaining} bytes before the end of a refused message"
                )
            remaining -= len(chunk)
