"""Feedback from the editor (fixes accepted, findings dismissed), kept on disk per workspace.

What users do with findings is the only ground truth on which rules and programs help; it feeds
per-rule acceptance rates and, later, training examples. Unlike the LM cache next door, nothing
here can be recomputed, so the rules are reversed: ``record`` returns only once the event is
durably committed, failures raise ``FeedbackStoreError`` instead of degrading to memory, a
corrupt file is moved aside (kept, never deleted), and a file from a newer dspy-lsp is refused
rather than rebuilt. Secrets are redacted before anything reaches the disk.

Several server processes (one per editor window) may share one file: WAL, a busy timeout and one
``BEGIN IMMEDIATE`` transaction per event make that safe.
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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ...analyzers.learning.records import FeedbackEvent, FeedbackKind
from .paths import user_dir
from .redaction import env_secrets, redact
from .sqlite_file import (
    LockedConnection,
    claim,
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

_TABLES = frozenset({"events"})

# The kinds that count as a verdict on a finding. self_fixed is left out of the acceptance rate:
# the user agreed something was wrong but did not take our fix, which says nothing either way.
_VERDICT_KINDS = tuple(kind for kind in FeedbackKind if kind != FeedbackKind.SELF_FIXED)

# _MIGRATIONS[n] takes a file from user_version n to n + 1; version 0 is a new (empty) file.
# Append steps, never edit one that has shipped. The events columns must match FeedbackEvent's
# fields; adding a kind is a schema change too (older servers could not read the new rows).
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        # AUTOINCREMENT: an id handed out by record() is never reused, even if rows are pruned.
        "CREATE TABLE IF NOT EXISTS events ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " kind TEXT NOT NULL,"
        " finding_id TEXT NOT NULL,"
        " rule TEXT NOT NULL,"
        " category TEXT,"
        " program_version TEXT NOT NULL,"
        " chunk_hash TEXT,"
        " path TEXT,"
        " action_kind TEXT,"
        " edit TEXT,"
        " code TEXT,"
        " reason TEXT,"
        " created REAL NOT NULL"
        ")",
        "CREATE INDEX IF NOT EXISTS events_created ON events (created)",
    ),
    (
        # Where in its unit the finding sat, and the unit's context: what turns an event into a
        # labelled example for the learning loop.
        "ALTER TABLE events ADD COLUMN line INTEGER",
        "ALTER TABLE events ADD COLUMN end_line INTEGER",
        "ALTER TABLE events ADD COLUMN message TEXT",
        "ALTER TABLE events ADD COLUMN context TEXT",
    ),
    # The column held unit hashes all along (the LM's units, not the rules' statements).
    ("ALTER TABLE events RENAME COLUMN chunk_hash TO unit_hash",),
)
SCHEMA_VERSION = len(_MIGRATIONS)

# Longer than the cache's: a write that gives up loses an event, whereas a cache write that
# gives up only costs a future LM call. Each transaction is one small insert, so a wait this long
# means another process is stuck, not busy.
_BUSY_TIMEOUT_S = 5.0


_COLUMNS = tuple(field.name for field in dataclasses.fields(FeedbackEvent))
_REDACTED_FIELDS = ("edit", "code", "reason", "message", "context")
_INSERT = f"INSERT INTO events ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"


@dataclass(frozen=True)
class StoredEvent:
    """An event as read back: its row id (assigned by ``record``) and its redacted content."""

    id: int
    event: FeedbackEvent


@dataclass(frozen=True)
class RuleStats:
    """Counts per kind for one rule, program version and category."""

    rule: str
    program_version: str
    category: str | None
    accepted: int
    dismissed_false_positive: int
    dismissed_later: int
    ignored: int
    self_fixed: int

    @property
    def total(self) -> int:
        return sum(getattr(self, kind) for kind in FeedbackKind)

    @property
    def acceptance_rate(self) -> float | None:
        """accepted / all verdicts; None without a verdict (0.0 would read as "always refused")."""
        verdicts = sum(getattr(self, kind) for kind in _VERDICT_KINDS)
        return self.accepted / verdicts if verdicts else None

    @property
    def dismissal_rate(self) -> float | None:
        """Dismissed (false positive or for now) / all verdicts; None without a verdict."""
        verdicts = sum(getattr(self, kind) for kind in _VERDICT_KINDS)
        dismissed = self.dismissed_false_positive + self.dismissed_later
        return dismissed / verdicts if verdicts else None


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

    def __init__(self, path: Path | None, *, environ: Mapping[str, str] | None = None) -> None:
        """Open (or create, or upgrade) the store at ``path``; ``None`` keeps it in memory.

        ``environ`` supplies the values redacted as secrets (see ``env_secrets``); ``None`` reads
        ``os.environ`` at each ``record``. Raises ``FeedbackSchemaTooNewError`` for a file of a
        newer dspy-lsp and ``FeedbackStoreError`` when the file cannot be used.
        """
        self.path = path
        self._environ = environ
        self._lock = threading.Lock()
        self.moved_aside: Path | None = None
        """Where a corrupt file found at ``path`` was moved, or None."""
        self._conn: sqlite3.Connection | None = self._open()

    def record(self, event: FeedbackEvent) -> int:
        """Store ``event`` (redacted) and return its row id; it is on disk when this returns."""
        environ = os.environ if self._environ is None else self._environ
        secrets = env_secrets(environ)
        row = []
        for name in _COLUMNS:
            value = getattr(event, name)
            if name in _REDACTED_FIELDS and value is not None:
                value = redact(value, secrets)
            row.append(_storable(value))
        with self._lock, self._errors("record"):
            conn = self._connection()
            with immediate(conn):
                # Checked in the transaction: a newer dspy-lsp may have migrated the file since.
                found = user_version(conn)
                if found > SCHEMA_VERSION:
                    raise FeedbackSchemaTooNewError(self.path, found)
                rowid = conn.execute(_INSERT, row).lastrowid
            assert rowid is not None  # always set by an INSERT
            return rowid

    def events(
        self,
        since: float | None = None,
        until: float | None = None,
        kinds: Iterable[FeedbackKind] | None = None,
    ) -> list[StoredEvent]:
        """Events with ``since <= created < until`` (either bound optional), oldest id first."""
        where, params = _window(since, until)
        if kinds is not None:
            wanted = tuple(dict.fromkeys(kinds))
            unknown = [kind for kind in wanted if kind not in set(FeedbackKind)]
            if unknown:
                expected = ", ".join(FeedbackKind)
                raise ValueError(f"unknown feedback kinds {unknown}; expected some of {expected}")
            if not wanted:
                return []
            where.append(f"kind IN ({', '.join('?' * len(wanted))})")
            params.extend(wanted)
        with self._lock, self._errors("read"):
            rows = self._connection().execute(_select(where), params).fetchall()
        return [_stored(row) for row in rows]

    def stats(self, since: float | None = None, until: float | None = None) -> list[RuleStats]:
        """Counts per (rule, program_version, category), sorted by those, in the window."""
        where, params = _window(since, until)
        counts = ", ".join("sum(kind = ?)" for _ in FeedbackKind)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        query = (
            f"SELECT rule, program_version, category, {counts} FROM events{clause}"
            " GROUP BY rule, program_version, category ORDER BY rule, program_version, category"
        )
        with self._lock, self._errors("stats"):
            rows = self._connection().execute(query, [*FeedbackKind, *params]).fetchall()
        return [RuleStats(*row) for row in rows]

    def export_jsonl(self, out: TextIO, since: float | None = None) -> int:
        """Write one JSON object per event (``id`` plus the event's fields); return the count.

        One SELECT, so the export is a consistent snapshot even while other processes write.
        """
        where, params = _window(since, None)
        written = 0
        with self._lock, self._errors("export"):
            for row in self._connection().execute(_select(where), params):
                stored = _stored(row)
                record = {"id": stored.id, **dataclasses.asdict(stored.event)}
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
        except sqlite3.Error as exc:
            where = self.path or ":memory:"
            raise FeedbackStoreError(f"feedback store {where}: {what} failed: {exc}") from exc

    def _open(self) -> sqlite3.Connection:
        path = self.path
        if path is None:
            return _connect(None)
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Private before SQLite sees it (its -wal and -shm files copy the mode): the store
            # holds the user's code. A file that is not ours is refused, never replaced.
            claim(path, _TABLES)
            try:
                return _connect_retrying(path)
            except sqlite3.Error as exc:
                if not is_corrupt(exc) or not is_ours(path):
                    raise
                # Moved, not deleted: what it holds may still be recoverable by hand.
                self.moved_aside = move_aside(path)
                log.warning(
                    "feedback store %s is corrupt (%s); moved to %s, starting a new one",
                    path,
                    exc,
                    self.moved_aside,
                )
                claim(path, _TABLES)
                return _connect_retrying(path)
        except (OSError, sqlite3.Error) as exc:
            raise FeedbackStoreError(f"cannot use feedback store {path}: {exc}") from exc


def _connect_retrying(path: Path) -> sqlite3.Connection:
    return retry_while_busy(lambda: _connect(path), _BUSY_TIMEOUT_S)


def _connect(path: Path | None) -> sqlite3.Connection:
    # Durable, where the cache is not: the cache can lose its last commits to a power cut and
    # merely repeat an LM call, but a lost event is gone for good and record() has already told
    # the caller it was kept. Events are rare (one per user action): the fsync per commit costs
    # nothing felt.
    return open_database(
        path,
        migrations=_MIGRATIONS,
        too_new=lambda found: FeedbackSchemaTooNewError(path, found),
        timeout_s=_BUSY_TIMEOUT_S,
        durable=True,
    )


def _migrate(
    conn: sqlite3.Connection, migrations: Sequence[Sequence[str]], path: Path | None
) -> None:
    migrate(conn, migrations, lambda found: FeedbackSchemaTooNewError(path, found))


def _window(since: float | None, until: float | None) -> tuple[list[str], list[object]]:
    where: list[str] = []
    params: list[object] = []
    if since is not None:
        where.append("created >= ?")
        params.append(since)
    if until is not None:
        where.append("created < ?")
        params.append(until)
    return where, params


def _select(where: list[str]) -> str:
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return f"SELECT id, {', '.join(_COLUMNS)} FROM events{clause} ORDER BY id"


def _stored(row: Sequence[object]) -> StoredEvent:
    rowid, *values = row
    assert isinstance(rowid, int)
    return StoredEvent(id=rowid, event=FeedbackEvent(**dict(zip(_COLUMNS, values, strict=True))))


def _storable(value: object) -> object:
    """Lone surrogates (possible in text decoded from JSON) cannot be stored as UTF-8: replace."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    return value
