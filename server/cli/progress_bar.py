"""``checked 120/255 files`` (or ``fixing``) on stderr while a long ``check`` runs, gone when it ends.

Shown only on a terminal, and only once a run has taken a second: a quick run, a CI log or a
test's captured stderr never sees it. rich is imported only then.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress

SHOW_AFTER_S = 1.0


class ProgressBar:
    def __init__(
        self, total: int, done: int = 0, verb: str = "checked", stream: TextIO | None = None
    ) -> None:
        self.total = total
        self.verb = verb
        self.done = done
        self._stream = stream or sys.stderr
        self._started = time.monotonic()
        self._shown: Progress | None = None
        self._undecided = True

    def advance(self) -> None:
        self.done += 1
        if self._undecided and time.monotonic() - self._started >= SHOW_AFTER_S:
            self._undecided = False
            self._shown = self._show() if self._stream.isatty() else None
        if self._shown is not None:
            self._shown.update(self._shown.task_ids[0], completed=self.done)

    def _show(self) -> Progress:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        bar = Progress(
            TextColumn(f"{self.verb} {{task.completed}}/{{task.total}} files"),
            BarColumn(),
            console=Console(file=self._stream),
            transient=True,
        )
        bar.add_task("check", total=self.total, completed=self.done)
        bar.start()
        return bar

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._shown is not None:
            self._shown.stop()
            self._shown = None
