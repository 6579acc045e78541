"""Feedback in the team store: every developer's events for one project, in one PostgreSQL table.

The same contract as the SQLite ``FeedbackStore``: ``record`` returns only once the event is
committed (redacted first, by the same code), and the reads answer with the same types. Every
row carries the project and the user, every query runs in the project's tenant transaction and
filters on the project, and every event gets an idempotency key (``event_key``) before its
first attempt, so however often it is sent, it is stored once.

When the database cannot be reached, an event is committed to the local queue instead (see
``outbox.py``) and acknowledged from there; later events queue behind it, so they reach the
database in order. A background thread sends the queue, oldest first, retrying with backoff,
and removes each batch only after the database committed it. The user hears once that the
store is unreachable and once that the queue was sent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ....analyzers.learning.records import FeedbackEvent, FeedbackKind
from ..closing import ClosesOnExit
from ..feedback_schema import COLUMNS, StoredEvent, chosen_kinds, stored, to_row, window
from ..feedback_stats import RuleStats, UserStats
from ..feedback_store import FeedbackStoreError
from ..redaction import env_secrets
from ..store_url import StoreUrl
from ..tenant import Tenant
from .driver import TeamStoreUnavailable, unreachable_errors
from .outbox import Outbox, Queued, outbox_path
from .schema import TeamSchemaTooNew
from .scope import tenant_transaction
from .team_store import TeamStore, team_store

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

INSERT_EVENT = (
    f"INSERT INTO feedback_events (project, user_name, event_key, {', '.join(COLUMNS)})"
    f" VALUES (%s, %s, %s{', %s' * len(COLUMNS)})"
    " ON CONFLICT (project, event_key) DO NOTHING"
)
"""One event with its owner and idempotency key; one already there (the same key) is skipped."""
_INSERT = f"{INSERT_EVENT} RETURNING id"
_COUNTS = ", ".join("count(*) FILTER (WHERE kind = %s)" for _ in FeedbackKind)
_KINDS = [str(kind) for kind in FeedbackKind]
_BATCH = 100
"""Queued events sent per transaction."""
_FIRST_RETRY_S, _LAST_RETRY_S = 0.25, 5.0


class TeamFeedbackStore(ClosesOnExit):
    """The project's feedback in the team database, with a local queue for outages.

    ``notify`` hears, once per outage, that events are being queued, and once that they were
    sent. Raises ``FeedbackStoreError`` when neither the database nor the queue can be used.
    """

    def __init__(
        self,
        url: StoreUrl,
        tenant: Tenant,
        *,
        outbox: Path | None = None,
        environ: Mapping[str, str] | None = None,
        notify: Callable[[str], None] = log.warning,
    ) -> None:
        assert url.dsn is not None
        self.path: Path | None = None
        """No file: the events are in the database (``where`` names it)."""
        self.moved_aside: Path | None = None
        self.where = f"{url.display()} (project {tenant.project})"
        self.tenant = tenant
        self._environ = environ
        self._notify = notify
        try:
            self._team: TeamStore = team_store(url.dsn)
            self._outbox = Outbox(outbox or outbox_path(url.dsn, tenant.project, environ))
        except (TeamStoreUnavailable, OSError, sqlite3.Error) as exc:
            raise FeedbackStoreError(f"cannot use the team store {self.where}: {exc}") from exc
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        self._told = False
        self._closed = False
        if self._outbox.count():  # left by a server that stopped before sending it
            self._start_flusher()

    @property
    def queued(self) -> int:
        """Events waiting in the local queue (this server's and others' of the same store)."""
        with self._lock, self._errors("read the queue"):
            return self._outbox.count()

    def record(self, event: FeedbackEvent) -> int:
        """Store ``event`` (redacted); it is committed, to the database or to the local queue,
        when this returns. Returns the database's id, or its place in the queue."""
        environ = os.environ if self._environ is None else self._environ
        row = [text_safe(value) for value in to_row(event, env_secrets(environ))]
        key = str(uuid.uuid4())
        with self._lock:
            if self._closed:
                raise FeedbackStoreError(f"feedback store {self.where} is closed")
            failure = None
            if self._flusher is None:
                try:
                    return self._insert(key, row)
                except unreachable_errors() as exc:
                    # Not in the database, or committed there without our hearing: queued
                    # with the same key, either way it is stored once.
                    failure = exc
            with self._errors("queue"):
                place = self._outbox.put(key, self.tenant.user, row)
            if failure is not None:
                self._tell_outage(failure)
            self._start_flusher()
            return place

    def _tell_outage(self, exc: BaseException) -> None:
        """Once per outage (the lock held)."""
        if self._told:
            return
        self._told = True
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        self._notify(
            f"dspy-lsp: the team store {self.where} is unreachable ({reason});"
            f" {self._outbox.count()} feedback events are queued locally"
            f" ({self._outbox.path}) and will be sent when it is back."
        )

    def flush(self) -> int:
        """Send what is queued now, oldest first; returns how many events are left (the database
        went away again). Safe beside the background sender and other servers."""
        while True:
            with self._lock, self._errors("read the queue"):
                batch = self._outbox.peek(_BATCH)
            if not batch:
                return 0
            try:
                self._send(batch)
            except unreachable_errors() as exc:
                log.info("team store %s still unreachable: %s", self.where, exc)
                with self._lock, self._errors("read the queue"):
                    self._tell_outage(exc)
                    return self._outbox.count()
            except (TeamStoreUnavailable, _psycopg_error()) as exc:
                raise FeedbackStoreError(
                    f"feedback store {self.where}: send failed: {exc}"
                ) from exc
            with self._lock, self._errors("empty the queue"):
                self._outbox.remove([queued.id for queued in batch])

    def close(self) -> None:
        """Stop the sender after one last attempt; whatever is left stays queued on disk for
        the next server (or CLI run) that opens this store."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            flusher = self._flusher
        self._stop.set()  # ends the sender's wait
        if flusher is not None:
            flusher.join()
        with contextlib.suppress(FeedbackStoreError):
            left = self.flush()
            if left:
                log.warning("%d feedback events stay queued in %s", left, self._outbox.path)
        self._outbox.close()

    def events(
        self,
        since: float | None = None,
        until: float | None = None,
        kinds: Iterable[FeedbackKind] | None = None,
    ) -> list[StoredEvent]:
        """Events with ``since <= created < until`` (either bound optional), oldest id first."""
        where, params = window(since, until, "%s")
        if kinds is not None:
            wanted = chosen_kinds(kinds)
            if not wanted:
                return []
            where.append("kind = ANY(%s)")
            params.append([str(kind) for kind in wanted])
        rows = self._query(
            f"SELECT id, {', '.join(COLUMNS)} FROM feedback_events"
            f" WHERE {' AND '.join(['project = %s', *where])} ORDER BY id",
            [self.tenant.project, *params],
        )
        return [stored(row) for row in rows]

    def stats(self, since: float | None = None, until: float | None = None) -> list[RuleStats]:
        """Counts per (rule, program_version, category), sorted by those, in the window."""
        where, params = window(since, until, "%s")
        rows = self._query(
            f"SELECT rule, program_version, category, {_COUNTS} FROM feedback_events"
            f" WHERE {' AND '.join(['project = %s', *where])}"
            " GROUP BY rule, program_version, category"
            ' ORDER BY rule COLLATE "C", program_version COLLATE "C",'
            ' category COLLATE "C" NULLS FIRST',
            [*_KINDS, self.tenant.project, *params],
        )
        return [RuleStats(*row) for row in rows]

    def by_user(self, since: float | None = None, until: float | None = None) -> list[UserStats]:
        """Counts per user of the project in the window, sorted by user."""
        where, params = window(since, until, "%s")
        rows = self._query(
            f"SELECT user_name, {_COUNTS} FROM feedback_events"
            f" WHERE {' AND '.join(['project = %s', *where])}"
            ' GROUP BY user_name ORDER BY user_name COLLATE "C"',
            [*_KINDS, self.tenant.project, *params],
        )
        return [UserStats(*row) for row in rows]

    def export_jsonl(self, out: TextIO, since: float | None = None) -> int:
        """Write one JSON object per event (``id`` plus the event's fields); return the count.

        One query, so the export is a consistent snapshot even while others record.
        """
        written = 0
        for event in self.events(since=since):
            out.write(json.dumps({"id": event.id, **dataclasses.asdict(event.event)}) + "\n")
            written += 1
        return written

    def schema_version(self) -> int:
        """The team database's schema version."""
        rows = self._query("SELECT version FROM dspy_lsp_schema", [])
        return int(rows[0][0])

    def _insert(self, key: str, row: Sequence[object]) -> int:
        """One event, committed; raises the driver's unreachable errors."""
        self._ensure_schema()
        try:
            with tenant_transaction(self._team.pool, self.tenant) as conn:
                found = conn.execute(_INSERT, (*self._owner(self.tenant.user, key), *row))
                inserted = found.fetchone()
        except unreachable_errors():
            raise
        except _psycopg_error() as exc:
            raise FeedbackStoreError(f"feedback store {self.where}: record failed: {exc}") from exc
        assert inserted is not None  # a new key: never a conflict
        return int(inserted[0])

    def _send(self, batch: Sequence[Queued]) -> None:
        """Queued events in one transaction; those already there (sent before a crash, or by
        another server sharing the queue) are skipped."""
        self._ensure_schema()
        with tenant_transaction(self._team.pool, self.tenant) as conn:
            conn.cursor().executemany(
                INSERT_EVENT,
                [(*self._owner(queued.user, queued.event_key), *queued.row) for queued in batch],
            )

    def _owner(self, user: str, key: str) -> tuple[str, str, str]:
        return self.tenant.project, user, key

    def _ensure_schema(self) -> None:
        try:
            self._team.ensure_schema()
        except TeamSchemaTooNew as exc:
            raise FeedbackStoreError(f"feedback store {self.where}: {exc}") from exc

    def _query(self, query: str, params: Sequence[object]) -> list[tuple[object, ...]]:
        if self._closed:
            raise FeedbackStoreError(f"feedback store {self.where} is closed")
        try:
            self._ensure_schema()
            with tenant_transaction(self._team.pool, self.tenant) as conn:
                return conn.execute(query, params).fetchall()
        except _psycopg_error() as exc:
            raise FeedbackStoreError(f"feedback store {self.where}: read failed: {exc}") from exc

    def _start_flusher(self) -> None:
        if self._flusher is None and not self._stop.is_set():
            self._flusher = threading.Thread(
                target=self._flush_until_empty, name="dspy-lsp team feedback queue", daemon=True
            )
            self._flusher.start()

    def _flush_until_empty(self) -> None:
        """The background sender: retries with backoff until the queue is empty, then says so
        and ends (the next outage starts another)."""
        delay = _FIRST_RETRY_S
        while not self._stop.is_set():
            try:
                left = self.flush()
            except FeedbackStoreError as exc:
                log.warning("team store %s: queued feedback not sent: %s", self.where, exc)
                left = -1
            with self._lock:
                try:
                    empty = left == 0 and not self._outbox.count()
                except sqlite3.Error as exc:  # keep trying: events may be waiting in it
                    log.warning("team store %s: the queue cannot be read: %s", self.where, exc)
                    empty = False
                if empty:
                    self._flusher = None
                    if self._told:
                        self._told = False
                        self._notify(
                            f"dspy-lsp: the team store {self.where} is back; the feedback"
                            " queued locally was sent."
                        )
                    return
            self._stop.wait(delay)
            delay = min(delay * 2, _LAST_RETRY_S)

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """The queue's errors as ``FeedbackStoreError``, naming it."""
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            raise FeedbackStoreError(
                f"feedback store {self.where}: cannot {what} ({self._outbox.path}): {exc}"
            ) from exc


def text_safe(value: object) -> object:
    """PostgreSQL's text cannot hold NUL (SQLite's can); one in a pasted snippet would make the
    event, and every event queued behind it, unstorable. Replaced, as lone surrogates are."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


def _psycopg_error() -> type[psycopg.Error]:
    import psycopg

    return psycopg.Error
