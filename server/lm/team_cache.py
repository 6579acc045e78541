"""The LM cache shared by a project's team: a unit one developer's server reviewed is a hit for
every other developer of the project, keyed exactly as the per-user cache is (``CacheKey``).

Same contract as ``LmCache``: it never takes the server down. While the database cannot be
reached, lookups miss and results are not stored (a cache is recomputable: nothing is queued),
logged once per outage; the database is skipped for a while after a failure so the editor does
not wait out a connection timeout per unit.

Eviction is least-recently-used per project, bounded like the per-user cache's ``max_entries``
but run every ``evict_every`` stores rather than on each one: between two evictions a process
may add up to ``evict_every - 1`` entries beyond the bound.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ..store.closing import ClosesOnExit
from ..store.postgres.outage import RETRY_AFTER_S, Outage, database_errors
from ..store.postgres.scope import tenant_transaction
from ..store.postgres.team_store import TeamStore
from ..store.tenant import Tenant
from .cache import TOUCH_INTERVAL_S, CacheKey, CacheStats

EVICT_EVERY = 100

_EVICT = (
    "DELETE FROM lm_cache WHERE project = %s AND digest IN ("
    " SELECT digest FROM lm_cache WHERE project = %s"
    " ORDER BY last_used DESC, digest OFFSET %s)"
)


class TeamLmCache(ClosesOnExit):
    """The ``lm_cache`` table of one project, on the process's pool for the team database."""

    path = None
    """No file: for callers that ask the per-user cache where its file is."""

    degraded_reason: str | None = None

    def __init__(
        self,
        store: TeamStore,
        tenant: Tenant,
        location: str,
        max_entries: int = 50_000,
        *,
        evict_every: int = EVICT_EVERY,
        retry_after_s: float = RETRY_AFTER_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``location``: where the cache is, for status and debug output (no password)."""
        if max_entries < 1 or evict_every < 1:
            raise ValueError("max_entries and evict_every must be at least 1")
        self._store = store
        self._tenant = tenant
        self._location = location
        self._max_entries = max_entries
        self._evict_every = evict_every
        self._clock = clock
        self._outage = Outage("LM cache", retry_after_s)
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0
        self._puts = 0
        self._closed = False

    def get(self, key: CacheKey) -> str | None:
        value = self._lookup(key.digest)
        with self._lock:
            if value is None:
                self._misses += 1
            else:
                self._hits += 1
        return value

    def put(self, key: CacheKey, value: str) -> None:
        if self._closed or self._outage.skipping:
            return
        with self._lock:
            self._puts += 1
            evict = self._puts % self._evict_every == 0
        project = self._tenant.project
        try:
            self._store.ensure_schema()
            with tenant_transaction(self._store.pool, self._tenant) as conn:
                conn.execute(
                    "INSERT INTO lm_cache (project, digest, value, user_name, last_used)"
                    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (project, digest) DO UPDATE"
                    " SET value = excluded.value, user_name = excluded.user_name,"
                    " last_used = excluded.last_used",
                    (project, key.digest, value, self._tenant.user, self._clock()),
                )
                if evict:
                    conn.execute(_EVICT, (project, project, self._max_entries))
        except database_errors() as exc:
            self._outage.failed(exc)
            return
        self._outage.succeeded()

    def stats(self) -> CacheStats:
        entries = 0
        if not self._closed and not self._outage.skipping:
            try:
                self._store.ensure_schema()
                with tenant_transaction(self._store.pool, self._tenant) as conn:
                    row = conn.execute(
                        "SELECT count(*) FROM lm_cache WHERE project = %s",
                        (self._tenant.project,),
                    ).fetchone()
                entries = int(row[0]) if row is not None else 0
                self._outage.succeeded()
            except database_errors() as exc:
                self._outage.failed(exc)
        with self._lock:
            return CacheStats(
                hits=self._hits,
                misses=self._misses,
                entries=entries,
                path=None,
                degraded_reason=None,
                location=self._location,
            )

    def close(self) -> None:
        """Stops using the database; the pool is the process's (``close_team_stores``)."""
        self._closed = True

    def _lookup(self, digest: str) -> str | None:
        """The value, refreshing its ``last_used`` when that is older than the touch interval
        (most hits stay reads); None on a miss or when the database cannot answer."""
        if self._closed or self._outage.skipping:
            return None
        project = self._tenant.project
        try:
            self._store.ensure_schema()
            with tenant_transaction(self._store.pool, self._tenant) as conn:
                row = conn.execute(
                    "SELECT value, last_used FROM lm_cache WHERE project = %s AND digest = %s",
                    (project, digest),
                ).fetchone()
                now = self._clock()
                if row is not None and now - row[1] >= TOUCH_INTERVAL_S:
                    conn.execute(
                        "UPDATE lm_cache SET last_used = %s WHERE project = %s AND digest = %s",
                        (now, project, digest),
                    )
        except database_errors() as exc:
            self._outage.failed(exc)
            return None
        self._outage.succeeded()
        return None if row is None else str(row[0])
