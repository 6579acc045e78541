"""When the team database is down, stores that can do without it (the LM cache, telemetry)
stop asking for a while instead of waiting out a connection timeout on every call.

An outage is logged once when it starts and once when it ends, not on every call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

RETRY_AFTER_S = 30.0
"""How long a store skips the database after a failed call."""


def database_errors() -> tuple[type[BaseException], ...]:
    """What a call to the team database raises when it cannot serve it: down, refused,
    a pool closed or timed out, a schema this dspy-lsp does not know."""
    import psycopg

    from .schema import TeamSchemaTooNew

    return (psycopg.Error, TeamSchemaTooNew)


class Outage:
    """Whether ``what`` should skip the database now; thread-safe."""

    def __init__(
        self,
        what: str,
        retry_after_s: float = RETRY_AFTER_S,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._what = what
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._until: float | None = None
        self._down = False

    @property
    def skipping(self) -> bool:
        """True while the last failure is more recent than ``retry_after_s``."""
        with self._lock:
            return self._until is not None and self._clock() < self._until

    def failed(self, exc: BaseException) -> None:
        """A call failed: an unreachable database (or one this dspy-lsp cannot use) starts an
        outage; any other error (a value the database refused) concerns that call only."""
        import psycopg

        if isinstance(exc, psycopg.Error) and not isinstance(exc, psycopg.OperationalError):
            log.warning("%s: the team database refused a call: %s", self._what, exc)
            return
        with self._lock:
            self._until = self._clock() + self._retry_after_s
            if not self._down:
                self._down = True
                log.warning(
                    "%s: the team database cannot be used (%s); trying again every %g s",
                    self._what,
                    exc,
                    self._retry_after_s,
                )

    def succeeded(self) -> None:
        with self._lock:
            self._until = None
            if self._down:
                self._down = False
                log.warning("%s: the team database is back", self._what)
