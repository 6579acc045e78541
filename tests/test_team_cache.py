"""The team's LM cache (PostgreSQL): a unit one developer's server reviewed is a hit for the
next developer of the same project, never for another project; it stays bounded, and a
database that goes away costs misses, never an exception."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dspy_lsp.server.lm.cache import CacheKey
from dspy_lsp.server.lm.storage import location as location_of
from dspy_lsp.server.lm.storage import open_lm_cache
from dspy_lsp.server.lm.team_cache import TeamLmCache
from dspy_lsp.server.settings_model import LmSettings, Settings, StoreSettings
from dspy_lsp.server.store.postgres.team_store import close_team_stores, team_store
from dspy_lsp.server.store.store_choice import choose_store
from dspy_lsp.server.store.store_url import parse_store_url
from dspy_lsp.server.store.tenant import Tenant

Open = Callable[..., TeamLmCache]


def key(n: int = 0, **parts: str) -> CacheKey:
    base = {"unit_hash": f"unit-{n}", "program_version": "p1", "model": "m", "settings": "s"}
    return CacheKey(**{**base, **parts})


@pytest.fixture
def open_cache(pg_url: str) -> Iterator[Open]:
    """Caches on one fresh database: ``open_cache(project, user, **options)``."""
    dsn = parse_store_url(pg_url).dsn
    assert dsn is not None

    def opened(project: str = "acme/app", user: str = "alice", **options: object) -> TeamLmCache:
        return TeamLmCache(team_store(dsn), Tenant(project, user), "test db", **options)  # type: ignore[arg-type]

    yield opened
    close_team_stores()


def test_a_result_stored_by_one_developer_is_a_hit_for_another(open_cache: Open) -> None:
    alice, bob = open_cache(user="alice"), open_cache(user="bob")
    assert bob.get(key(1)) is None
    alice.put(key(1), '[{"line": 3}]')
    assert bob.get(key(1)) == '[{"line": 3}]'
    assert (bob.stats().hits, bob.stats().misses, bob.stats().entries) == (1, 1, 1)


def test_another_project_never_reads_the_entry(open_cache: Open) -> None:
    open_cache("acme/app", "alice").put(key(1), "acme's findings")
    other = open_cache("globex/app", "alice")
    assert other.get(key(1)) is None
    assert other.stats().entries == 0
    other.put(key(1), "globex's findings")
    assert open_cache("acme/app", "bob").get(key(1)) == "acme's findings"


@pytest.mark.parametrize("part", ["unit_hash", "program_version", "model", "settings"])
def test_keys_differing_in_one_part_are_separate_entries(open_cache: Open, part: str) -> None:
    cache = open_cache()
    cache.put(key(), "first")
    other = CacheKey(**{**key().__dict__, part: "changed"})
    assert cache.get(other) is None
    cache.put(other, "second")
    assert (cache.get(key()), cache.get(other)) == ("first", "second")
    assert cache.stats().entries == 2


def test_a_second_put_of_a_key_replaces_it_and_says_who(open_cache: Open, pg_url: str) -> None:
    import psycopg

    open_cache(user="alice").put(key(), "old")
    open_cache(user="bob").put(key(), "new")
    assert open_cache(user="carol").get(key()) == "new"
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT project, user_name, value FROM lm_cache").fetchall()
    assert rows == [("acme/app", "bob", "new")]


def test_the_least_recently_used_entries_of_the_project_are_evicted(open_cache: Open) -> None:
    ticks = iter(range(1_000_000, 2_000_000, 100))  # each call past the touch interval
    cache = open_cache(max_entries=3, evict_every=1, clock=lambda: float(next(ticks)))
    elsewhere = open_cache("globex/app", max_entries=3, evict_every=1)
    elsewhere.put(key(9), "another project's")
    for n in (1, 2, 3):
        cache.put(key(n), str(n))
    assert cache.get(key(1)) == "1"  # now the most recently used; 2 the least
    cache.put(key(4), "4")
    assert cache.stats().entries == 3
    assert cache.get(key(2)) is None
    assert [cache.get(key(n)) for n in (1, 3, 4)] == ["1", "3", "4"]
    assert elsewhere.get(key(9)) == "another project's"


def test_eviction_runs_every_so_many_puts_and_keeps_the_bound(open_cache: Open) -> None:
    cache = open_cache(max_entries=20, evict_every=10)
    for n in range(95):
        cache.put(key(n), "v")
        assert cache.stats().entries < 20 + 10
    assert cache.get(key(94)) == "v"


def test_a_database_that_goes_away_means_misses_then_hits_when_back(
    open_cache: Open, pg_cluster: object, caplog: pytest.LogCaptureFixture
) -> None:
    cache = open_cache(retry_after_s=0.0)
    cache.put(key(1), "kept")
    pg_cluster.stop()  # type: ignore[attr-defined]
    try:
        with caplog.at_level(logging.WARNING):
            assert cache.get(key(1)) is None
            cache.put(key(2), "not stored")  # not queued: a cache is recomputable
            assert cache.get(key(1)) is None
            assert cache.stats().entries == 0
    finally:
        pg_cluster.start()  # type: ignore[attr-defined]
    down = [r for r in caplog.records if "cannot be used" in r.getMessage()]
    assert len(down) == 1  # told once per outage
    assert cache.get(key(1)) == "kept"
    assert cache.get(key(2)) is None
    cache.put(key(2), "stored")
    assert cache.get(key(2)) == "stored"


def test_after_a_failure_the_database_is_left_alone_for_a_while(
    open_cache: Open, pg_cluster: object
) -> None:
    cache = open_cache(retry_after_s=3600.0)
    cache.put(key(1), "kept")
    pg_cluster.stop()  # type: ignore[attr-defined]
    try:
        assert cache.get(key(1)) is None
    finally:
        pg_cluster.start()  # type: ignore[attr-defined]
    assert cache.get(key(1)) is None  # not asked again yet: no connection timeout per unit


def test_the_factory_opens_the_team_cache_for_a_team_project(pg_url: str, tmp_path: Path) -> None:
    settings = Settings(project="acme/app", store=StoreSettings(url=pg_url, user="alice"))
    choice = choose_store(settings, tmp_path)
    try:
        with open_lm_cache(choice, LmSettings(model="openai/m")) as cache:
            cache.put(key(), "v")
            stats = cache.stats()
        assert stats.entries == 1 and stats.path is None
        assert stats.location is not None and "project acme/app" in stats.location
        assert pg_url.split("?")[0] in stats.location
    finally:
        close_team_stores()


TWO_UNITS = (
    "def parse(text):\n    return eval(text)\n\n\ndef load(path):\n    return open(path).read()\n"
)


def _check(project: Path, fake: object, url: str, user: str) -> subprocess.CompletedProcess[str]:
    """``dspy-lsp check`` as ``user`` would run it: their own cache and data directories, the
    team store from the environment."""
    home = project.parent / user
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_DATA_HOME": str(home / "data"),
        "DSPY_LSP_STORE__URL": url,
        "DSPY_LSP_STORE__USER": user,
    }
    lm_options = ["--lm", "openai/fake", "--api-base", fake.base_url, "--trust-project"]  # type: ignore[attr-defined]
    return subprocess.run(
        [sys.executable, "-P", "-m", "dspy_lsp", "check", *lm_options, "mod.py"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.usefixtures("quiet_model_metadata")
def test_a_second_developer_s_check_asks_the_model_nothing(pg_url: str, tmp_path: Path) -> None:
    import psycopg
    from fakes.openai_server import FakeOpenAI
    from fakes.reviewer import Reviewer

    project = tmp_path / "app"
    project.mkdir()
    (project / "mod.py").write_text(TWO_UNITS)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "acme-app"\n\n'
        '[tool.dspy-lsp.lm]\nmax_attempts = 1\ntimeout_s = 10\nfinder = "analyze"\n'
    )
    with FakeOpenAI() as fake:
        fake.responder = Reviewer()
        first = _check(project, fake, pg_url, "alice")
        assert "LM tier: 2 calls, 0 cache hits" in first.stderr, first.stderr
        asked = fake.request_count
        second = _check(project, fake, pg_url, "bob")
        assert "LM tier: 0 calls, 2 cache hits" in second.stderr, second.stderr
        assert fake.request_count == asked
    assert second.stdout == first.stdout
    with psycopg.connect(pg_url) as conn:
        cached = conn.execute("SELECT project, user_name FROM lm_cache").fetchall()
        calls = conn.execute(
            "SELECT user_name, outcome, count(*) FROM lm_calls GROUP BY 1, 2 ORDER BY 1"
        ).fetchall()
    assert cached == [("acme-app", "alice")] * 2
    assert calls == [("alice", "ok", 2), ("bob", "cache_hit", 2)]


def test_the_server_s_tier_for_a_team_project_shares_its_cache_and_telemetry(
    pg_url: str, tmp_path: Path
) -> None:
    from dspy_lsp.server.lm.jobs import LmJobs
    from dspy_lsp.server.store.postgres.telemetry import TeamTelemetryTarget

    settings = Settings(project="acme/app", store=StoreSettings(url=pg_url, user="alice"))
    choice = choose_store(settings, tmp_path)
    jobs = LmJobs(lambda message, warning: None)
    try:
        tier = jobs.configure(LmSettings(model="openai/m"), choice)
        assert isinstance(tier.cache, TeamLmCache)
        assert tier.telemetry is not None
        assert tier.telemetry.target == TeamTelemetryTarget(
            parse_store_url(pg_url).dsn or "", Tenant("acme/app", "alice"), location_of(choice)
        )
        tier.cache.put(key(), "reviewed by alice")
        bob = choose_store(
            settings.model_copy(update={"store": StoreSettings(url=pg_url, user="bob")}), tmp_path
        )
        assert (
            jobs.configure(LmSettings(model="openai/m"), bob).cache.get(key())
            == "reviewed by alice"
        )
    finally:
        close_team_stores()
