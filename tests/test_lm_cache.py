"""The LM cache: hits, misses, keys, LRU eviction and recovery. What the per-user SQLite cache
and the team's PostgreSQL cache share runs on both (``open_cache`` is parametrized by backend);
the file's own troubles (corruption, foreign files, permissions) are SQLite's alone."""

from __future__ import annotations

import dataclasses
import itertools
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dspy_lsp.server.lm.cache import CacheKey, LmCache, ResultCache, default_cache_path

OpenCache = Callable[..., ResultCache]


def key(n: int | str = 0, **parts: str) -> CacheKey:
    base = {"unit_hash": f"chunk-{n}", "program_version": "p1", "model": "m", "settings": "s"}
    return CacheKey(**{**base, **parts})


def fake_clock(step: float = 100.0):
    """Ticks further than the touch interval on every call, so each hit refreshes last_used."""
    ticks = itertools.count(1_000_000, step)
    return lambda: float(next(ticks))


def corrupt_siblings(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.corrupt-*"))


@pytest.fixture(params=["sqlite", "postgresql"])
def open_cache(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenCache]:
    """``open_cache(max_entries=, clock=)``: a cache of one backend on a store that outlives
    it (a file; a database), so a second cache opened later sees the first one's entries."""
    if request.param == "sqlite":
        yield lambda **options: LmCache(tmp_path / "lm.sqlite3", **options)
        return
    from dspy_lsp.server.lm.team_cache import TeamLmCache
    from dspy_lsp.server.store.postgres.team_store import close_team_stores, team_store
    from dspy_lsp.server.store.store_url import parse_store_url
    from dspy_lsp.server.store.tenant import Tenant

    dsn = parse_store_url(request.getfixturevalue("pg_url")).dsn
    assert dsn is not None

    def opened(max_entries: int = 50_000, clock: Callable[[], float] = time.time) -> ResultCache:
        # Evicting on every put, as the SQLite cache does, so the bound is exact.
        tenant = Tenant("acme/app", "alice")
        return TeamLmCache(team_store(dsn), tenant, "db", max_entries, evict_every=1, clock=clock)

    yield opened
    close_team_stores()


def test_hit_miss_and_stats(open_cache: OpenCache) -> None:
    with open_cache() as cache:
        assert cache.get(key(1)) is None
        cache.put(key(1), '{"a": 1}')
        assert cache.get(key(1)) == '{"a": 1}'
        assert cache.get(key(1)) == '{"a": 1}'
        cache.put(key(1), '{"a": 2}')  # overwrite, not a second entry
        assert cache.get(key(1)) == '{"a": 2}'
        stats = cache.stats()
    assert (stats.hits, stats.misses, stats.entries) == (3, 1, 1)
    assert stats.hit_rate == 0.75
    assert stats.degraded_reason is None


def test_an_in_memory_cache_has_no_file() -> None:
    with LmCache(None) as cache:
        stats = cache.stats()
    assert stats.path is None and stats.location is None and stats.degraded_reason is None


def test_closed_cache_misses_quietly(open_cache: OpenCache) -> None:
    cache = open_cache()
    cache.close()
    cache.close()
    cache.put(key(), "x")
    assert cache.get(key()) is None


@pytest.mark.parametrize("field", ["unit_hash", "program_version", "model", "settings"])
def test_keys_differing_in_one_part_miss(open_cache: OpenCache, field: str) -> None:
    with open_cache() as cache:
        cache.put(key(), "v")
        other = dataclasses.replace(key(), **{field: getattr(key(), field) + "'"})
        assert other.digest != key().digest
        assert cache.get(other) is None
        assert cache.get(key()) == "v"


def test_digest_keeps_parts_apart() -> None:
    a = CacheKey("a|b", "c", "m", "s")
    b = CacheKey("a", "b|c", "m", "s")
    assert a.digest != b.digest
    assert len(a.digest) == 64


def test_entries_outlive_the_cache_that_stored_them(open_cache: OpenCache) -> None:
    with open_cache() as first:
        first.put(key(1), "one")
    with open_cache() as second:
        assert second.get(key(1)) == "one"
        assert second.stats().entries == 1


def test_persists_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "lm.sqlite3"
    with LmCache(path) as first:
        first.put(key(1), "one")
        assert first.stats().path == path
    with LmCache(path) as second:
        assert second.get(key(1)) == "one"
        assert second.stats().entries == 1
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 1


def test_lru_eviction(open_cache: OpenCache) -> None:
    with open_cache(max_entries=3, clock=fake_clock()) as cache:
        for n in (1, 2, 3):
            cache.put(key(n), str(n))
        assert cache.get(key(1)) == "1"  # 1 is now the most recently used; 2 the least
        cache.put(key(4), "4")
        assert cache.stats().entries == 3
        assert cache.get(key(2)) is None
        assert [cache.get(key(n)) for n in (1, 3, 4)] == ["1", "3", "4"]


def test_hits_within_touch_interval_do_not_write(open_cache: OpenCache) -> None:
    now = [1000.0]
    with open_cache(max_entries=2, clock=lambda: now[0]) as cache:
        cache.put(key(1), "1")
        now[0] += 1
        cache.put(key(2), "2")
        now[0] += 1
        cache.get(key(1))  # 2 s later: last_used stays, so 1 is still the oldest
        cache.put(key(3), "3")
        assert cache.get(key(1)) is None
        assert cache.get(key(2)) == "2"


def test_two_processes_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    go = tmp_path / "go"
    script = textwrap.dedent(
        """
        import logging, os, sys, time
        from pathlib import Path
        from dspy_lsp.server.lm.cache import CacheKey, LmCache
        logging.basicConfig(level=logging.WARNING)
        path, go, who = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
        while not go.exists():
            time.sleep(0.005)
        with LmCache(path) as cache:
            for n in range(150):
                k = CacheKey(f"{who}-{n}", "p", "m", "s")
                cache.put(k, f"{who}:{n}")
                assert cache.get(k) == f"{who}:{n}"
        """,
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(path), str(go), who],
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("a", "b")
    ]
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "WARNING" not in err, err
    with LmCache(path) as cache:
        assert cache.stats().entries == 300
        for who, n in itertools.product("ab", range(150)):
            assert cache.get(CacheKey(f"{who}-{n}", "p", "m", "s")) == f"{who}:{n}"


