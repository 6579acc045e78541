"""The HTTP transport under the tier's ``dspy.LM``: lm15's own, with a cap on the reply body.

lm15 (bundled with dspy 3.4) reads a whole reply into memory before anyone looks at it, and
dspy then parses it on the event loop: a 100 MB reply held the loop for tens of seconds. These
transports wrap lm15's and stop reading a body at ``max_bytes`` (counted after decoding), so
an oversized reply costs one bounded read and becomes a transport failure the breaker counts.
They are reachable only as ``RouterConfig(transport=...)``, hence ``capped_engines``.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from types import TracebackType
from typing import Any

from dspy._vendor.lm15.transports import (
    AsyncTransportResponse,
    ReadError,
    StdlibAsyncTransport,
    StdlibTransport,
    TransportRequest,
    TransportResponse,
)

REPLY_CAP_FLOOR = 1 << 20
BYTES_PER_TOKEN = 64  # far above any honest encoding of a token, JSON escapes included


def reply_cap_bytes(max_tokens: int) -> int:
    """The most body bytes a reply of ``max_tokens`` tokens may take: 1 MiB at least."""
    return max(REPLY_CAP_FLOOR, BYTES_PER_TOKEN * max_tokens)


class ReplyTooLarge(ReadError):
    """The reply body passed the cap: the rest is never read."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"reply body over {cap // 1024} KiB; the rest was not read")
        self.cap = cap


def _counted(chunks: Generator[bytes, None, None], cap: int) -> Iterator[bytes]:
    seen = 0
    with contextlib.closing(chunks):
        for chunk in chunks:
            seen += len(chunk)
            if seen > cap:
                raise ReplyTooLarge(cap)
            yield chunk


async def _acounted(chunks: AsyncGenerator[bytes, None], cap: int) -> AsyncIterator[bytes]:
    seen = 0
    async with contextlib.aclosing(chunks):
        async for chunk in chunks:
            seen += len(chunk)
            if seen > cap:
                raise ReplyTooLarge(cap)
            yield chunk


class CappedTransport:
    """lm15's blocking transport; a body past ``max_bytes`` raises ``ReplyTooLarge``."""

    def __init__(self, max_bytes: int, **options: Any) -> None:
        self._inner = StdlibTransport(**options)
        self._cap = max_bytes

    def stream(self, request: TransportRequest) -> TransportResponse:
        inner = self._inner.stream(request)
        return TransportResponse(
            status=inner.status,
            reason=inner.reason,
            headers=inner.headers,
            http_version=inner.http_version,
            chunks=_counted(iter(inner), self._cap),
            release=lambda _consumed: inner.close(),
        )

    def close(self) -> None:
        self._inner.close()


class CappedAsyncTransport:
    """lm15's asyncio transport, one per event loop (an lm15 pool belongs to the loop that
    opened it); a body past ``max_bytes`` raises ``ReplyTooLarge``."""

    def __init__(self, max_bytes: int, **options: Any) -> None:
        self._options = options
        self._cap = max_bytes
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )

    def stream(self, request: TransportRequest) -> _CappedStream:
        loop = asyncio.get_running_loop()
        inner = self._per_loop.get(loop)
        if inner is None:
            inner = self._per_loop[loop] = StdlibAsyncTransport(**self._options)
        return _CappedStream(inner.stream(request), self._cap)

    async def aclose(self) -> None:
        inner = self._per_loop.pop(asyncio.get_running_loop(), None)
        if inner is not None:
            await inner.aclose()


class _CappedStream:
    """``async with transport.stream(request) as response``, as lm15's providers use it."""

    def __init__(self, inner: Any, cap: int) -> None:
        self._inner = inner
        self._cap = cap
        self._response: AsyncTransportResponse | None = None

    async def __aenter__(self) -> AsyncTransportResponse:
        inner: AsyncTransportResponse = await self._inner.__aenter__()

        async def release(_consumed: bool) -> None:
            await inner.aclose()

        self._response = AsyncTransportResponse(
            status=inner.status,
            reason=inner.reason,
            headers=inner.headers,
            http_version=inner.http_version,
            chunks=_acounted(aiter(inner), self._cap),
            release=release,
        )
        return self._response

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._response is not None:
            await self._response.aclose()
        await self._inner.__aexit__(exc_type, exc, tb)


def capped_engines(provider: str, clients: dict[str, Any], max_bytes: int) -> tuple[Any, Any]:
    """dspy's own lm15 engines (sync, async) for ``provider``, configured as dspy configures
    them from the LM's client settings, over the capped transports."""
    from dspy.clients.engines.lm15_engine import AsyncLM15Engine, LM15Engine, timeouts_for
    from dspy.lm15 import RouterConfig

    options = RouterConfig(timeouts=timeouts_for(clients.get("timeout"))).transport_kwargs()
    url = clients.get("api_base") or clients.get("base_url")

    def config(transport: object) -> Any:
        return RouterConfig(
            api_keys={provider: clients["api_key"]} if "api_key" in clients else None,
            base_urls={provider: url} if url else None,
            transport=transport,
        )

    return (
        LM15Engine(config(CappedTransport(max_bytes, **options))),
        AsyncLM15Engine(config(CappedAsyncTransport(max_bytes, **options))),
    )
