"""What each LM call cost and how it ended, kept on this machine for the dashboard.

One row per program call: when, which program and version, which model, tokens, cost, latency
and outcome. Nothing of the code or the prompts is stored, and nothing is ever sent anywhere.

Its own file (``default_telemetry_path``), not new tables in the LM cache's: the cache lives
under the cache directory, which clean-up tools empty, and is moved aside and restarted when
damaged, while a month of usage cannot be recomputed; and new tables there would bump the cache's
schema, which an older dspy-lsp running alongside would then refuse, losing its cache.

Bounded: rows older than ``older_than_days`` whole days are rolled up into one row per day,
model, program and version (latency percentiles computed from the rows before they go), on open
and every ``ROLL_UP_EVERY`` records. Telemetry must never cost an LM call anything: ``record``
logs a failure once and returns; a file deleted under a running process is created again.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from . import sqlite_file as db
from .paths import user_dir

log = logging.getLogger(__name__)

OUTCOMES = (
    "ok",
    "cache_hit",
    "error",
    "timeout",
    "unparsable",
    "rate_limited",
    "breaker_open",
    "cancelled",
)
"""How a call ended. ``breaker_open``: refused by the open circuit, never sent; ``cache_hit``:
answered from the LM cache, never sent; ``unparsable``: the model answered out of shape;
``cancelled``: the request was withdrawn (the user typed on), neither a success nor an error."""

NOT_ERRORS = frozenset({"ok", "cache_hit", "cancelled"})
"""Outcomes that are not failures."""

NOT_SENT = frozenset({"cache_hit", "breaker_open"})
"""Outcomes that never reached the model: left out of the latency percentiles."""

ROLL_UP_EVERY = 500
"""Records (per open store) between two roll-ups."""

DEFAULT_KEEP_DAYS = 30

_TABLES = frozenset({"calls", "breaker_openings", "daily"})

SCHEMA_VERSION = 1

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE IF NOT EXISTS calls ("
        " id INTEGER PRIMARY KEY, at REAL NOT NULL, program TEXT NOT NULL,"
        " version TEXT NOT NULL, model TEXT NOT NULL, prompt_tokens INTEGER NOT NULL,"
        " completion_tokens INTEGER NOT NULL, cost_usd REAL NOT NULL, latency_s REAL NOT NULL,"
        " outcome TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS calls_at ON calls (at)",
        "CREATE TABLE IF NOT EXISTS breaker_openings ("
        " id INTEGER PRIMARY KEY, at REAL NOT NULL, model TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS breaker_openings_at ON breaker_openings (at)",
        "CREATE TABLE IF NOT EXISTS daily ("
        " day TEXT NOT NULL, model TEXT NOT NULL, program TEXT NOT NULL, version TEXT NOT NULL,"
        " calls INTEGER NOT NULL, cache_hits INTEGER NOT NULL, errors INTEGER NOT NULL,"
        " prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,"
        " cost_usd REAL NOT NULL, latency_p50_s REAL, latency_p95_s REAL,"
        " breaker_openings INTEGER NOT NULL,"
        " PRIMARY KEY (day, model, program, version)) WITHOUT ROWID",
    ),
)

# Recording runs off the event loop (see server/lm/telemetry_log.py), but a wait this long still
# means another process is stuck; the row is then dropped, which telemetry can afford.
_BUSY_TIMEOUT_S = 2.0

_CALL_COLUMNS = (
    "at, program, version, model, prompt_tokens, completion_tokens, cost_usd, latency_s, outcome"
)


@dataclass(frozen=True)
class LmCall:
    """One program call as the tier saw it; ``at`` is when it ended (UTC)."""

    at: datetime
    program: str
    version: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float
    outcome: str


@dataclass(frozen=True)
class DailyUsage:
    """One UTC day of one model, program and version.

    ``calls`` counts every outcome, cache hits included; ``errors`` every outcome but ``ok``,
    ``cache_hit`` and ``cancelled``. Latency percentiles (nearest rank) cover the calls sent to the model (not
    cache hits nor calls the open breaker refused); None without one. Breaker openings belong
    to a model, not a program: they are counted on the row whose program and version are "".
    """

    day: date
    model: str
    program: str
    version: str
    calls: int
    cache_hits: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_p50_s: float | None
    latency_p95_s: float | None
    breaker_openings: int


class TelemetryStoreError(Exception):
    """The store cannot be opened or read (never raised by ``record``)."""


class TelemetrySchemaTooNewError(TelemetryStoreError):
    def __init__(self, found: int) -> None:
        super().__init__(
            f"telemetry schema {found} is newer than this dspy-lsp supports ({SCHEMA_VERSION});"
            " the file was left untouched"
        )


def default_telemetry_path(environ: Mapping[str, str] | None = None) -> Path:
    """Per-user file every server and ``check`` run shares: $XDG_DATA_HOME/dspy-lsp/."""
    return user_dir("data", environ) / "lm-telemetry.sqlite3"


def percentile(values: Iterable[float], p: float) -> float | None:
    """Nearest-rank percentile (an observed value): the ceil(p% of n)-th smallest."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


