"""The pygls server the session builds on: the guarded protocol (``protocol_guard.py``), stdin
read in bounded chunks (``framing.py``), and the exit code LSP asks for.

pygls's ``start_io`` reads stdin on its thread pool, which the interpreter joins at exit (a read
blocked on an idle client holds the process), and swallows the ``SystemExit`` of ``exit``, so a
server told to exit without ``shutdown`` still exited 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sys
import threading
from typing import BinaryIO

from lsprotocol import types
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer

from .framing import DEFAULT_LIMIT_MB, FrameReader, StreamTruncated
from .protocol_guard import GuardedProtocol

log = logging.getLogger(__name__)


class GuardedServer(LanguageServer):
    """A pygls ``LanguageServer`` on the guarded protocol, serving stdio with bounded reads."""

    protocol: GuardedProtocol

    def __init__(
        self,
        name: str,
        version: str,
        notebook_document_sync: types.NotebookDocumentSyncOptions | None = None,
    ) -> None:
        super().__init__(
            name,
            version,
            protocol_cls=GuardedProtocol,
            notebook_document_sync=notebook_document_sync,
        )

    def start_io(
        self,
        stdin: BinaryIO | None = None,
        stdout: BinaryIO | None = None,
        limit: int = DEFAULT_LIMIT_MB << 20,
    ) -> int:
        """Serve until ``exit`` or the end of stdin; the exit code (1 for ``exit`` without
        ``shutdown``, or a stream that ended inside a message)."""
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        frames = FrameReader(StdinChunks(stdin or sys.stdin.buffer).read, limit)
        try:
            asyncio.run(self.protocol.serve(frames))
        except SystemExit as exc:  # pygls's ``exit`` handler
            return exc.code if isinstance(exc.code, int) else 1
        except (StreamTruncated, OSError) as exc:
            log.error("stopping: %s", exc)
            return 1
        except KeyboardInterrupt:
            return 1
        finally:
            self.shutdown()
        return 0


class StdinChunks:
    """Reads of a blocking stream, each up to ``n`` bytes, made on one daemon thread."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._requests: queue.SimpleQueue[tuple[int, asyncio.Future[bytes]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    async def read(self, n: int) -> bytes:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="dspy-lsp-stdin", daemon=True)
            self._thread.start()
        self._requests.put((n, future))
        return await future

    def _serve(self) -> None:
        while True:
            n, future = self._requests.get()
            try:
                outcome: bytes | Exception = self._stream.read1(n)
            except Exception as exc:  # a closed or broken stdin: the reader decides
                outcome = exc
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
                future.get_loop().call_soon_threadsafe(_settle, future, outcome)


def _settle(future: asyncio.Future[bytes], outcome: bytes | Exception) -> None:
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
