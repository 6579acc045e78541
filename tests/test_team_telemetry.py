"""The team's LM telemetry (PostgreSQL): every developer's calls count in the project's usage,
another project's never do, and a database that goes away drops rows without an exception."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from dspy_lsp.server.lm.telemetry_log import TelemetryLog
from dspy_lsp.server.store.postgres.team_store import close_team_stores, team_store
from dspy_lsp.server.store.postgres.telemetry import TeamTelemetry, TeamTelemetryTarget
from dspy_lsp.server.store.store_url import parse_store_url
from dspy_lsp.server.store.telemetry import LmCall, TelemetryStoreError
from dspy_lsp.server.store.tenant import Tenant

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

Open = Callable[..., TeamTelemetry]


def call(outcome: str = "ok", version: str = "analyze@v1") -> LmCall:
    return LmCall(NOW, "analyze", version, "openai/m", 100, 10, 0.5, 1.0, outcome)


@pytest.fixture
def dsn(pg_url: str) -> Iterator[str]:
    found = parse_store_url(pg_url).dsn
    assert found is not None
    yield found
    close_team_stores()


@pytest.fixture
def open_telemetry(dsn: str) -> Open:
    def opened(project: str = "acme/app", user: str = "alice", **options: object) -> TeamTelemetry:
        return TeamTelemetry(team_store(dsn), Tenant(project, user), "test db", **options)  # type: ignore[arg-type]

    return opened


def test_the_project_s_usage_counts_every_developer(open_telemetry: Open) -> None:
    open_telemetry(user="alice").record(call())
    open_telemetry(user="bob").record(call())
    open_telemetry(user="bob").record(call("error"))
    (usage,) = open_telemetry(user="carol").daily()
    assert (usage.calls, usage.errors, usage.prompt_tokens, usage.cost_usd) == (3, 1, 300, 1.5)
    (bobs,) = open_telemetry().daily(user="bob")
    assert (bobs.calls, bobs.errors) == (2, 1)
    assert [c.outcome for c in open_telemetry().calls(user="alice")] == ["ok"]


def test_another_project_s_calls_are_never_read(open_telemetry: Open) -> None:
    open_telemetry("acme/app").record(call())
    open_telemetry("globex/app").record(call())
    open_telemetry("globex/app").record_breaker_opening("openai/m", NOW)
    assert sum(u.calls for u in open_telemetry("acme/app").daily()) == 1
    assert sum(u.breaker_openings for u in open_telemetry("acme/app").daily()) == 0
    assert len(open_telemetry("acme/app").calls()) == 1


def test_rows_say_who_made_the_call(open_telemetry: Open, pg_url: str) -> None:
    import psycopg

    open_telemetry(user="bob").record(call())
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT project, user_name, outcome FROM lm_calls").fetchall()
    assert rows == [("acme/app", "bob", "ok")]


def test_a_database_that_goes_away_drops_rows_quietly_then_records_again(
    open_telemetry: Open, pg_cluster: object, caplog: pytest.LogCaptureFixture
) -> None:
    telemetry = open_telemetry(retry_after_s=0.0)
    telemetry.record(call(version="before"))
    pg_cluster.stop()  # type: ignore[attr-defined]
    try:
        with caplog.at_level(logging.WARNING):
            telemetry.record(call(version="during"))
            telemetry.record_breaker_opening("openai/m", NOW)
            with pytest.raises(TelemetryStoreError, match="cannot read"):
                telemetry.daily()
    finally:
        pg_cluster.start()  # type: ignore[attr-defined]
    assert len([r for r in caplog.records if "cannot be used" in r.getMessage()]) == 1
    telemetry.record(call(version="after"))
    assert [u.version for u in telemetry.daily()] == ["after", "before"]


def test_the_background_writer_records_into_the_team_database(
    dsn: str, open_telemetry: Open
) -> None:
    log = TelemetryLog(TeamTelemetryTarget(dsn, Tenant("acme/app", "alice"), "test db"))
    log.record(call())
    log.record_breaker_opening("openai/m", NOW)
    assert log.flush()
    usage = open_telemetry(user="bob").daily()
    assert [(u.program, u.calls, u.breaker_openings) for u in usage] == [
        ("", 0, 1),
        ("analyze", 1, 0),
    ]