def test_a_file_that_is_not_ours_is_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "lm.sqlite3"
    garbage = os.urandom(64) + b"definitely not sqlite" * 500
    path.write_bytes(garbage)
    with LmCache(path) as cache:
        cache.put(key(), "fresh")
        assert cache.get(key()) == "fresh"  # in memory
        stats = cache.stats()
    assert stats.path is None and "not a dspy-lsp database" in (stats.degraded_reason or "")
    assert path.read_bytes() == garbage
    assert corrupt_siblings(path) == []


def test_a_damaged_cache_is_moved_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "lm.sqlite3"
    with LmCache(path) as cache:
        cache.put(key(), "old")
    garbage = path.read_bytes()[:100] + b"definitely not sqlite" * 500
    path.write_bytes(garbage)
    with LmCache(path) as cache:
        cache.put(key(), "fresh")
        assert cache.get(key()) == "fresh"
        stats = cache.stats()
    assert stats.path == path and stats.degraded_reason is None
    [moved] = corrupt_siblings(path)
    assert moved.read_bytes() == garbage
    assert "starting a new one" in caplog.text
    with LmCache(path) as again:
        assert again.get(key()) == "fresh"


def test_corruption_found_while_running_is_recovered(tmp_path: Path) -> None:
    path = tmp_path / "lm.sqlite3"
    with LmCache(path) as cache:
        for n in range(40):
            cache.put(key(n), "x" * 2000)
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    data[page_size:] = b"\xa5" * (len(data) - page_size)  # keep the header page, wreck the rest
    path.write_bytes(bytes(data))
    with LmCache(path) as cache:
        assert cache.get(key(1)) is None  # the read hits a bad page: a miss, not a crash
        assert len(corrupt_siblings(path)) == 1
        cache.put(key(1), "again")
        assert cache.get(key(1)) == "again"
        assert cache.stats().degraded_reason is None


def test_newer_schema_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "lm.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    with LmCache(path) as cache:
        cache.put(key(), "v")
        assert cache.get(key()) == "v"
        stats = cache.stats()
    assert stats.path is None
    assert stats.degraded_reason is not None and "newer" in stats.degraded_reason
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 99
    assert corrupt_siblings(path) == []


def assert_in_memory_fallback(cache: LmCache) -> None:
    cache.put(key(), "v")
    assert cache.get(key()) == "v"
    stats = cache.stats()
    assert stats.path is None
    assert stats.degraded_reason is not None and "in-memory" in stats.degraded_reason
    assert cache.degraded_reason == stats.degraded_reason


def test_unwritable_directory_falls_back_to_memory(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            reason = "this user can write to a read-only directory (root?); see the next test"
            print(reason)
            pytest.skip(reason)
        with LmCache(locked / "lm.sqlite3") as cache:
            assert_in_memory_fallback(cache)
    finally:
        locked.chmod(0o700)


def test_directory_that_cannot_be_created_falls_back_to_memory(tmp_path: Path) -> None:
    # A regular file where a directory should be defeats even root.
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    with LmCache(blocker / "dspy-lsp" / "lm.sqlite3") as cache:
        assert_in_memory_fallback(cache)


def test_default_cache_path(tmp_path: Path) -> None:
    xdg = default_cache_path({"XDG_CACHE_HOME": str(tmp_path)})
    assert xdg == tmp_path / "dspy-lsp" / "lm-cache.sqlite3"
    home = Path.home() / ".cache" / "dspy-lsp" / "lm-cache.sqlite3"
    assert default_cache_path({}) == home
    assert default_cache_path({"XDG_CACHE_HOME": "relative/dir"}) == home


def test_puts_past_the_limit_evict_down_to_it(open_cache: OpenCache) -> None:
    """(Its cost beside an LM call is measured in benchmarks/lm_tier.py, not timed here.)"""
    with open_cache(max_entries=500) as cache:
        for n in range(600):
            cache.put(key(n), "v" * 200)
        assert cache.stats().entries == 500
        assert cache.get(key(599)) == "v" * 200
