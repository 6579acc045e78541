"""Feedback from the editor (fixes accepted, findings dismissed), kept on disk per workspace.

What users do with findings is the only ground truth on which rules and programs help; it feeds
per-rule acceptance rates and, later, training examples. Unlike the LM cache next door, nothing
here can be recomputed, so the rules are reversed: ``record`` returns only once the event is
durably committed, failures raise ``FeedbackStoreError`` instead of degrading to memory, a
corrupt file is moved aside (kept, never deleted), and a file from a newer dspy-lsp is refused
rather than rebuilt. Secrets are redacted before anything reaches the disk.

Several server processes (one per editor window) may share one file: a busy timeout and one
``BEGIN IMMEDIATE`` transaction per event make that safe.

The file can change under a running server: deleted (a clean-up of ~/.local/share), or replaced
(a restore, a sync tool). SQLite would go on writing to the file it has open, which no one can
find any more, and every event acknowledged since is gone when the server exits. So the store
compares the file at its path with the one it opened (``identity``) before and after each write,
and on close, and when they differ it carries every event of the open file over:

- nothing at the path: a new file is created there;
- another dspy-lsp feedback store: the events are added to it (one already there is skipped);
- anything else (another program's file, a link, a directory, a newer dspy-lsp's store): it is
  never written to, moved or deleted, since it is not ours. The events go to a new file beside
  it, ``<name>.rescued-<timestamp>``, where the store goes on writing.

Each move that carried events is reported once through ``notify``. An event may get a new id in
the file it moves to only when its own id is taken there by another event. Servers sharing the
file each notice on their own; the events one carries are there when the next looks, and are
skipped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from ...analyzers.learning.records import FeedbackEvent, FeedbackKind
from .feedback_schema import (
    INSERT,
    MIGRATIONS,
    SCHEMA_VERSION,
    STORED_COLUMNS,
    TABLES,
    UNKNOWN_USER,
    StoredEvent,
    chosen_kinds,
    select,
    stored,
    to_row,
    window,
)
from .feedback_stats import RuleStats, UserStats
from .paths import user_dir
from .redaction import env_secrets
from .sqlite_file import (
    ForeignFileError,
    LockedConnection,
    beside,
    carry_rows,
    claim,
    identity,
    immediate,
    is_corrupt,
    is_ours,
    migrate,
    move_aside,
    open_database,
    retry_while_busy,
    user_version,
)

log = logging.getLogger(__name__)

# Longer than the cache's: a write that gives up loses an event, whereas a cache write that
# gives up only costs a future LM call. Each transaction is one small insert, so a wait this long
# means another process is stuck, not busy.
_BUSY_TIMEOUT_S = 5.0


class FeedbackStoreError(Exception):
    """The store could not do what was asked; for ``record``, the event was not stored."""


class FeedbackSchemaTooNewError(FeedbackStoreError):
    """The file was written by a newer dspy-lsp; it is left untouched and not written to.

    Rebuilding it would destroy feedback the newer version recorded, and writing rows of the
    old shape into a new schema could corrupt its meaning.
    """

    def __init__(self, where: Path | None, found: int) -> None:
        self.found = found
        super().__init__(
            f"feedback store {where or ':memory:'} has schema version {found}, newer than this"
            f" dspy-lsp supports ({SCHEMA_VERSION}); it was left untouched and feedback is not"
            " recorded. Upgrade dspy-lsp, or point it at another file."
        )


def default_store_path(workspace_root: Path, environ: Mapping[str, str] | None = None) -> Path:
    """Per-user file for this workspace: $XDG_DATA_HOME (or ~/.local/share)/dspy-lsp/feedback/.

    Data rather than cache: feedback cannot be regenerated. Keyed by a hash of the resolved root,
    so every spelling of one workspace (symlinks, trailing "..") shares one file.
    """
    key = hashlib.sha256(os.fsencode(workspace_root.resolve())).hexdigest()[:16]
    return user_dir("data", environ) / "feedback" / f"{key}.sqlite3"


class FeedbackStore(LockedConnection):
    """Durable, append-only SQLite store of feedback events, shared by threads and processes.

    One connection behind a lock, as in ``LmCache``: ``:memory:`` must stay one database, and
    ``close()`` must reach the connection from any thread.
    """

    def __init__(
        self,
        path: Path | None,
        *,
        environ: Mapping[str, str] | None = None,
        notify: Callable[[str], None] = log.warning,
        user: str | None = None,
    ) -> None:
        """Open (or create, or upgrade) the store at ``path``; ``None`` keeps it in memory.

        ``user`` is who the recorded events are from (see ``tenant.user_name``); None records
        none, and ``by_user`` counts them under ``UNKNOWN_USER``. ``environ`` supplies the values redacted as secrets (see ``env_secrets``); ``None`` reads
        ``os.environ`` at each ``record``. ``notify`` hears, once each, that the events moved
        to another file (see the module's docstring). Raises ``FeedbackSchemaTooNewError`` for a
        file of a newer dspy-lsp and ``FeedbackStoreError`` when the file cannot be used.
        """
        self.path = path
        """Where the events are: ``path``, or the file they were rescued to."""
        self._environ = environ
        self._notify = notify
        self._user = user
        self._lock = threading.Lock()
        self._recorded = False
        self.moved_aside: Path | None = None
        """Where a corrupt file found at ``path`` was moved, or None."""
        self._conn: sqlite3.Connection | None = self._open()
        self._identity = identity(path) if path is not None else None

    @property
    def where(self) -> str:
        """Where the events are, for messages."""
        return str(self.path or ":memory:")

    def record(self, event: FeedbackEvent) -> int:
        """Store ``event`` (redacted) and return its row id; it is on disk when this returns."""
        environ = os.environ if self._environ is None else self._environ
        row = [*to_row(event, env_secrets(environ)), self._user, str(uuid.uuid4())]
        with self._lock, self._errors("record"):
            self._follow()
            try:
                rowid = self._insert(row)
            except sqlite3.Error:
                # Moved in between (SQLite refuses to write to a deleted file): write it there.
                if self._follow() is None:
                    raise
                rowid = self._insert(row)
            self._recorded = True
            # Moved since the commit: the event was carried over with the rest.
            renamed = self._follow() or {}
            return renamed.get(rowid, rowid)

    def close(self) -> None:
        """Close; events recorded here are first carried to the path if its file changed."""
        with self._lock:
            if self._recorded and self._conn is not None:
                try:
                    self._follow()
                except (OSError, sqlite3.Error, FeedbackStoreError) as exc:
                    log.error("feedback store %s: events not carried over: %s", self.path, exc)
        super().close()

    def _insert(self, row: Sequence[object]) -> int:
        conn = self._connection()
        with immediate(conn):
            # Checked in the transaction: a newer dspy-lsp may have migrated the file since.
            found = user_version(conn)
            if found > SCHEMA_VERSION:
                raise FeedbackSchemaTooNewError(self.path, found)
            rowid = conn.execute(INSERT, row).lastrowid
        assert rowid is not None  # always set by an INSERT
        return rowid

    def _follow(self) -> dict[int, int] | None:
        """If the file at ``path`` is not the one open, carry the events there (or, when that
        file is not ours, to a new file beside it) and write there from now on.

        Returns the ids that changed on the way (see ``carry_rows``), or None when nothing moved.
        Raises when no file could take the events: the open file keeps them, and the next write
        (or ``close``) tries again.
        """
        path, old = self.path, self._connection()
        if path is None or identity(path) == self._identity:
            return None
        gone = not os.path.lexists(path)
        try:
            conn = self._open_file(path)
            target = path
        except (ForeignFileError, FeedbackSchemaTooNewError) as exc:
            target = beside(path, "rescued")
            log.warning("feedback store: %s", exc)
            conn = self._open_file(target)
        try:
            added, renamed = carry_rows(old, conn, "events", STORED_COLUMNS)
        except BaseException:
            conn.close()
            raise
        self._conn, self.path, self._identity = conn, target, identity(target)
        old.close()
        message = f"dspy-lsp: the feedback store {path} {_moved(target, path, gone, added)}."
        if added or target != path:
            self._notify(message)
        else:  # another server sharing the file carried the events first, and told its user
            log.info("%s", message)
        return renamed

    def events(
        self,
        since: float | None = None,
        until: float | None = None,
        kinds: Iterable[FeedbackKind] | None = None,
    ) -> list[StoredEvent]:
        """Events with ``since <= created < until`` (either bound optional), oldest id first."""
        where, params = window(since, until)
        if kinds is not None:
            wanted = chosen_kinds(kinds)
            if not wanted:
                return []
            where.append(f"kind IN ({', '.join('?' * len(wanted))})")
            params.extend(wanted)
        with self._lock, self._errors("read"):
            rows = self._connection().execute(select(where), params).fetchall()
        return [stored(row) for row in rows]

    def stats(self, since: float | None = None, until: float | None = None) -> list[RuleStats]:
        """Counts per (rule, program_version, category), sorted by those, in the window."""
        where, params = window(since, until)
        counts = ", ".join("sum(kind = ?)" for _ in FeedbackKind)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        query = (
            f"SELECT rule, program_version, category, {counts} FROM events{clause}"
            " GROUP BY rule, program_version, category ORDER BY rule, program_version, category"
        )
        with self._lock, self._errors("stats"):
            rows = self._connection().execute(query, [*FeedbackKind, *params]).fetchall()
        return [RuleStats(*row) for row in rows]

    def by_user(self, since: float | None = None, until: float | None = None) -> list[UserStats]:
        """Counts per user in the window, sorted by user; events recorded before users were
        count under ``UNKNOWN_USER``."""
        where, params = window(since, until)
        counts = ", ".join("sum(kind = ?)" for _ in FeedbackKind)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        query = (
            f"SELECT coalesce(user_name, ?) AS who, {counts} FROM events{clause}"
            " GROUP BY who ORDER BY who"
        )
        with self._lock, self._errors("stats"):
            rows = self._connection().execute(query, [UNKNOWN_USER, *FeedbackKind, *params])
            return [UserStats(*row) for row in rows.fetchall()]

    def export_jsonl(self, out: TextIO, since: float | None = None) -> int:
        """Write one JSON object per event (``id`` plus the event's fields); return the count.

        One SELECT, so the export is a consistent snapshot even while other processes write.
        """
        where, params = window(since, None)
        written = 0
        with self._lock, self._errors("export"):
            for row in self._connection().execute(select(where), params):
                event = stored(row)
                record = {"id": event.id, **dataclasses.asdict(event.event)}
                out.write(json.dumps(record) + "\n")
                written += 1
        return written

    def schema_version(self) -> int:
        """The schema version of the open file (``SCHEMA_VERSION`` once opened)."""
        with self._lock, self._errors("read"):
            return user_version(self._connection())

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise FeedbackStoreError("feedback store is closed")
        return self._conn

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Turn SQLite's errors into ``FeedbackStoreError``, naming the file."""
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            where = self.path or ":memory:"
            raise FeedbackStoreError(f"feedback store {where}: {what} failed: {exc}") from exc

    def _open(self) -> sqlite3.Connection:
        if self.path is None:
            return _connect(None)
        try:
            return self._open_file(self.path)
        except (OSError, sqlite3.Error) as exc:
            raise FeedbackStoreError(f"cannot use feedback store {self.path}: {exc}") from exc

    def _open_file(self, path: Path) -> sqlite3.Connection:
        """The file at ``path``, created if missing; a corrupt one of ours is moved aside first.

        Raises ``ForeignFileError`` for a file that is not ours (refused, never replaced), and
        ``FeedbackSchemaTooNewError`` for one of a newer dspy-lsp.
        """
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Private before SQLite sees it (its journal copies the mode): the store holds the
        # user's code.
        claim(path, TABLES)
        try:
            return _connect_retrying(path)
        except sqlite3.Error as exc:
            if not is_corrupt(exc) or not is_ours(path):
                raise
        # Moved, not deleted: what it holds may still be recoverable by hand.
        self.moved_aside = move_aside(path)
        log.warning(
            "feedback store %s is corrupt; moved to %s, starting a new one", path, self.moved_aside
        )
        claim(path, TABLES)
        return _connect_retrying(path)


def _connect_retrying(path: Path) -> sqlite3.Connection:
    return retry_while_busy(lambda: _connect(path), _BUSY_TIMEOUT_S)


def _connect(path: Path | None) -> sqlite3.Connection:
    # Durable, where the cache is not: the cache can lose its last commits to a power cut and
    # merely repeat an LM call, but a lost event is gone for good and record() has already told
    # the caller it was kept. Events are rare (one per user action): the fsync per commit costs
    # nothing felt.
    return open_database(
        path,
        migrations=MIGRATIONS,
        too_new=lambda found: FeedbackSchemaTooNewError(path, found),
        timeout_s=_BUSY_TIMEOUT_S,
        durable=True,
    )


def _migrate(
    conn: sqlite3.Connection, migrations: Sequence[Sequence[str]], path: Path | None
) -> None:
    migrate(conn, migrations, lambda found: FeedbackSchemaTooNewError(path, found))


def _moved(target: Path, path: Path, gone: bool, added: int) -> str:
    if target != path:
        return (
            "was replaced by a file that is not a dspy-lsp feedback store, which was left as it"
            f" is; its {added} events, and new ones, are kept in {target}"
        )
    if gone:
        return f"was deleted while in use; it was created again with its {added} events"
    return f"was replaced by another feedback store; {added} events were added to it"
