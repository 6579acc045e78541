"""The telemetry store: per-call rows, per-day usage with hand-computed numbers, a bounded
file (old days rolled up, totals kept), and a file that survives deletion and shared writers.

What both backends share (recording, reading, the per-day numbers) runs on each: the per-user
SQLite file and the team's PostgreSQL (``store`` is parametrized by ``backend``)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from dspy_lsp.server.lm.storage import TelemetryReader
from dspy_lsp.server.store import telemetry
from dspy_lsp.server.store.telemetry import (
    DailyUsage,
    LmCall,
    TelemetryStore,
    TelemetryStoreError,
    default_telemetry_path,
    percentile,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
DAY = NOW.date()


def call(
    at: datetime,
    outcome: str = "ok",
    latency: float = 1.0,
    *,
    program: str = "analyze",
    version: str = "analyze@v1",
    model: str = "openai/m",
    tokens: tuple[int, int] = (100, 10),
    cost: float = 0.001,
) -> LmCall:
    return LmCall(at, program, version, model, *tokens, cost, latency, outcome)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TelemetryReader]:
    """A new, empty store of either backend."""
    if request.param == "sqlite":
        with TelemetryStore(tmp_path / "telemetry.sqlite3") as opened:
            yield opened
        return
    from dspy_lsp.server.store.postgres.team_store import close_team_stores, team_store
    from dspy_lsp.server.store.postgres.telemetry import TeamTelemetry
    from dspy_lsp.server.store.store_url import parse_store_url
    from dspy_lsp.server.store.tenant import Tenant

    dsn = parse_store_url(request.getfixturevalue("pg_url")).dsn
    assert dsn is not None
    try:
        with TeamTelemetry(team_store(dsn), Tenant("acme/app", "alice"), "test db") as opened:
            yield opened
    finally:
        close_team_stores()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[TelemetryStore]:
    with TelemetryStore(tmp_path / "telemetry.sqlite3") as opened:
        yield opened


def test_a_call_reads_back_as_it_was_recorded(store: TelemetryReader) -> None:
    recorded = call(NOW, "unparsable", 2.5, tokens=(404, 39), cost=0.0123)
    store.record(recorded)
    assert store.calls() == [recorded]


def test_calls_are_selected_by_time_since_inclusive_until_exclusive(store: TelemetryReader) -> None:
    for hour in (9, 10, 11):
        store.record(call(NOW.replace(hour=hour)))
    found = store.calls(since=NOW.replace(hour=10), until=NOW.replace(hour=11))
    assert [c.at.hour for c in found] == [10]


def test_a_naive_time_is_taken_as_utc(store: TelemetryReader) -> None:
    store.record(call(datetime(2026, 12, 7, 12, 0)))
    assert store.calls()[0].at == NOW


def test_percentiles_are_nearest_rank() -> None:
    values = [float(n) for n in range(20, 0, -1)]  # 1..20, unordered
    assert percentile(values, 50) == 10.0  # ceil(0.50 * 20) = 10th
    assert percentile(values, 95) == 19.0  # ceil(0.95 * 20) = 19th
    assert percentile([3.0], 95) == 3.0
    assert percentile([], 50) is None


def test_a_day_sums_calls_tokens_cost_and_takes_latency_of_sent_calls_only(
    store: TelemetryReader,
) -> None:
    for n in range(1, 11):  # latencies 1..10 s, 100+10 tokens each
        store.record(call(NOW, "ok", float(n)))
    store.record(call(NOW, "timeout", 30.0, tokens=(0, 0), cost=0.0))
    store.record(call(NOW, "cache_hit", 0.001, tokens=(0, 0), cost=0.0))
    store.record(call(NOW, "breaker_open", 0.0, tokens=(0, 0), cost=0.0))
    store.record(call(NOW, "cancelled", 0.5, tokens=(0, 0), cost=0.0))
    (usage,) = store.daily()
    assert usage == DailyUsage(
        day=DAY,
        model="openai/m",
        program="analyze",
        version="analyze@v1",
        calls=14,
        cache_hits=1,
        errors=2,  # the timeout and the refusal by the open breaker
        prompt_tokens=1000,
        completion_tokens=100,
        cost_usd=pytest.approx(0.01),  # type: ignore[arg-type]
        latency_p50_s=5.0,  # 12 sent: 0.5, 1..10, 30 -> 6th is 5
        latency_p95_s=30.0,  # ceil(0.95 * 12) = 12th
        breaker_openings=0,
    )


def test_days_models_programs_and_versions_are_separate_rows(store: TelemetryReader) -> None:
    store.record(call(NOW))
    store.record(call(NOW - timedelta(days=1)))
    store.record(call(NOW, model="openai/other"))
    store.record(call(NOW, program="plan", version="plan@v1"))
    store.record(call(NOW, version="analyze@v2"))
    keys = [(u.day, u.model, u.program, u.version, u.calls) for u in store.daily()]
    yesterday = DAY - timedelta(days=1)
    assert keys == [
        (yesterday, "openai/m", "analyze", "analyze@v1", 1),
        (DAY, "openai/m", "analyze", "analyze@v1", 1),
        (DAY, "openai/m", "analyze", "analyze@v2", 1),
        (DAY, "openai/m", "plan", "plan@v1", 1),
        (DAY, "openai/other", "analyze", "analyze@v1", 1),
    ]
    assert [u.day for u in store.daily(since=DAY)] == [DAY] * 4
    assert [u.day for u in store.daily(until=yesterday)] == [yesterday]


def test_breaker_openings_are_counted_per_model_on_a_row_without_program(
    store: TelemetryReader,
) -> None:
    store.record(call(NOW))
    store.record_breaker_opening("openai/m", NOW)
    store.record_breaker_opening("openai/m", NOW.replace(hour=13))
    opened = [u for u in store.daily() if u.breaker_openings]
    assert [(u.model, u.program, u.version, u.calls, u.breaker_openings) for u in opened] == [
        ("openai/m", "", "", 0, 2)
    ]
    assert len(store.calls()) == 1  # an opening is not a call


def test_roll_up_folds_whole_days_before_the_cutoff_and_deletes_their_rows(
    sqlite_store: TelemetryStore,
) -> None:
    cutoff = datetime(2026, 11, 7, tzinfo=UTC)  # 30 days before NOW's day, at midnight
    sqlite_store.record(call(cutoff - timedelta(seconds=1)))
    sqlite_store.record(call(cutoff))
    assert sqlite_store.roll_up(older_than_days=30, now=NOW) == 1
    assert [c.at for c in sqlite_store.calls()] == [cutoff]
    assert [u.day for u in sqlite_store.daily()] == [date(2026, 11, 6), date(2026, 11, 7)]


def test_roll_up_keeps_every_total_and_the_percentiles(sqlite_store: TelemetryStore) -> None:
    old = NOW - timedelta(days=40)
    for n in range(1, 21):
        sqlite_store.record(call(old, "ok" if n % 5 else "error", float(n), cost=0.25))
    sqlite_store.record(call(old, "cache_hit", 0.0, tokens=(0, 0), cost=0.0))
    sqlite_store.record_breaker_opening("openai/m", old)
    before = sqlite_store.daily()
    assert sqlite_store.roll_up(now=NOW) == 22
    assert sqlite_store.calls() == []
    assert sqlite_store.daily() == before
    usage = next(u for u in before if u.program)
    assert (usage.calls, usage.errors, usage.cache_hits) == (21, 4, 1)
    assert (usage.prompt_tokens, usage.cost_usd) == (2000, 5.0)
    assert (usage.latency_p50_s, usage.latency_p95_s) == (10.0, 19.0)


def test_a_row_arriving_after_its_day_was_rolled_up_adds_to_it(
    sqlite_store: TelemetryStore,
) -> None:
    old = NOW - timedelta(days=40)
    sqlite_store.record(call(old, latency=1.0))
    sqlite_store.roll_up(now=NOW)
    sqlite_store.record(call(old, "error", 3.0))
    (usage,) = sqlite_store.daily()
    assert (usage.calls, usage.errors, usage.prompt_tokens) == (2, 1, 200)
    sqlite_store.roll_up(now=NOW)
    assert sqlite_store.daily() == [usage]


def test_opening_the_store_rolls_up_old_rows(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    with TelemetryStore(path) as first:
        first.record(call(datetime.now(UTC) - timedelta(days=45)))
        first.record(call(datetime.now(UTC)))
    with TelemetryStore(path) as second:
        assert len(second.calls()) == 1
        assert sum(u.calls for u in second.daily()) == 2


def test_every_so_many_records_roll_up_old_rows(
    sqlite_store: TelemetryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telemetry, "ROLL_UP_EVERY", 3)
    sqlite_store.record(call(datetime.now(UTC) - timedelta(days=45)))
    sqlite_store.record(call(datetime.now(UTC)))
    assert len(sqlite_store.calls()) == 2
    sqlite_store.record(call(datetime.now(UTC)))
    assert len(sqlite_store.calls()) == 2  # the old one went into the daily table
    assert sum(u.calls for u in sqlite_store.daily()) == 3


def test_a_deleted_file_is_created_again_on_the_next_record(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    with TelemetryStore(path) as store:
        store.record(call(NOW))
        path.unlink()
        store.record(call(NOW, "error"))
        assert path.is_file()
        assert [c.outcome for c in store.calls()] == ["error"]
    with TelemetryStore(path) as again:
        assert [c.outcome for c in again.calls()] == ["error"]


def test_a_failing_record_is_logged_once_and_never_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "t.sqlite3"
    with TelemetryStore(path) as store:
        path.unlink()
        path.mkdir()  # something that is not ours took its place
        with caplog.at_level(logging.WARNING, logger="dspy_lsp.server.store.telemetry"):
            store.record(call(NOW))
            store.record(call(NOW))
            store.record_breaker_opening("openai/m", NOW)
    assert len(caplog.records) == 1
    assert "later failures are not logged" in caplog.records[0].getMessage()


def test_a_file_that_is_not_ours_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite3"
    path.write_text("my notes\n")
    with pytest.raises(TelemetryStoreError, match="not a dspy-lsp database"):
        TelemetryStore(path)
    assert path.read_text() == "my notes\n"


def test_a_symbolic_link_is_never_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.sqlite3"
    (tmp_path / "t.sqlite3").symlink_to(target)
    with pytest.raises(TelemetryStoreError, match="symbolic link"):
        TelemetryStore(tmp_path / "t.sqlite3")
    assert not target.exists()


def test_the_default_file_is_under_the_user_data_dir(tmp_path: Path) -> None:
    environ = {"XDG_DATA_HOME": str(tmp_path)}
    assert default_telemetry_path(environ) == tmp_path / "dspy-lsp" / "lm-telemetry.sqlite3"


_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from pathlib import Path
    from dspy_lsp.server.store.telemetry import LmCall, TelemetryStore

    with TelemetryStore(Path(sys.argv[1])) as store:
        for n in range(200):
            store.record(
                LmCall(datetime.now(UTC), "analyze", sys.argv[2], "m", 1, 1, 0.0, 0.1, "ok")
            )
    """
)


def test_two_processes_writing_at_once_lose_no_row(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(path), name], env=os.environ)
        for name in ("a", "b")
    ]
    assert [w.wait(timeout=60) for w in writers] == [0, 0]
    with TelemetryStore(path) as store:
        by_version = {u.version: u.calls for u in store.daily()}
    assert by_version == {"a": 200, "b": 200}
