"""One pool per team database in a process, migrated once, shared by every store that uses it.

The feedback store, the LM cache, telemetry and the program registry of every project a server
has open share it: one process holds a handful of connections, not one set per project.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from .driver import open_pool
from .schema import migrate

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool


class TeamStore:
    """The pool on ``dsn``; ``ensure_schema`` migrates on first use, so a database that is down
    at start-up is migrated when it comes back."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.pool: ConnectionPool = open_pool(dsn)
        self._migrated = False
        self._lock = threading.Lock()

    def ensure_schema(self) -> None:
        """Raises the driver's errors when the database cannot be reached."""
        with self._lock:
            if self._migrated:
                return
            with self.pool.connection() as conn:
                migrate(conn)
            self._migrated = True

    def close(self) -> None:
        self.pool.close()


_OPEN: dict[str, TeamStore] = {}
_OPEN_LOCK = threading.Lock()


def team_store(dsn: str) -> TeamStore:
    """The process's pool on ``dsn``, opened on first use."""
    with _OPEN_LOCK:
        store = _OPEN.get(dsn)
        if store is None:
            store = _OPEN[dsn] = TeamStore(dsn)
        return store


def close_team_stores() -> None:
    """At exit: closes every pool (their threads would otherwise keep the process alive)."""
    with _OPEN_LOCK:
        for store in _OPEN.values():
            store.close()
        _OPEN.clear()
