"""Unit tests for server/resilience.py: retry, circuit breaker, rate limiter.

Everything runs on a fake clock so the tests are exact and take no wall time.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys

import pytest

from dspy_lsp.server.lm.errors import Failure, classify_lm_error
from dspy_lsp.server.lm.resilience import (
    CircuitBreaker,
    RateLimiter,
    RetryPolicy,
    call_with_retries,
)


class FakeClock:
    """A monotonic clock that only moves when ``sleep`` (or the test) moves it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)  # still yield, so concurrent waiters interleave


class Boom(Exception):
    """A failure whose verdict the test controls."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.reason)
        self.failure = failure


def classify_boom(exc: BaseException) -> Failure:
    return exc.failure if isinstance(exc, Boom) else Failure(False)


def failing_then(result: str, *errors: Exception):
    """An ``fn`` for call_with_retries that raises ``errors`` in order, then returns."""
    pending = list(errors)
    calls: list[int] = []

    async def fn() -> str:
        calls.append(1)
        if pending:
            raise pending.pop(0)
        return result

    return fn, calls


RETRYABLE = Failure(True, None, "server")


# -- retry -------------------------------------------------------------------------


async def test_backoff_doubles_without_jitter() -> None:
    clock = FakeClock()
    fn, calls = failing_then("ok", Boom(RETRYABLE), Boom(RETRYABLE), Boom(RETRYABLE))
    policy = RetryPolicy(max_attempts=5, base_delay_s=1.0, max_delay_s=100.0, jitter=0.0)

    assert await call_with_retries(fn, policy, classify=classify_boom, sleep=clock.sleep) == "ok"
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert len(calls) == 4


async def test_backoff_is_capped_by_max_delay() -> None:
    clock = FakeClock()
    fn, _ = failing_then("ok", *(Boom(RETRYABLE) for _ in range(4)))
    policy = RetryPolicy(max_attempts=5, base_delay_s=1.0, max_delay_s=3.0, jitter=0.0)

    await call_with_retries(fn, policy, classify=classify_boom, sleep=clock.sleep)
    assert clock.sleeps == [1.0, 2.0, 3.0, 3.0]


async def test_jitter_stays_within_fraction_and_is_reproducible() -> None:
    policy = RetryPolicy(max_attempts=6, base_delay_s=1.0, max_delay_s=100.0, jitter=0.25)
    runs = []
    for _ in range(2):
        clock = FakeClock()
        fn, _ = failing_then("ok", *(Boom(RETRYABLE) for _ in range(5)))
        await call_with_retries(
            fn,
            policy,
            classify=classify_boom,
            sleep=clock.sleep,
            rng=random.Random(7),
        )
        runs.append(clock.sleeps)
    assert runs[0] == runs[1]
    for n, delay in enumerate(runs[0]):
        nominal = 2.0**n
        assert nominal * 0.75 <= delay <= nominal * 1.25
    assert len(set(d / 2.0**n for n, d in enumerate(runs[0]))) > 1  # jitter did something


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(5.0, 5.0), (0.1, 1.0), (60.0, 10.0)],
    ids=["longer-than-backoff", "shorter-than-backoff", "capped"],
)
async def test_retry_after_is_a_floor_capped_by_max_delay(
    retry_after: float,
    expected: float,
) -> None:
    clock = FakeClock()
    fn, _ = failing_then("ok", Boom(Failure(True, retry_after, "rate_limit")))
    policy = RetryPolicy(max_attempts=2, base_delay_s=1.0, max_delay_s=10.0, jitter=0.0)

    await call_with_retries(fn, policy, classify=classify_boom, sleep=clock.sleep)
    assert clock.sleeps == [expected]


async def test_retry_after_beats_jitter() -> None:
    clock = FakeClock()
    fn, _ = failing_then("ok", Boom(Failure(True, 2.0, "rate_limit")))
    policy = RetryPolicy(max_attempts=2, base_delay_s=1.9, max_delay_s=10.0, jitter=0.5)

    await call_with_retries(
        fn,
        policy,
        classify=classify_boom,
        sleep=clock.sleep,
        rng=random.Random(0),
    )
    assert clock.sleeps[0] >= 2.0


async def test_non_retryable_raises_at_once() -> None:
    clock = FakeClock()
    error = Boom(Failure(False, None, "auth"))
    fn, calls = failing_then("ok", error)

    with pytest.raises(Boom) as raised:
        await call_with_retries(fn, RetryPolicy(), classify=classify_boom, sleep=clock.sleep)
    assert raised.value is error
    assert len(calls) == 1
    assert clock.sleeps == []


async def test_attempts_are_bounded_and_last_error_surfaces() -> None:
    clock = FakeClock()
    errors = [Boom(RETRYABLE) for _ in range(10)]
    fn, calls = failing_then("never", *errors)
    policy = RetryPolicy(max_attempts=3, base_delay_s=0.5, jitter=0.0)

    with pytest.raises(Boom) as raised:
        await call_with_retries(fn, policy, classify=classify_boom, sleep=clock.sleep)
    assert len(calls) == 3
    assert clock.sleeps == [0.5, 1.0]
    assert raised.value is errors[2]
    assert any("3 attempts" in note for note in raised.value.__notes__)


async def test_single_attempt_policy_never_sleeps() -> None:
    clock = FakeClock()
    fn, calls = failing_then("ok", Boom(RETRYABLE))
    with pytest.raises(Boom):
        await call_with_retries(
            fn,
            RetryPolicy(max_attempts=1),
            classify=classify_boom,
            sleep=clock.sleep,
        )
    assert (len(calls), clock.sleeps) == (1, [])


async def test_cancellation_is_not_retried() -> None:
    clock = FakeClock()
    fn, calls = failing_then("ok", asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await call_with_retries(fn, RetryPolicy(), classify=classify_boom, sleep=clock.sleep)
    assert len(calls) == 1


async def test_on_retry_reports_attempt_error_and_delay() -> None:
    clock = FakeClock()
    error = Boom(RETRYABLE)
    fn, _ = failing_then("ok", error)
    seen: list[tuple[int, BaseException, float]] = []
    policy = RetryPolicy(max_attempts=2, base_delay_s=0.25, jitter=0.0)

    await call_with_retries(
        fn,
        policy,
        classify=classify_boom,
        sleep=clock.sleep,
        on_retry=lambda n, e, d: seen.append((n, e, d)),
    )
    assert seen == [(1, error, 0.25)]


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"base_delay_s": -1}, {"jitter": 1.5}],
)
def test_retry_policy_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (TimeoutError("slow"), Failure(True, None, "timeout")),
        (ConnectionResetError("reset"), Failure(True, None, "transport")),
        (ValueError("bad"), Failure(False, None, "ValueError")),
    ],
)
def test_classify_builtin_errors(exc: BaseException, expected: Failure) -> None:
    assert classify_lm_error(exc) == expected


def test_classify_reads_retry_after_from_cause_chain() -> None:
    class ProviderHint(Exception):
        retry_after = 3

    try:
        try:
            raise ProviderHint
        except ProviderHint as inner:
            raise TimeoutError("slow") from inner
    except TimeoutError as outer:
        assert classify_lm_error(outer) == Failure(True, 3.0, "timeout")


def test_importing_resilience_does_not_import_dspy() -> None:
    code = "import sys, dspy_lsp.server.lm.resilience; sys.exit('dspy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=30).returncode == 0


# -- circuit breaker ---------------------------------------------------------------


def make_breaker(
    threshold: int = 3,
    reset_after_s: float = 10.0,
) -> tuple[CircuitBreaker, FakeClock]:
    clock = FakeClock()
    return CircuitBreaker(threshold, reset_after_s, clock=clock), clock


def test_breaker_opens_after_n_consecutive_failures() -> None:
    breaker, _ = make_breaker(threshold=3)
    for expected in (1, 2):
        breaker.record_failure()
        assert (breaker.state, breaker.consecutive_failures) == ("closed", expected)
        assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    assert breaker.consecutive_failures == 3
    assert not breaker.allow()


def test_breaker_success_resets_the_streak() -> None:
    breaker, _ = make_breaker(threshold=3)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed"
    assert breaker.consecutive_failures == 2


def test_breaker_half_open_lets_exactly_one_probe_through() -> None:
    breaker, clock = make_breaker(threshold=1, reset_after_s=10.0)
    breaker.record_failure()
    clock.now = 9.9
    assert (breaker.state, breaker.allow()) == ("open", False)
    clock.now = 10.0
    assert breaker.state == "half_open"
    assert breaker.allow()
    assert not breaker.allow()
    assert not breaker.allow()
    assert breaker.state == "half_open"


def test_breaker_probe_success_closes() -> None:
    breaker, clock = make_breaker(threshold=2, reset_after_s=5.0)
    breaker.record_failure()
    breaker.record_failure()
    clock.now = 5.0
    assert breaker.allow()
    breaker.record_success()
    assert (breaker.state, breaker.consecutive_failures) == ("closed", 0)
    assert breaker.allow()
    assert breaker.allow()


def test_breaker_probe_failure_reopens_for_a_full_period() -> None:
    breaker, clock = make_breaker(threshold=2, reset_after_s=5.0)
    breaker.record_failure()
    breaker.record_failure()
    clock.now = 6.0
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    assert breaker.consecutive_failures == 3
    clock.now = 10.9
    assert not breaker.allow()
    clock.now = 11.0
    assert breaker.allow()


def test_breaker_unanswered_probe_expires() -> None:
    breaker, clock = make_breaker(threshold=1, reset_after_s=5.0)
    breaker.record_failure()
    clock.now = 5.0
    assert breaker.allow()  # probe handed out, its caller never reports back
    clock.now = 9.9
    assert not breaker.allow()
    clock.now = 10.0
    assert breaker.allow()


def test_late_failure_while_open_does_not_extend_the_cool_down() -> None:
    breaker, clock = make_breaker(threshold=1, reset_after_s=5.0)
    breaker.record_failure()
    clock.now = 4.0
    breaker.record_failure()
    clock.now = 5.0
    assert breaker.allow()


# -- rate limiter ------------------------------------------------------------------


@pytest.mark.parametrize("rpm", [0, None])
async def test_rate_limiter_unlimited(rpm: int | None) -> None:
    clock = FakeClock()
    limiter = RateLimiter(rpm, clock=clock, sleep=clock.sleep)
    for _ in range(1000):
        await limiter.acquire()
    assert limiter.unlimited
    assert limiter.try_acquire()
    assert clock.sleeps == []


async def test_rate_limiter_paces_with_burst_one() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, burst=1, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(4):
        await limiter.acquire()
        times.append(clock.now)
    assert times == pytest.approx([0.0, 1.0, 2.0, 3.0])


async def test_rate_limiter_default_burst_is_a_minute_of_budget() -> None:
    clock = FakeClock()
    limiter = RateLimiter(30, clock=clock, sleep=clock.sleep)
    for _ in range(30):
        await limiter.acquire()
    assert clock.now == 0.0
    await limiter.acquire()
    assert clock.now == pytest.approx(2.0)


async def test_rate_limiter_refills_over_time_up_to_capacity() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, burst=5, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        assert limiter.try_acquire()
    assert not limiter.try_acquire()
    clock.now += 2.5
    assert [limiter.try_acquire() for _ in range(3)] == [True, True, False]
    clock.now += 3600
    assert sum(limiter.try_acquire() for _ in range(10)) == 5


async def test_rate_limiter_serves_concurrent_waiters_in_order() -> None:
    clock = FakeClock()
    limiter = RateLimiter(120, burst=1, clock=clock, sleep=clock.sleep)
    done: list[tuple[int, float]] = []

    async def worker(n: int) -> None:
        await limiter.acquire()
        done.append((n, clock.now))

    await asyncio.gather(*(worker(n) for n in range(4)))
    assert [n for n, _ in done] == [0, 1, 2, 3]
    assert [t for _, t in done] == pytest.approx([0.0, 0.5, 1.0, 1.5])


async def test_rate_limiter_cancelled_waiter_consumes_nothing() -> None:
    clock = FakeClock()
    gate = asyncio.Event()

    async def stalled_sleep(seconds: float) -> None:
        await gate.wait()

    limiter = RateLimiter(60, burst=1, clock=clock, sleep=stalled_sleep)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    clock.now = 1.0
    assert limiter.try_acquire()
    assert not limiter.try_acquire()
