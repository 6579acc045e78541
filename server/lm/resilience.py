"""Keep a flaky language model from taking the server down with it.

Three small, independent pieces, composed by the caller:

* ``call_with_retries`` + ``RetryPolicy``: exponential backoff with jitter that
  honours a provider's ``Retry-After`` hint, judging each error by a ``classify``
  function (``errors.classify_lm_error`` for what ``dspy.LM`` raises).
* ``CircuitBreaker`` (one per model): stop hammering a model that keeps failing.
* ``RateLimiter``: an async token bucket so we never exceed a requests-per-minute budget.

Why we retry here at all: dspy 3.4 owns retries (``dspy.LM(num_retries=...)``) but
sleeps ``min(2**attempt, 60)`` seconds in a worker thread where a cancelled LSP
request cannot stop it. Building LMs with ``num_retries=0`` and retrying in asyncio
keeps every wait cancellable and the delays tuned for interactive use.

Nothing in this module knows about LSP or dspy, so importing it stays cheap.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from .errors import Failure

__all__ = [
    "BreakerState",
    "CircuitBreaker",
    "RateLimiter",
    "RetryPolicy",
    "call_with_retries",
]

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]
BreakerState = Literal["closed", "open", "half_open"]


# --------------------------------------------------------------------------------------
# Retry
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How persistently to retry.

    ``max_attempts`` counts the first call, so 1 means "never retry". The n-th
    retry waits ``base_delay_s * 2**(n-1)``, scaled by a random factor in
    ``[1 - jitter, 1 + jitter]`` (so concurrent clients do not retry in lockstep),
    and never more than ``max_delay_s``.
    """

    max_attempts: int = 3
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError("delays must be >= 0")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be a fraction in [0, 1]")

    def delay_s(self, retry: int, rng: random.Random, retry_after_s: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based).

        A server's ``Retry-After`` is a floor, not a suggestion: retrying sooner
        just earns another 429. It is still capped by ``max_delay_s`` so one
        hostile header cannot park an interactive request for minutes.
        """
        backoff = self.base_delay_s * 2 ** (retry - 1)
        if self.jitter:
            backoff *= 1.0 + rng.uniform(-self.jitter, self.jitter)
        if retry_after_s is not None:
            backoff = max(backoff, retry_after_s)
        return max(0.0, min(backoff, self.max_delay_s))


async def call_with_retries(
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    classify: Callable[[BaseException], Failure],
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
) -> T:
    """Await ``fn()`` until it succeeds, a non-retryable error occurs, or attempts run out.

    ``fn`` is a zero-argument factory because a coroutine object can only be awaited
    once. The last error is re-raised unchanged (with a note saying how many
    attempts were made) so callers can still classify it. ``CancelledError`` is a
    ``BaseException`` and is never caught, so cancelling the caller cancels the
    backoff sleep too. ``on_retry(attempt, error, delay_s)`` is for telemetry.
    """
    rng = rng or random.Random()
    attempt = 1
    while True:
        try:
            return await fn()
        except Exception as exc:
            failure = classify(exc)
            if not failure.retryable or attempt >= policy.max_attempts:
                if attempt > 1:
                    exc.add_note(f"gave up after {attempt} attempts ({failure.reason})")
                raise
            delay = policy.delay_s(attempt, rng, failure.retry_after_s)
            if on_retry is not None:
                on_retry(attempt, exc, delay)
        await sleep(delay)
        attempt += 1


# --------------------------------------------------------------------------------------
# Circuit breaker
# --------------------------------------------------------------------------------------


class CircuitBreaker:
    """Fail fast for a model that keeps failing, then probe it once in a while.

    ``closed``: everything is allowed; ``failure_threshold`` consecutive failures open it.
    ``open``: ``allow()`` is False until ``reset_after_s`` has passed since it opened.
    ``half_open``: exactly one probe is let through; its success closes the breaker,
    its failure re-opens it for another ``reset_after_s``.

    A probe whose outcome is never recorded (the caller was cancelled) would wedge the
    breaker half-open forever, so an unanswered probe slot expires after
    ``reset_after_s`` and another probe is allowed. Thread-safe, because dspy may run
    programs in worker threads.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_after_s: float = 30.0,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state: BreakerState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._probe_started_at: float | None = None

    @property
    def state(self) -> BreakerState:
        """Current state; an open breaker whose cool-down has passed reads ``half_open``."""
        with self._lock:
            return self._current_state_locked()

    @property
    def consecutive_failures(self) -> int:
        with self._lock:
            return self._failures

    def allow(self) -> bool:
        """May a request go out now? In half-open state, True hands out the single probe."""
        with self._lock:
            state = self._current_state_locked()
            if state == "closed":
                return True
            if state == "open":
                return False
            now = self._clock()
            probe = self._probe_started_at
            if probe is not None and now - probe < self.reset_after_s:
                return False
            self._state = "half_open"
            self._probe_started_at = now
            return True

    def record_success(self) -> None:
        with self._lock:
            self._state = "closed"
            self._failures = 0
            self._probe_started_at = None

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            state = self._current_state_locked()
            if state == "half_open" or (
                state == "closed" and self._failures >= self.failure_threshold
            ):
                self._open_locked()
            # Already open: a late failure from a request admitted earlier; keep the timer.

    def _open_locked(self) -> None:
        self._state = "open"
        self._opened_at = self._clock()
        self._probe_started_at = None

    def _current_state_locked(self) -> BreakerState:
        if self._state == "open" and self._clock() - self._opened_at >= self.reset_after_s:
            self._state = "half_open"
        return self._state


# --------------------------------------------------------------------------------------
# Rate limiting
# --------------------------------------------------------------------------------------


class RateLimiter:
    """Async token bucket: at most ``requests_per_minute`` on average.

    The bucket holds ``burst`` tokens (default: a full minute's budget, which is what
    providers' per-minute windows allow anyway; pass ``burst=1`` for strict pacing)
    and refills continuously. Waiters are served first-come first-served, and a
    waiter that is cancelled consumes nothing. ``0`` or ``None`` disables limiting.
    """

    def __init__(
        self,
        requests_per_minute: float | None,
        *,
        burst: int | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if requests_per_minute is not None and requests_per_minute < 0:
            raise ValueError("requests_per_minute must be >= 0 or None")
        self._rate_per_s = (requests_per_minute or 0) / 60.0
        self.capacity = float(burst if burst is not None else max(1, int(requests_per_minute or 1)))
        if self.capacity < 1:
            raise ValueError("burst must be >= 1")
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._updated_at = clock()
        self._lock = asyncio.Lock()

    @property
    def unlimited(self) -> bool:
        return self._rate_per_s == 0

    def try_acquire(self) -> bool:
        """Take a token if one is available right now, without waiting."""
        if self.unlimited:
            return True
        if self._lock.locked():  # others are already queued; do not jump the line
            return False
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    async def acquire(self) -> None:
        """Wait until a request may be sent, then take the token."""
        if self.unlimited:
            return
        async with self._lock:
            while True:
                self._refill()
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await self._sleep((1 - self._tokens) / self._rate_per_s)

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated_at)
        self._tokens = min(self.capacity, self._tokens + elapsed * self._rate_per_s)
        self._updated_at = now
