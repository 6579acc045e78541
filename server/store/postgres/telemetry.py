"""LM telemetry of a project's team: every developer's calls in the ``lm_calls`` table, so the
dashboard shows what the team spends, not one machine's share.

The same write and read interface as the per-user ``TelemetryStore``. There is no table of
breaker openings: an opening is an ``lm_calls`` row with outcome ``breaker_open`` and an empty
program and version (a call refused by the open breaker always names its program), read back
as the per-user store counts them, on the row without program. Rows are kept, not rolled up:
the day's aggregates are computed by the database (``percentile_disc`` is the nearest rank).

Recording never raises and never waits on a database that is down: the row is dropped, and the
outage is logged once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..closing import ClosesOnExit
from ..telemetry import (
    NOT_ERRORS,
    NOT_SENT,
    DailyUsage,
    LmCall,
    TelemetryStoreError,
    as_utc,
    call_row,
    day_start,
)
from ..tenant import Tenant
from .outage import RETRY_AFTER_S, Outage, database_errors
from .scope import tenant_transaction
from .team_store import TeamStore

_OPENING = "program = '' AND outcome = 'breaker_open'"

_DAILY = (
    "SELECT (at AT TIME ZONE 'UTC')::date AS day, model, program, version,"
    f" count(*) FILTER (WHERE NOT ({_OPENING})),"
    " count(*) FILTER (WHERE outcome = 'cache_hit'),"
    f" count(*) FILTER (WHERE outcome <> ALL(%(not_errors)s) AND NOT ({_OPENING})),"
    " sum(prompt_tokens), sum(completion_tokens), sum(cost_usd),"
    " percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_s)"
    "  FILTER (WHERE outcome <> ALL(%(not_sent)s)),"
    " percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_s)"
    "  FILTER (WHERE outcome <> ALL(%(not_sent)s)),"
    f" count(*) FILTER (WHERE {_OPENING})"
    " FROM lm_calls WHERE project = %(project)s{where}"
    " GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
)

_COLUMNS = (
    "at, program, version, model, prompt_tokens, completion_tokens, cost_usd, latency_s, outcome"
)


@dataclass(frozen=True)
class TeamTelemetryTarget:
    """Where a project's telemetry goes in team mode: hashable, so the telemetry writer keeps
    one store per target as it keeps one per file."""

    dsn: str
    tenant: Tenant
    location: str
    """For people: the database (no password) and project."""


class TeamTelemetry(ClosesOnExit):
    """The ``lm_calls`` rows of one project, on the process's pool for the team database."""

    def __init__(
        self,
        store: TeamStore,
        tenant: Tenant,
        location: str,
        *,
        retry_after_s: float = RETRY_AFTER_S,
    ) -> None:
        self._store = store
        self._tenant = tenant
        self.location = location
        self._outage = Outage("LM telemetry", retry_after_s)

    # -- writing ------------------------------------------------------------------------------
    def record(self, call: LmCall) -> None:
        """Store one call of this user; dropped (never raised) when the database cannot."""
        self._insert(call_row(call, as_utc(call.at)))

    def record_breaker_opening(self, model: str, at: datetime) -> None:
        """Store that the circuit breaker opened for ``model``; never raises."""
        self._insert((as_utc(at), "", "", model, 0, 0, 0.0, 0.0, "breaker_open"))

    def _insert(self, row: tuple[object, ...]) -> None:
        if self._outage.skipping:
            return
        try:
            self._store.ensure_schema()
            with tenant_transaction(self._store.pool, self._tenant) as conn:
                conn.execute(
                    f"INSERT INTO lm_calls (project, user_name, {_COLUMNS})"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (self._tenant.project, self._tenant.user, *row),
                )
        except database_errors() as exc:
            self._outage.failed(exc)
            return
        self._outage.succeeded()

    # -- reading ------------------------------------------------------------------------------
    def calls(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        user: str | None = None,
    ) -> list[LmCall]:
        """The project's calls (``user``'s only, if given), ``since`` <= at < ``until``, oldest
        first; breaker openings are not calls. Raises ``TelemetryStoreError``."""
        where, args = _filters(
            as_utc(since) if since else None, as_utc(until) if until else None, user
        )
        rows = self._read(
            f"SELECT {_COLUMNS} FROM lm_calls WHERE project = %(project)s"
            f" AND NOT ({_OPENING}){where} ORDER BY at, id",
            args,
        )
        return [_call(row) for row in rows]

    def daily(
        self, since: date | None = None, until: date | None = None, *, user: str | None = None
    ) -> list[DailyUsage]:
        """Per-day usage of the whole team (``user``'s only, if given), ``since`` <= day <=
        ``until``, as ``TelemetryStore.daily`` computes it. Raises ``TelemetryStoreError``."""
        start = datetime.fromtimestamp(day_start(since), UTC) if since else None
        end = datetime.fromtimestamp(day_start(until + timedelta(days=1)), UTC) if until else None
        where, args = _filters(start, end, user)
        args |= {"not_errors": sorted(NOT_ERRORS), "not_sent": sorted(NOT_SENT)}
        return [_usage(row) for row in self._read(_DAILY.format(where=where), args)]

    def _read(self, sql: str, args: dict[str, Any]) -> list[tuple[Any, ...]]:
        try:
            self._store.ensure_schema()
            with tenant_transaction(self._store.pool, self._tenant) as conn:
                return list(conn.execute(sql, {"project": self._tenant.project, **args}))
        except database_errors() as exc:
            raise TelemetryStoreError(f"cannot read the team's LM telemetry: {exc}") from exc

    def close(self) -> None:
        """Nothing of its own to close: the pool is the process's (``close_team_stores``)."""


def _filters(
    start: datetime | None, end: datetime | None, user: str | None
) -> tuple[str, dict[str, Any]]:
    where, args = "", dict[str, Any]()
    if start is not None:
        where += " AND at >= %(start)s"
        args["start"] = start
    if end is not None:
        where += " AND at < %(end)s"
        args["end"] = end
    if user is not None:
        where += " AND user_name = %(user)s"
        args["user"] = user
    return where, args


def _call(row: tuple[Any, ...]) -> LmCall:
    at, program, version, model, prompt, completion, cost, latency, outcome = row
    return LmCall(
        at.astimezone(UTC), program, version, model, prompt, completion, cost, latency, outcome
    )


def _usage(row: tuple[Any, ...]) -> DailyUsage:
    day, model, program, version, calls, hits, errors, prompt, completion, cost, *rest = row
    p50, p95, openings = rest
    return DailyUsage(
        day=day,
        model=model,
        program=program,
        version=version,
        calls=int(calls),
        cache_hits=int(hits),
        errors=int(errors),
        prompt_tokens=int(prompt),
        completion_tokens=int(completion),
        cost_usd=float(cost),
        latency_p50_s=None if p50 is None else float(p50),
        latency_p95_s=None if p95 is None else float(p95),
        breaker_openings=int(openings),
    )