class TelemetryStore(db.LockedConnection):
    """SQLite store of LM calls and breaker openings, shared by threads and processes."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the store at ``path`` and roll up old rows.

        Raises ``TelemetryStoreError`` when the file cannot be used (not ours, a link, newer).
        """
        self.path = path
        self._lock = threading.Lock()
        self._failed_once = False
        self._closed = False
        self._since_roll_up = 0
        self._conn: sqlite3.Connection | None = None
        with self._lock:
            self._conn = self._open()
        self.roll_up()

    # -- writing ------------------------------------------------------------------------------
    def record(self, call: LmCall) -> None:
        """Store one call; a failure is logged (once) and swallowed."""
        row = call_row(call, _epoch(call.at))
        self._write(f"INSERT INTO calls ({_CALL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)

    def record_breaker_opening(self, model: str, at: datetime) -> None:
        """Store that the circuit breaker opened for ``model``; never raises."""
        self._write("INSERT INTO breaker_openings (at, model) VALUES (?, ?)", (_epoch(at), model))

    def _write(self, sql: str, row: tuple[object, ...]) -> None:
        roll = False
        with self._lock:
            try:
                conn = self._following()
                with db.immediate(conn):
                    conn.execute(sql, row)
                self._since_roll_up += 1
                roll = self._since_roll_up >= ROLL_UP_EVERY
            except (sqlite3.Error, OSError, TelemetryStoreError) as exc:
                self._failed("record", exc)
                return
        if roll:
            self.roll_up()

    def roll_up(self, older_than_days: int = DEFAULT_KEEP_DAYS, now: datetime | None = None) -> int:
        """Fold the rows of whole UTC days before ``now - older_than_days`` into ``daily`` and
        delete them; returns how many rows went. Never raises (logged once)."""
        now = as_utc(now or datetime.now(UTC))
        cutoff = datetime.combine(now.date() - timedelta(days=older_than_days), time(), UTC)
        with self._lock:
            self._since_roll_up = 0
            try:
                conn = self._following()
                with db.immediate(conn):
                    calls = _select_calls(conn, None, cutoff.timestamp())
                    openings = _select_openings(conn, None, cutoff.timestamp())
                    if not calls and not openings:
                        return 0
                    for usage in _aggregate(calls, openings):
                        _merge_daily(conn, usage)
                    end = (cutoff.timestamp(),)
                    gone = conn.execute("DELETE FROM calls WHERE at < ?", end).rowcount
                    gone += conn.execute("DELETE FROM breaker_openings WHERE at < ?", end).rowcount
                    return int(gone)
            except (sqlite3.Error, OSError, TelemetryStoreError) as exc:
                self._failed("roll-up", exc)
                return 0

    # -- reading ------------------------------------------------------------------------------
    def calls(self, since: datetime | None = None, until: datetime | None = None) -> list[LmCall]:
        """The calls not yet rolled up, ``since`` <= at < ``until``, oldest first."""
        start = _epoch(since) if since is not None else None
        end = _epoch(until) if until is not None else None
        with self._lock, self._reading():
            return [_call(row) for row in _select_calls(self._following(), start, end)]

    def daily(self, since: date | None = None, until: date | None = None) -> list[DailyUsage]:
        """Per-day usage, ``since`` <= day <= ``until``: the rolled-up days and, aggregated the
        same way, the days still held as rows; ordered by day, model, program, version."""
        start = day_start(since) if since is not None else None
        end = day_start(until + timedelta(days=1)) if until is not None else None
        with self._lock, self._reading():
            conn = self._following()
            live = _aggregate(_select_calls(conn, start, end), _select_openings(conn, start, end))
            where, args = [], list[str]()
            if since is not None:
                where.append("day >= ?")
                args.append(since.isoformat())
            if until is not None:
                where.append("day <= ?")
                args.append(until.isoformat())
            clause = f" WHERE {' AND '.join(where)}" if where else ""
            rolled = [_usage(r) for r in conn.execute(f"SELECT * FROM daily{clause}", args)]
        merged: dict[tuple[date, str, str, str], DailyUsage] = {}
        for usage in [*rolled, *live]:
            key = _key(usage)
            merged[key] = _combine(merged[key], usage) if key in merged else usage
        return [merged[key] for key in sorted(merged)]

    # -- the file -----------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            db.claim(self.path, _TABLES)
            conn = db.retry_while_busy(lambda: _connect(self.path), _BUSY_TIMEOUT_S)
        except (OSError, sqlite3.Error) as exc:
            raise TelemetryStoreError(f"cannot use {self.path}: {exc}") from exc
        self._identity = db.identity(self.path)
        return conn

    def _following(self) -> sqlite3.Connection:
        """The connection, opened again when the file at the path is no longer the one open
        (deleted or replaced): writing on would go to a file no one can find."""
        if self._closed:
            raise TelemetryStoreError(f"{self.path}: the store is closed")
        if self._conn is not None and db.identity(self.path) == self._identity:
            return self._conn
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            log.info("LM telemetry: %s changed under this process; opening it again", self.path)
        self._conn = self._open()
        return self._conn

    def _failed(self, what: str, exc: BaseException) -> None:
        if not self._failed_once:
            self._failed_once = True
            log.warning("LM telemetry: %s failed (%s); later failures are not logged", what, exc)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """SQLite's errors while reading, as ``TelemetryStoreError``."""
        try:
            yield
        except sqlite3.Error as exc:
            raise TelemetryStoreError(f"cannot read {self.path}: {exc}") from exc

    def close(self) -> None:
        self._closed = True
        super().close()


def _connect(path: Path) -> sqlite3.Connection:
    return db.open_database(
        path,
        migrations=_MIGRATIONS,
        too_new=TelemetrySchemaTooNewError,
        timeout_s=_BUSY_TIMEOUT_S,
        durable=False,  # a power cut may lose the last rows: telemetry, not feedback
    )


def as_utc(at: datetime) -> datetime:
    """``at`` in UTC; a naive datetime is taken to be UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _epoch(at: datetime) -> float:
    """Seconds since the epoch; a naive datetime is taken to be UTC."""
    return as_utc(at).timestamp()


def day_start(day: date) -> float:
    """Epoch seconds of ``day``'s UTC midnight."""
    return datetime.combine(day, time(), UTC).timestamp()


_Row = tuple[float, str, str, str, int, int, float, float, str]


def _select_calls(conn: sqlite3.Connection, start: float | None, end: float | None) -> list[_Row]:
    where, args = _between(start, end)
    sql = f"SELECT {_CALL_COLUMNS} FROM calls{where} ORDER BY at, id"
    return [tuple(row) for row in conn.execute(sql, args)]


def _select_openings(
    conn: sqlite3.Connection, start: float | None, end: float | None
) -> list[tuple[float, str]]:
    where, args = _between(start, end)
    sql = f"SELECT at, model FROM breaker_openings{where} ORDER BY at, id"
    return [(row[0], row[1]) for row in conn.execute(sql, args)]


def _between(start: float | None, end: float | None) -> tuple[str, list[float]]:
    where, args = [], []
    if start is not None:
        where.append("at >= ?")
        args.append(start)
    if end is not None:
        where.append("at < ?")
        args.append(end)
    return (f" WHERE {' AND '.join(where)}" if where else ""), args


def _call(row: _Row) -> LmCall:
    at, program, version, model, prompt, completion, cost, latency, outcome = row
    return LmCall(
        datetime.fromtimestamp(at, UTC),
        program,
        version,
        model,
        prompt,
        completion,
        cost,
        latency,
        outcome,
    )


def _day(at: float) -> date:
    return datetime.fromtimestamp(at, UTC).date()


def _aggregate(calls: list[_Row], openings: list[tuple[float, str]]) -> list[DailyUsage]:
    """The per-day rows for these calls and openings (see ``DailyUsage``)."""
    groups: dict[tuple[date, str, str, str], list[_Row]] = defaultdict(list)
    for row in calls:
        groups[(_day(row[0]), row[3], row[1], row[2])].append(row)
    opened: dict[tuple[date, str], int] = defaultdict(int)
    for at, model in openings:
        opened[(_day(at), model)] += 1
    out = []
    for (day, model, program, version), rows in groups.items():
        latencies = [r[7] for r in rows if r[8] not in NOT_SENT]
        out.append(
            DailyUsage(
                day=day,
                model=model,
                program=program,
                version=version,
                calls=len(rows),
                cache_hits=sum(r[8] == "cache_hit" for r in rows),
                errors=sum(r[8] not in NOT_ERRORS for r in rows),
                prompt_tokens=sum(r[4] for r in rows),
                completion_tokens=sum(r[5] for r in rows),
                cost_usd=sum(r[6] for r in rows),
                latency_p50_s=percentile(latencies, 50),
                latency_p95_s=percentile(latencies, 95),
                breaker_openings=0,
            )
        )
    for (day, model), count in opened.items():
        out.append(DailyUsage(day, model, "", "", 0, 0, 0, 0, 0, 0.0, None, None, count))
    return out


def _key(usage: DailyUsage) -> tuple[date, str, str, str]:
    return (usage.day, usage.model, usage.program, usage.version)


def _combine(a: DailyUsage, b: DailyUsage) -> DailyUsage:
    """Two parts of one day's row (rows that arrived after their day was rolled up). Counts
    add up exactly; percentiles cannot be merged, so the part with more calls gives them."""
    main = a if a.calls >= b.calls else b
    return DailyUsage(
        day=a.day,
        model=a.model,
        program=a.program,
        version=a.version,
        calls=a.calls + b.calls,
        cache_hits=a.cache_hits + b.cache_hits,
        errors=a.errors + b.errors,
        prompt_tokens=a.prompt_tokens + b.prompt_tokens,
        completion_tokens=a.completion_tokens + b.completion_tokens,
        cost_usd=a.cost_usd + b.cost_usd,
        latency_p50_s=main.latency_p50_s if main.latency_p50_s is not None else a.latency_p50_s,
        latency_p95_s=main.latency_p95_s if main.latency_p95_s is not None else a.latency_p95_s,
        breaker_openings=a.breaker_openings + b.breaker_openings,
    )


def _usage(row: Sequence[Any]) -> DailyUsage:
    day, model, program, version, *rest = row
    calls, hits, errors, prompt, completion, cost, p50, p95, openings = rest
    return DailyUsage(
        date.fromisoformat(str(day)),
        str(model),
        str(program),
        str(version),
        int(calls),
        int(hits),
        int(errors),
        int(prompt),
        int(completion),
        float(cost),
        None if p50 is None else float(p50),
        None if p95 is None else float(p95),
        int(openings),
    )


def _merge_daily(conn: sqlite3.Connection, usage: DailyUsage) -> None:
    found = conn.execute(
        "SELECT * FROM daily WHERE day = ? AND model = ? AND program = ? AND version = ?",
        (usage.day.isoformat(), usage.model, usage.program, usage.version),
    ).fetchone()
    if found is not None:
        usage = _combine(_usage(found), usage)
    conn.execute(
        "INSERT OR REPLACE INTO daily VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            usage.day.isoformat(),
            usage.model,
            usage.program,
            usage.version,
            usage.calls,
            usage.cache_hits,
            usage.errors,
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cost_usd,
            usage.latency_p50_s,
            usage.latency_p95_s,
            usage.breaker_openings,
        ),
    )


def call_row(call: LmCall, at: object) -> tuple[object, ...]:
    """A call's values in the stores' column order, with ``at`` as the store keeps the time."""
    return (
        at,
        call.program,
        call.version,
        call.model,
        int(call.prompt_tokens),
        int(call.completion_tokens),
        float(call.cost_usd),
        float(call.latency_s),
        call.outcome,
    )
