"""When analysis runs: per-document debounce, work off the event loop, stale results dropped.

Every job carries the document version it was cut from. A newer change cancels the pending job
for that document (other documents are untouched), and a result is published only if the
document is still at the version the job analysed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

R = TypeVar("R")


@dataclass(frozen=True)
class Snapshot:
    uri: str
    document_version: int | None
    text: str


class Scheduler(Generic[R]):
    def __init__(
        self,
        analyze: Callable[[Snapshot], R],
        publish: Callable[[Snapshot, R], Awaitable[None] | None],
        current_version: Callable[[str], int | None],
        workers: int = 1,
    ) -> None:
        self._analyze = analyze
        self._publish = publish
        self._current_version = current_version
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dspy-lsp")
        self._pending: dict[str, asyncio.Task[None]] = {}
        self.dropped_stale = 0
        self.published = 0

    def schedule(self, snapshot: Snapshot, delay_s: float) -> asyncio.Task[None]:
        """(Re)start the debounce timer for this document."""
        self.cancel(snapshot.uri)
        task = asyncio.get_running_loop().create_task(self._run(snapshot, delay_s))
        self._pending[snapshot.uri] = task
        task.add_done_callback(lambda t, uri=snapshot.uri: self._forget(uri, t))
        return task

    async def run_now(self, snapshot: Snapshot) -> R:
        """Analyse immediately (commands); the result is published as usual."""
        self.cancel(snapshot.uri)
        return await self._analyse_and_publish(snapshot)

    def cancel(self, uri: str) -> None:
        task = self._pending.pop(uri, None)
        if task is not None:
            task.cancel()

    def shutdown(self) -> None:
        for uri in list(self._pending):
            self.cancel(uri)
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _forget(self, uri: str, task: asyncio.Task[None]) -> None:
        if self._pending.get(uri) is task:
            del self._pending[uri]

    async def _run(self, snapshot: Snapshot, delay_s: float) -> None:
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        try:
            await self._analyse_and_publish(snapshot)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("analysis of %s failed", snapshot.uri)

    async def _analyse_and_publish(self, snapshot: Snapshot) -> R:
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._executor, self._analyze, snapshot)
        if self._current_version(snapshot.uri) != snapshot.document_version:
            self.dropped_stale += 1
            return result
        outcome = self._publish(snapshot, result)
        if outcome is not None:
            await outcome
        self.published += 1
        return result
