"""The feedback file's one table: its migrations, and how an event becomes a row and back.

One definition of the row, shared by the store's writes and reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ...analyzers.learning.records import FeedbackEvent, FeedbackKind
from .redaction import redact

TABLES = frozenset({"events"})

# MIGRATIONS[n] takes a file from user_version n to n + 1; version 0 is a new (empty) file.
# Append steps, never edit one that has shipped. The events columns must match FeedbackEvent's
# fields; adding a kind is a schema change too (older servers could not read the new rows).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
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
    # The "missed" kind: older servers cannot read it, so they must see a newer file.
    ("CREATE INDEX IF NOT EXISTS events_kind ON events (kind)",),
    # The fix loop's attempts (fix_passed, fix_failed): new kinds, so a newer file again.
    ("CREATE INDEX IF NOT EXISTS events_finding ON events (finding_id)",),
    # Who produced each event (per-user acceptance) and its idempotency key (an event copied to
    # another store, or sent twice, is recognised). Older rows have neither: NULL.
    (
        "ALTER TABLE events ADD COLUMN user_name TEXT",
        "ALTER TABLE events ADD COLUMN event_key TEXT",
        "CREATE UNIQUE INDEX IF NOT EXISTS events_event_key ON events (event_key)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

COLUMNS = tuple(field.name for field in dataclasses.fields(FeedbackEvent))
OWNER_COLUMNS = ("user_name", "event_key")
"""Beside the event's own fields: who recorded it, and the key that makes sending it idempotent."""
STORED_COLUMNS = (*COLUMNS, *OWNER_COLUMNS)
REDACTED_FIELDS = ("edit", "code", "reason", "message", "context")
INSERT = (
    f"INSERT INTO events ({', '.join(STORED_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(STORED_COLUMNS))})"
)
UNKNOWN_USER = "(unknown)"
"""Who recorded an event from before users were recorded."""


@dataclass(frozen=True)
class StoredEvent:
    """An event as read back: its row id (assigned by ``record``) and its redacted content."""

    id: int
    event: FeedbackEvent


def window(
    since: float | None, until: float | None, mark: str = "?"
) -> tuple[list[str], list[object]]:
    """The conditions (and their parameters) for ``since <= created < until``; ``mark`` is the
    driver's placeholder (``%s`` for PostgreSQL)."""
    where: list[str] = []
    params: list[object] = []
    if since is not None:
        where.append(f"created >= {mark}")
        params.append(since)
    if until is not None:
        where.append(f"created < {mark}")
        params.append(until)
    return where, params


def select(where: list[str]) -> str:
    """Every column of the events matching ``where``, oldest id first."""
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return f"SELECT id, {', '.join(COLUMNS)} FROM events{clause} ORDER BY id"


def stored(row: Sequence[object]) -> StoredEvent:
    """The event a row of ``select`` holds."""
    rowid, *values = row
    assert isinstance(rowid, int)
    return StoredEvent(id=rowid, event=FeedbackEvent(**dict(zip(COLUMNS, values, strict=True))))


def to_row(event: FeedbackEvent, secrets: Sequence[str]) -> list[object]:
    """``event``'s values in ``COLUMNS`` order, its free text redacted of ``secrets``."""
    row = []
    for name in COLUMNS:
        value = getattr(event, name)
        if name in REDACTED_FIELDS and value is not None:
            value = redact(value, secrets)
        row.append(_storable(value))
    return row


def _storable(value: object) -> object:
    """Lone surrogates (possible in text decoded from JSON) cannot be stored as UTF-8: replace."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def chosen_kinds(kinds: Iterable[FeedbackKind]) -> tuple[FeedbackKind, ...]:
    """``kinds`` without repeats; an unknown kind is a ``ValueError`` naming the known ones."""
    wanted = tuple(dict.fromkeys(kinds))
    unknown = [kind for kind in wanted if kind not in set(FeedbackKind)]
    if unknown:
        expected = ", ".join(FeedbackKind)
        raise ValueError(f"unknown feedback kinds {unknown}; expected some of {expected}")
    return wanted
