"""Results of DSPy programs, cached on disk so the LM only sees units it has not seen before.

A result is keyed by what could change it: the unit's content hash, the program version, the
model and a fingerprint of the settings that reach the prompt. Re-opening a file, or editing one
function in it, then costs LM calls only for the changed units, across server restarts and across
the several server processes (one per editor window) that share the file.

The cache must never take the server down: a corrupt file is moved aside and replaced, a location
that cannot be written degrades to an in-memory cache (see ``LmCache.degraded_reason``), and a
failing read or write is logged and treated as a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

from ..store import sqlite_file as db
from ..store.paths import user_dir

if TYPE_CHECKING:  # pydantic: the server answers initialize before it loads
    from ..settings import LmSettings

log = logging.getLogger(__name__)

_TABLES = frozenset({"entries"})

SCHEMA_VERSION = 1

# _MIGRATIONS[n] takes a database from user_version n to n + 1. Version 0 is a new (empty) file.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE IF NOT EXISTS entries ("
        " digest TEXT PRIMARY KEY, value TEXT NOT NULL, last_used REAL NOT NULL"
        ") WITHOUT ROWID",
        "CREATE INDEX IF NOT EXISTS entries_last_used ON entries (last_used)",
    ),
)

# Writers hold the lock for one small transaction, so waiting longer than this means something is
# wrong; the operation is then skipped rather than stalling the caller (possibly the event loop).
_BUSY_TIMEOUT_S = 2.0

# A hit refreshes last_used only when it is older than this: most hits stay read-only (readers
# share the file; only a write takes it whole), at the price of LRU order being approximate to within a minute.
TOUCH_INTERVAL_S = 60.0

_EVICT = (
    "DELETE FROM entries WHERE digest IN (SELECT digest FROM entries ORDER BY last_used"
    " LIMIT max(0, (SELECT count(*) FROM entries) - ?))"
)


@dataclass(frozen=True)
class CacheKey:
    """Everything a cached result depends on; change any part and the old result is not reused."""

    unit_hash: str
    program_version: str
    model: str
    settings: str

    @property
    def digest(self) -> str:
        # JSON keeps the parts apart: ("a|b", "c") and ("a", "b|c") must not collide.
        parts = [self.unit_hash, self.program_version, self.model, self.settings]
        return hashlib.sha256(json.dumps(parts).encode("ascii")).hexdigest()


@dataclass(frozen=True)
class CacheStats:
    """Counters of this process (hits, misses) and the size of the shared store (entries)."""

    hits: int
    misses: int
    entries: int
    path: Path | None
    """The file in use, or None when the cache lives in memory."""
    degraded_reason: str | None
    """Why the requested file is not in use, or None when all is well."""
    location: str | None = None
    """Where the entries are kept, for people: the file, or the team database (no password)
    and project; None in memory."""

    @property
    def hit_rate(self) -> float:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0


class ResultCache(Protocol):
    """What the LM tier needs of a cache: ``LmCache`` (per user) or ``TeamLmCache`` (a team's
    project). Neither raises: a store that fails misses."""

    path: Path | None
    degraded_reason: str | None

    def get(self, key: CacheKey) -> str | None: ...

    def put(self, key: CacheKey, value: str) -> None: ...

    def stats(self) -> CacheStats: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class SchemaTooNewError(Exception):
    """The file was written by a newer dspy-lsp.

    It is left untouched (not rebuilt): the newer server may be running alongside this one, and
    two versions rebuilding each other's file would leave neither with a cache.
    """

    def __init__(self, found: int) -> None:
        super().__init__(
            f"cache schema {found} is newer than this dspy-lsp supports ({SCHEMA_VERSION})"
        )


def default_cache_path(environ: Mapping[str, str] | None = None) -> Path:
    """Per-user location shared by all server processes: $XDG_CACHE_HOME or ~/.cache."""
    return user_dir("cache", environ) / "lm-cache.sqlite3"


def cache_path_of(settings: LmSettings) -> Path:
    """``lm.cache-path``, else the per-user default."""
    return Path(settings.cache_path) if settings.cache_path else default_cache_path()


def coverage_dir(settings: LmSettings) -> Path:
    """Where recorded coverage maps are kept: beside the LM cache."""
    return cache_path_of(settings).parent / "coverage"


class LmCache(db.LockedConnection):
    """SQLite store of LM results with LRU eviction, shared safely by threads and processes.

    One connection behind a lock (``check_same_thread=False``) rather than one per thread: the
    in-memory fallback must be a single database (each ``:memory:`` connection is its own),
    ``close()`` has to reach the connection whatever thread opened it, pool threads would otherwise
    leak connections, and SQLite serialises writers anyway. Every operation is a millisecond or
    less, small beside the LM call it saves, so the lock is not a bottleneck.
    """

    def __init__(
        self,
        path: Path | None,
        max_entries: int = 50_000,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Open (or create) the cache at ``path``; ``None`` keeps it in memory.

        ``clock`` gives the last_used timestamps; it is wall time because processes share it.
        """
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self._requested = path
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0
        self.path: Path | None = None
        self.degraded_reason: str | None = None
        self._conn: sqlite3.Connection | None = self._open()

    def get(self, key: CacheKey) -> str | None:
        digest = key.digest
        with self._lock:
            if self._conn is None:
                return None
            try:
                row = self._conn.execute(
                    "SELECT value, last_used FROM entries WHERE digest = ?", (digest,)
                ).fetchone()
            except sqlite3.Error as exc:
                self._misses += 1
                self._failed("read", exc)
                return None
            if row is None:
                self._misses += 1
                return None
            self._hits += 1
            value, last_used = row
            now = self._clock()
            if now - last_used >= TOUCH_INTERVAL_S:
                try:
                    self._conn.execute(
                        "UPDATE entries SET last_used = ? WHERE digest = ?", (now, digest)
                    )
                except sqlite3.Error as exc:
                    self._failed("refresh", exc)
            return value

    def put(self, key: CacheKey, value: str) -> None:
        digest = key.digest
        with self._lock:
            if self._conn is None:
                return
            try:
                with db.immediate(self._conn):
                    self._conn.execute(
                        "INSERT OR REPLACE INTO entries (digest, value, last_used) VALUES (?, ?, ?)",
                        (digest, value, self._clock()),
                    )
                    self._conn.execute(_EVICT, (self._max_entries,))
            except sqlite3.Error as exc:
                self._failed("write", exc)
            except UnicodeEncodeError as exc:  # lone surrogates: not storable, not fatal
                log.warning("LM cache: result not stored: %s", exc)

    def stats(self) -> CacheStats:
        with self._lock:
            entries = 0
            if self._conn is not None:
                try:
                    entries = self._conn.execute("SELECT count(*) FROM entries").fetchone()[0]
                except sqlite3.Error as exc:
                    self._failed("count", exc)
            return CacheStats(
                hits=self._hits,
                misses=self._misses,
                entries=entries,
                path=self.path,
                degraded_reason=self.degraded_reason,
                location=None if self.path is None else str(self.path),
            )

    # Opening and recovery (callers hold the lock, or run in __init__).

    def _open(self) -> sqlite3.Connection:
        self.path = None
        self.degraded_reason = None
        path = self._requested
        if path is None or str(path) == ":memory:":
            return _connect(":memory:")
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            db.claim(path, _TABLES)  # a file that is not ours is refused, never replaced
            conn = db.retry_while_busy(lambda: _connect(path), _BUSY_TIMEOUT_S)
        except db.ForeignFileError as exc:
            return self._degrade(str(exc))
        except (OSError, sqlite3.Error) as exc:
            if not db.is_bad_file(path, exc) or not db.is_ours(path):
                return self._degrade(f"cannot use {path}: {exc}")
            log.warning("LM cache %s is unusable (%s); starting a new one", path, exc)
            try:
                moved = db.move_aside(path)
                db.claim(path, _TABLES)
                conn = _connect(path)
            except (OSError, sqlite3.Error) as exc2:
                return self._degrade(f"cannot replace bad file {path}: {exc2}")
            if moved is not None:
                log.warning("LM cache: the bad file was moved to %s", moved)
        except SchemaTooNewError as exc:
            return self._degrade(f"not touching {path}: {exc}")
        self.path = path
        return conn

    def _degrade(self, reason: str) -> sqlite3.Connection:
        self.degraded_reason = f"{reason}; using an in-memory cache instead"
        log.warning("LM cache: %s", self.degraded_reason)
        return _connect(":memory:")

    def _failed(self, what: str, exc: sqlite3.Error) -> None:
        """Log a failed operation; if the file turned out corrupt, replace it."""
        if self.path is None or not db.is_corrupt(exc) or not db.is_ours(self.path):
            log.warning("LM cache: %s failed: %s", what, exc)
            return
        log.warning("LM cache %s is corrupt (%s); starting a new one", self.path, exc)
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
        try:
            moved = db.move_aside(self.path)
        except OSError as move_exc:
            self._conn = self._degrade(f"cannot move corrupt {self.path} aside: {move_exc}")
            return
        if moved is not None:
            log.warning("LM cache: the corrupt file was moved to %s", moved)
        self._conn = self._open()


def _connect(target: Path | str) -> sqlite3.Connection:
    return db.open_database(
        None if target == ":memory:" else Path(target),
        migrations=_MIGRATIONS,
        too_new=SchemaTooNewError,
        timeout_s=_BUSY_TIMEOUT_S,
        durable=False,
    )
