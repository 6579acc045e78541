"""SQLite files that several server processes share: opening, locking, recovery, closing.

The LM cache and the feedback store differ in durability and in what they do with a bad file,
but not in how they open, lock, migrate and close one; that part lives here once.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self


class LockedConnection:
    """One connection behind a lock, closed once; a context manager that closes it."""

    _lock: threading.Lock
    _conn: sqlite3.Connection | None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def retry_while_busy(
    connect: Callable[[], sqlite3.Connection], timeout_s: float
) -> sqlite3.Connection:
    """``connect()``, tried again while SQLite reports busy, up to ``timeout_s``.

    The busy timeout does not cover opening: switching a new file to WAL escalates a shared lock
    to an exclusive one, and SQLite answers SQLITE_BUSY at once, without waiting, when another
    process is escalating too (waiting could deadlock). Several servers opening a new file
    together hit that. Each attempt starts afresh (migrations commit per step), so retrying is
    safe.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return connect()
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
            if code != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
        time.sleep(0.01)


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


@contextlib.contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction that takes the lock up front.

    A deferred one that reads first and then writes can fail at once with SQLITE_BUSY when
    another process wrote in between; taking the lock first lets the busy timeout do its work.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise


def is_corrupt(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def is_bad_file(path: Path, exc: BaseException) -> bool:
    """Whether the file itself is the problem (as opposed to its directory, or a busy lock)."""
    if is_corrupt(exc):
        return True
    return path.is_file() and not os.access(path, os.R_OK | os.W_OK)


def move_aside(path: Path) -> Path | None:
    """Rename the file (and its WAL side files) to ``<name>.corrupt-<timestamp>``.

    The side files go too: a stale -wal left next to a fresh database would be replayed into it.
    Returns None when the file is already gone (another process moved it first).
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    try:
        path.rename(target)
    except FileNotFoundError:
        return None
    for suffix in ("-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + suffix).rename(target.with_name(target.name + suffix))
    return target
