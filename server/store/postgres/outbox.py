"""The team feedback store's local queue: events acknowledged while the database was unreachable.

An event is acknowledged only once it is committed somewhere durable. When the team database
cannot be reached, that somewhere is this SQLite file under the user's data directory (synced
on every commit, like the feedback files), one per team database and project, so a queue left
by a killed server is found and sent by the next one that opens the same store. Every server of
that user and project shares it; each queued event keeps its idempotency key, so two servers
sending the same rows, or a crash between the database's commit and the row's removal here,
store it once.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..feedback_schema import COLUMNS
from ..paths import user_dir
from ..sqlite_file import LockedConnection, claim, immediate, open_database, retry_while_busy

TABLES = frozenset({"outbox"})

# MIGRATIONS[n] takes a queue from user_version n to n + 1. The event's columns are untyped:
# they hold what ``feedback_schema.to_row`` made, and are read back only to be sent.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE IF NOT EXISTS outbox ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " event_key TEXT NOT NULL UNIQUE,"
        " user_name TEXT NOT NULL,"
        f" {', '.join(COLUMNS)})",
    ),
)

_BUSY_TIMEOUT_S = 5.0
_INSERT = (
    f"INSERT INTO outbox (event_key, user_name, {', '.join(COLUMNS)})"
    f" VALUES (?, ?{', ?' * len(COLUMNS)})"
)
_SELECT = f"SELECT id, event_key, user_name, {', '.join(COLUMNS)} FROM outbox ORDER BY id LIMIT ?"


class OutboxTooNewError(sqlite3.DatabaseError):
    """The queue was written by a newer dspy-lsp."""


@dataclass(frozen=True)
class Queued:
    """One queued event: its place in the queue, its key, who recorded it, its row (``COLUMNS``
    order, already redacted)."""

    id: int
    event_key: str
    user: str
    row: tuple[object, ...]


def outbox_path(dsn: str, project: str, environ: Mapping[str, str] | None = None) -> Path:
    """``<data dir>/team-outbox/<hash of dsn and project>.sqlite3``: one queue per team store."""
    key = hashlib.sha256(f"{dsn}\0{project}".encode()).hexdigest()[:16]
    return user_dir("data", environ) / "team-outbox" / f"{key}.sqlite3"


class Outbox(LockedConnection):
    """The queue at ``path``, created if missing; raises ``sqlite3.Error`` or ``OSError`` when it
    cannot be used, and ``sqlite_file.ForeignFileError`` for a file that is not ours."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        claim(path, TABLES)
        self._conn: sqlite3.Connection | None = retry_while_busy(
            lambda: open_database(
                path,
                migrations=MIGRATIONS,
                too_new=lambda found: OutboxTooNewError(f"{path}: queue version {found}"),
                timeout_s=_BUSY_TIMEOUT_S,
                durable=True,
            ),
            _BUSY_TIMEOUT_S,
        )

    def put(self, event_key: str, user: str, row: Sequence[object]) -> int:
        """Queue one event; it is on disk when this returns. Its place in the queue."""
        with self._lock:
            conn = self._connection()
            with immediate(conn):
                rowid = conn.execute(_INSERT, (event_key, user, *row)).lastrowid
        assert rowid is not None  # always set by an INSERT
        return rowid

    def peek(self, limit: int) -> list[Queued]:
        """The oldest ``limit`` queued events, oldest first."""
        with self._lock:
            rows = self._connection().execute(_SELECT, (limit,)).fetchall()
        return [Queued(rowid, key, user, tuple(row)) for rowid, key, user, *row in rows]

    def remove(self, ids: Sequence[int]) -> None:
        """Forget events the database has committed (removing one twice is harmless)."""
        with self._lock:
            conn = self._connection()
            with immediate(conn):
                conn.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])

    def count(self) -> int:
        with self._lock:
            return int(self._connection().execute("SELECT count(*) FROM outbox").fetchone()[0])

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise sqlite3.ProgrammingError(f"the queue {self.path} is closed")
        return self._conn
