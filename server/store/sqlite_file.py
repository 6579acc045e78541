"""SQLite files that several server processes share: opening, locking, recovery, closing.

The LM cache and the feedback store differ in durability and in what they do with a bad file,
but not in how they open, lock, migrate and close one; that part lives here once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from .closing import ClosesOnExit

log = logging.getLogger(__name__)


class LockedConnection(ClosesOnExit):
    """One connection behind a lock, closed once; a context manager that closes it."""

    _lock: threading.Lock
    _conn: sqlite3.Connection | None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None


def retry_while_busy(
    connect: Callable[[], sqlite3.Connection], timeout_s: float
) -> sqlite3.Connection:
    """``connect()``, tried again while SQLite reports busy, up to ``timeout_s``.

    The busy timeout does not cover all of opening: switching a file's journal mode escalates a
    shared lock to an exclusive one, and SQLite answers SQLITE_BUSY at once, without waiting,
    when another process is escalating too (waiting could deadlock). Several servers opening one
    file together hit that. Each attempt starts afresh (migrations commit per step), so retrying
    is safe.
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


def open_database(
    path: Path | None,
    *,
    migrations: Sequence[Sequence[str]],
    too_new: Callable[[int], Exception],
    timeout_s: float,
    durable: bool,
) -> sqlite3.Connection:
    """A connection to a dspy-lsp database at ``path`` (None: in memory), migrated and stamped.

    Transactions are explicit (``isolation_level=None``; see ``immediate``). A file from a newer
    dspy-lsp raises ``too_new(found)`` before anything is written to it. ``durable`` syncs every
    commit (FULL, and F_FULLFSYNC on macOS); a cache does not sync at all (OFF): a killed process
    loses nothing the OS has, a power cut may corrupt the file, and a cache moves a corrupt file
    aside and starts again. With a rollback journal every synced commit costs several fsyncs
    (27 ms a cache put on this machine's disk, under 1 ms unsynced), which an LM cache need not
    pay. ``path`` must have been ``claim``ed.

    Nothing of the file is mapped into memory: a rollback journal, not WAL, and no mmap. WAL maps
    its index (the -shm file), and a -shm truncated under a running process (a clean-up script, a
    sync tool) turns SQLite's next access into SIGBUS, which kills the editor's server; read and
    written through calls, damaged files are errors SQLite reports. What WAL would add, readers
    running during a commit, is worth nothing at our rates (one write per user action or per LM
    answer); the busy timeout covers the few milliseconds a commit holds its lock.
    """
    options = {"timeout": timeout_s, "isolation_level": None, "check_same_thread": False}
    conn = sqlite3.connect(":memory:", **options) if path is None else connect(path, **options)
    try:
        found = user_version(conn)
        if found > len(migrations):
            raise too_new(found)
        if path is not None:
            conn.execute("PRAGMA mmap_size = 0")  # whatever the build's default
            _leave_wal(conn, path, timeout_s)
            conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'OFF'}")
            if durable:
                conn.execute("PRAGMA fullfsync = ON")
        migrate(conn, migrations, too_new)
        stamp(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _leave_wal(conn: sqlite3.Connection, path: Path, timeout_s: float) -> None:
    """Use a rollback journal; a WAL file (written by an older dspy-lsp) is switched back.

    Switching needs the file to itself: while an older server holds it open in WAL, the switch
    waits briefly, then the file stays WAL for this connection (and a later open switches it).
    """
    conn.execute("PRAGMA busy_timeout = 100")
    try:
        conn.execute("PRAGMA journal_mode = DELETE")
    except sqlite3.OperationalError as exc:
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF != sqlite3.SQLITE_BUSY:
            raise
        log.warning("%s: still in WAL mode, another process has it open", path)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")


def migrate(
    conn: sqlite3.Connection,
    migrations: Sequence[Sequence[str]],
    too_new: Callable[[int], Exception],
) -> None:
    """Bring the file to ``len(migrations)``, one transaction per step; ``migrations[n]`` takes it
    from ``user_version`` n to n + 1. A newer file raises ``too_new(found)``, untouched.

    Each step commits with its version, so an interrupted upgrade resumes where it stopped. The
    version is read again under the write lock: another process may have run the step first,
    which makes running the migrations any number of times, from any number of processes, safe.
    """
    target = len(migrations)
    while (version := user_version(conn)) != target:
        if version > target:
            raise too_new(version)
        with immediate(conn):
            if user_version(conn) != version:
                continue  # another process moved on; look again
            for statement in migrations[version]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")


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
    target = beside(path, "corrupt")
    try:
        path.rename(target)
    except FileNotFoundError:
        return None
    for suffix in ("-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + suffix).rename(target.with_name(target.name + suffix))
    return target


def beside(path: Path, word: str) -> Path:
    """A new name next to ``path``: ``<name>.<word>-<timestamp>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return path.with_name(f"{path.name}.{word}-{stamp}")


def identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of what is at ``path``, not following a link; None when nothing is.

    Compared with what it was at open, it tells whether the file a connection writes to is still
    the one at its path: deleted or replaced, SQLite would go on writing to a file no one can
    find. Taken with ``lstat``, never by opening the file: closing any descriptor on a file drops
    every POSIX lock this process holds on it, SQLite's included.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    return info.st_dev, info.st_ino


def carry_rows(
    source: sqlite3.Connection, target: sqlite3.Connection, table: str, columns: Sequence[str]
) -> tuple[int, dict[int, int]]:
    """Copy the rows of ``table`` from ``source`` into ``target`` in one transaction.

    A row ``target`` already holds (the same ``columns``, under any id) is skipped; another keeps
    its id if that is free there, and gets a new one if not. Returns the number of rows added and
    the ids that differ in ``target`` (old to new).
    """
    names = ", ".join(columns)
    same = " AND ".join(f"{column} IS ?" for column in columns)
    match = f"SELECT id FROM {table} WHERE {same} ORDER BY id != ? LIMIT 1"  # its own id first
    taken = f"SELECT 1 FROM {table} WHERE id = ?"
    keep_id = f"INSERT INTO {table} (id, {names}) VALUES (?{', ?' * len(columns)})"
    new_id = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
    added, renamed = 0, dict[int, int]()
    with immediate(target):
        for rowid, *values in source.execute(f"SELECT id, {names} FROM {table} ORDER BY id"):
            there = target.execute(match, (*values, rowid)).fetchone()
            if there is not None:
                now = there[0]
            elif target.execute(taken, (rowid,)).fetchone() is None:
                target.execute(keep_id, (rowid, *values))
                now, added = rowid, added + 1
            else:
                now, added = target.execute(new_id, values).lastrowid, added + 1
            if now != rowid:
                renamed[rowid] = now
    return added, renamed


APPLICATION_ID = 0x44534C50  # "DSLP" in the header of every dspy-lsp database
_HEADER = b"SQLite format 3\x00"


class ForeignFileError(OSError):
    """The path holds something that is not a dspy-lsp database: it is left exactly as it is."""


def claim(path: Path, own_tables: frozenset[str]) -> None:
    """Make sure ``path`` is a dspy-lsp database, or a new file for one; never touch another.

    Creates a missing file (O_EXCL, O_NOFOLLOW, mode 0600). Raises ``ForeignFileError`` for a
    symbolic link, a non-regular file, or a file that is not ours: one that is not SQLite, has
    another application id, or (files from before the id) holds tables we did not create.
    """
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600))
        return
    except FileExistsError:
        pass
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise ForeignFileError(
            f"{path} is a symbolic link; dspy-lsp never follows one for its data"
        )
    if not stat.S_ISREG(info.st_mode):
        raise ForeignFileError(f"{path} is not a regular file")
    if info.st_size == 0:
        return  # nothing in it to lose; SQLite makes it a database
    with open(path, "rb") as handle:
        header = handle.read(100)
    app_id = int.from_bytes(header[68:72], "big") if len(header) >= 72 else -1
    if not header.startswith(_HEADER) or app_id not in (0, APPLICATION_ID):
        raise ForeignFileError(
            f"{path} exists and is not a dspy-lsp database; it was left untouched."
            " Move it away or choose another path."
        )
    if app_id == 0 and not _tables(path) <= own_tables | {"sqlite_sequence"}:
        raise ForeignFileError(
            f"{path} is another application's SQLite database; it was left untouched."
            " Choose another path."
        )


def is_ours(path: Path) -> bool:
    """Whether ``path`` is a regular file stamped with our application id (safe to move aside)."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return False
        with open(path, "rb") as handle:
            header = handle.read(72)
    except OSError:
        return False
    return header.startswith(_HEADER) and int.from_bytes(header[68:72], "big") == APPLICATION_ID


def connect(path: Path, **kwargs: object) -> sqlite3.Connection:
    """``sqlite3.connect`` that refuses a path with a symbolic link in its last component."""
    uri = f"file:{urllib.parse.quote(os.fspath(path))}?nofollow=1"
    return sqlite3.connect(uri, uri=True, **kwargs)  # type: ignore[arg-type]


def stamp(conn: sqlite3.Connection) -> None:
    """Mark the open database as ours (a no-op once it is)."""
    if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def _tables(path: Path) -> set[str]:
    uri = f"file:{urllib.parse.quote(os.fspath(path))}?mode=ro&nofollow=1"
    try:
        conn = sqlite3.connect(uri, uri=True)
        try:
            return {
                row[0]
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise ForeignFileError(
            f"{path} cannot be read as a dspy-lsp database ({exc}); it was left untouched"
        ) from exc
