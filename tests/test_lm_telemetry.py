"""The tier records each LM call in the telemetry store, over the real HTTP path (lm15 against
FakeOpenAI): tokens as the endpoint reported them, and how the call ended."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAI, _count_tokens, _text_of
from fakes.reviewer import Reviewer

from dspy_lsp.server.lm.cache import LmCache
from dspy_lsp.server.lm.resilience import RetryPolicy
from dspy_lsp.server.lm.tier import LmTier, LmUnavailable
from dspy_lsp.server.settings import LmSettings
from dspy_lsp.server.store.telemetry import LmCall, TelemetryStore

pytestmark = pytest.mark.usefixtures("quiet_model_metadata")

ONE_UNIT = "def parse(text):\n    return eval(text)\n"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        server.responder = Reviewer()
        yield server


def make_tier(fake: FakeOpenAI, tmp_path: Path, **settings: object) -> LmTier:
    given = {"max_attempts": 1, "timeout_s": 5, "finder": "analyze", **settings}
    lm = LmSettings(model="openai/fake", api_base=fake.base_url, **given)  # type: ignore[arg-type]
    cache = LmCache(tmp_path / "cache.sqlite3")
    return LmTier(lm, cache, program_states={}, telemetry=tmp_path / "telemetry.sqlite3")


def recorded(tier: LmTier) -> list[LmCall]:
    assert tier.telemetry is not None and tier.telemetry.flush()
    with TelemetryStore(tier.telemetry.target) as store:
        return store.calls()


async def test_a_call_is_recorded_with_the_tokens_the_endpoint_reported(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    tier = make_tier(fake, tmp_path)
    await tier.analyze(ONE_UNIT, [])
    (request,) = fake.requests
    reply = Reviewer()(request.messages)
    (row,) = recorded(tier)
    assert (row.program, row.version, row.model) == (
        "analyze",
        tier.versions["analyze"],
        "openai/fake",
    )
    assert row.prompt_tokens == sum(_count_tokens(_text_of(m)) for m in request.messages)
    assert row.completion_tokens == _count_tokens(reply)
    assert (row.outcome, row.cost_usd) == ("ok", 0.0)  # no price for a made-up model
    assert 0 < row.latency_s < 5


async def test_a_unit_answered_from_the_cache_is_a_cache_hit(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    await make_tier(fake, tmp_path).analyze(ONE_UNIT, [])
    again = make_tier(fake, tmp_path)  # a new tier: its memory is empty, the cache is not
    await again.analyze(ONE_UNIT, [])
    assert fake.request_count == 1
    first, hit = recorded(again)
    assert first.outcome == "ok"
    assert (hit.outcome, hit.prompt_tokens, hit.completion_tokens) == ("cache_hit", 0, 0)
    assert hit.version == first.version


async def test_a_500_reply_is_recorded_as_an_error(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.script("500")
    tier = make_tier(fake, tmp_path)
    with pytest.raises(LmUnavailable):
        await tier.analyze(ONE_UNIT, [])
    assert [(r.outcome, r.prompt_tokens) for r in recorded(tier)] == [("error", 0)]


async def test_a_429_reply_is_recorded_as_rate_limited(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.script("429")
    tier = make_tier(fake, tmp_path)
    with pytest.raises(LmUnavailable):
        await tier.analyze(ONE_UNIT, [])
    assert [r.outcome for r in recorded(tier)] == ["rate_limited"]


async def test_each_retry_is_a_call_of_its_own(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.script("500")
    tier = make_tier(fake, tmp_path, max_attempts=2)
    tier.retry = RetryPolicy(max_attempts=2, base_delay_s=0.0, jitter=0.0)
    await tier.analyze(ONE_UNIT, [])
    assert [r.outcome for r in recorded(tier)] == ["error", "ok"]


async def test_an_unparsable_reply_is_recorded_with_its_tokens(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.responder = lambda messages: "I cannot answer in that format."
    tier = make_tier(fake, tmp_path)
    with pytest.raises(LmUnavailable):
        await tier.analyze(ONE_UNIT, [])
    (row,) = recorded(tier)
    assert (row.outcome, row.completion_tokens) == ("unparsable", 6)


async def test_the_breaker_opening_and_the_calls_it_refuses_are_recorded(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.script("500")
    tier = make_tier(fake, tmp_path, breaker_failures=1, breaker_reset_s=600)
    with pytest.raises(LmUnavailable):
        await tier.analyze(ONE_UNIT, [])
    with pytest.raises(LmUnavailable):
        await tier.analyze(ONE_UNIT, [])
    assert [r.outcome for r in recorded(tier)] == ["error", "breaker_open"]
    with TelemetryStore(tmp_path / "telemetry.sqlite3") as store:
        (opened,) = [u for u in store.daily() if u.breaker_openings]
    assert (opened.model, opened.breaker_openings) == ("openai/fake", 1)


async def test_a_store_that_cannot_be_written_costs_the_call_nothing(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    tier = make_tier(fake, tmp_path)
    (tmp_path / "telemetry.sqlite3").mkdir()  # not a file the store will touch
    findings = await tier.analyze(ONE_UNIT, [])
    assert [f.rule for f in findings] == ["LM-security"]
    assert tier.telemetry is not None and tier.telemetry.flush()


def test_a_tier_with_its_cache_on_disk_records_in_the_per_user_file(tmp_path: Path) -> None:
    from dspy_lsp.server.store.telemetry import default_telemetry_path

    on_disk = LmTier(LmSettings(model="openai/x"), LmCache(tmp_path / "c.sqlite3"), {})
    assert on_disk.telemetry is not None
    assert on_disk.telemetry.target == default_telemetry_path()
    assert LmTier(LmSettings(model="openai/x"), LmCache(None), {}).telemetry is None


def test_check_records_its_calls_before_it_exits(fake: FakeOpenAI, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    (tmp_path / "mod.py").write_text(ONE_UNIT)
    (tmp_path / "pyproject.toml").write_text(
        "[tool.dspy-lsp.lm]\n"
        f'cache_path = "{(tmp_path / "cache.sqlite3").as_posix()}"\n'
        'max_attempts = 1\ntimeout_s = 10\nfinder = "analyze"\n'
    )
    data = tmp_path / "data"
    lm_options = ["--lm", "openai/fake", "--api-base", fake.base_url, "--trust-project"]
    result = subprocess.run(
        [sys.executable, "-P", "-m", "dspy_lsp", "check", *lm_options, "mod.py"],
        cwd=tmp_path,
        env={**os.environ, "XDG_DATA_HOME": str(data)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "LM tier: 1 calls" in result.stderr, result.stderr
    with TelemetryStore(data / "dspy-lsp" / "lm-telemetry.sqlite3") as store:
        calls = store.calls()
    assert [(c.program, c.model, c.outcome) for c in calls] == [("analyze", "openai/fake", "ok")]
    assert calls[0].prompt_tokens > 0
