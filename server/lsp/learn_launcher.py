"""Continuous learning from the server: after new feedback, a ``dspy-lsp learn`` child process.

The child decides (cheaply) whether to optimize and does so in its own process, so the editor
never waits; one at a time, and not more often than ``MIN_INTERVAL_S``. Its stdout is discarded:
the server's stdout is the JSON-RPC stream. A new active version reaches the server through the
programs watch, like one activated by hand.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..children import CLI, handover

if TYPE_CHECKING:
    from ..settings import Settings

log = logging.getLogger(__name__)
MIN_INTERVAL_S = 60.0


def learn_command(settings: Settings, workspace: Path, store: Path, programs: Path) -> list[str]:
    """``dspy-lsp learn`` with the server's resolved settings handed over whole: the child does
    not read the project's settings again, and editor-only settings (the key variable, the
    temperature, the timeout) reach the LM that ``optimize`` builds."""
    return [*CLI, "learn", "--workspace", str(workspace), *handover(settings, store, programs)]


class LearnLauncher:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last_start: float | None = None
        self.process: asyncio.subprocess.Process | None = None
        self.started = 0

    def busy(self) -> bool:
        recent = self._last_start is not None and self._clock() - self._last_start < MIN_INTERVAL_S
        return recent or (self.process is not None and self.process.returncode is None)

    async def start(self, command: list[str]) -> bool:
        """Start the child unless one runs or ran moments ago; True if started."""
        if self.busy():
            return False
        self._last_start = self._clock()
        try:
            self.process = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL
            )
        except OSError as exc:
            log.warning("could not start dspy-lsp learn: %s", exc)
            return False
        self.started += 1
        return True
