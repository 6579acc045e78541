"""Cancellable ``$/progress`` for long work the user started (a workspace run, a fix loop).

Clients that do not announce ``window.workDoneProgress`` get none of it: the work still runs,
and ``cancelled`` stays False (the request itself can still be cancelled).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

from lsprotocol import types

if TYPE_CHECKING:
    from .session import Session

T = TypeVar("T")
_POLL_S = 0.1


class CancelledByUser(Exception):
    """The user pressed cancel on the progress (not the protocol's request cancellation)."""


class Progress:
    def __init__(self, ls: Session) -> None:
        self._progress = ls.work_done_progress
        window = ls.client_capabilities.window
        self._shown = bool(window and window.work_done_progress)
        self._token = str(uuid.uuid4())

    async def begin(self, title: str, message: str | None = None) -> None:
        if not self._shown:
            return
        await self._progress.create_async(self._token)
        self._progress.begin(
            self._token,
            types.WorkDoneProgressBegin(
                title=title, cancellable=True, message=message, percentage=0
            ),
        )

    def report(self, message: str, percentage: int | None = None) -> None:
        if self._shown:
            self._progress.report(
                self._token, types.WorkDoneProgressReport(message=message, percentage=percentage)
            )

    def end(self, message: str) -> None:
        if self._shown:
            self._progress.end(self._token, types.WorkDoneProgressEnd(message=message))

    def cancelled(self) -> bool:
        """Whether the user pressed cancel on the progress."""
        state = self._progress.tokens.get(self._token)
        return bool(state is not None and state.cancelled())

    async def until_cancelled(self, work: Awaitable[T]) -> T:
        """``work``, unless the user cancels the progress first: then it is cancelled and
        ``CancelledByUser`` raised."""
        task = asyncio.ensure_future(work)
        try:
            while not task.done():
                if self.cancelled():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    raise CancelledByUser
                await asyncio.wait([task], timeout=_POLL_S)
            return task.result()
        finally:
            task.cancel()  # the caller was cancelled: so is the work
