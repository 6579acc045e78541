"""Hard ceilings on the LM requests and tokens of one ``dspy-lsp optimize`` run.

A repository can ask for a huge optimizer budget; the ceilings bound what one run spends with
the user's key whatever the optimizer does. The guard sits where dspy sends each request attempt
(``dspy.clients.execution._attempt``, once per try, so retries count): a callback cannot refuse
(dspy swallows its exceptions), and a wrapper around ``LM.__call__`` would miss the retries
inside it. dspy 3.4 sends every call of every engine (lm15, LiteLLM, custom, legacy) through
that function; ``budgeted`` refuses to run unguarded if a dspy release changes it.

Optimizers catch exceptions per candidate, so a refusal alone does not end a run (GEPA would
spin through refusals for hours): the guard keeps refusing without network, and
``run_within`` abandons the run at the first refusal.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, Self, TypeVar

import dspy

_ATTRIBUTE = "_dspy_lsp_budget"
_ATTEMPT_PARAMETERS = ["lm", "call", "backend", "request", "provider", "state", "results"]
_POLL_S = 0.05
_LM = TypeVar("_LM")
_T = TypeVar("_T")


class BudgetExhausted(dspy.LMError):
    """A ceiling was reached: the request was not sent, and no later one will be.

    An ``LMError`` so that dspy passes it through its error boundary as is, and never retries it.
    """

    default_code = "budget_exhausted"


class LmBudget:
    """Requests and tokens one run may spend, shared by every LM (and LM copy) it uses.

    Tokens are known only once a request is answered, so requests already in flight can take
    the total past ``max_tokens``; no request starts after that.
    """

    def __init__(self, max_requests: int, max_tokens: int) -> None:
        if max_requests < 1 or max_tokens < 1:
            raise ValueError("LM budget ceilings must be at least 1")
        self.max_requests = max_requests
        self.max_tokens = max_tokens
        self.requests = 0
        self.tokens = 0
        self.stopped = threading.Event()
        """Set at the first refusal: the run is cut short and its result must not be used."""
        self._lock = threading.Lock()

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        """A deep-copied LM (``Module.deepcopy``) spends from the same budget."""
        return self

    def exhausted(self) -> BudgetExhausted:
        return BudgetExhausted(
            f"LM budget reached: {self.max_requests} requests / {self.max_tokens} tokens"
        )

    def admit(self) -> None:
        """Count one request about to be sent, or refuse it: a ceiling is reached."""
        with self._lock:
            if self.requests < self.max_requests and self.tokens < self.max_tokens:
                self.requests += 1
                return
        self.stopped.set()
        raise self.exhausted()

    def spend(self, tokens: int) -> None:
        """Add the prompt and completion tokens an answered request reported."""
        with self._lock:
            self.tokens += tokens


def budgeted(lm: _LM, budget: LmBudget) -> _LM:
    """``lm`` with its requests counted against ``budget``; ``lm.copy()`` shares the budget."""
    _install()
    setattr(lm, _ATTRIBUTE, budget)
    return lm


def run_within(budget: LmBudget, work: Callable[[], _T]) -> _T:
    """``work()``, abandoned at the budget's first refusal (BudgetExhausted).

    It runs in a daemon thread, which cannot keep the process alive once abandoned; it only
    meets refusals from then on. A run that finished after a refusal raises too: its result
    comes from a cut-short search.
    """
    outcome: list[tuple[bool, Any]] = []

    def target() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as exc:  # handed to the caller's thread, raised there
            outcome.append((False, exc))

    thread = threading.Thread(target=target, name="lm-budgeted-run", daemon=True)
    thread.start()
    while thread.is_alive() and not budget.stopped.wait(_POLL_S):
        pass
    if budget.stopped.is_set():
        raise budget.exhausted()
    finished, value = outcome[0]
    if not finished:
        raise value
    result: _T = value
    return result


def _tokens(usage: Mapping[str, Any] | None) -> int:
    usage = usage or {}
    return int(usage.get("prompt_tokens") or 0) + int(usage.get("completion_tokens") or 0)


@contextlib.contextmanager
def _counted(budget: LmBudget, results: list[Any]) -> Iterator[None]:
    """One attempt: admitted first, then charged the usage it reported. dspy's ``results``
    collects the answers of one call; an answered attempt appends its own."""
    budget.admit()
    answered = len(results)
    try:
        yield
    finally:
        budget.spend(sum(_tokens(r.usage) for r in results[answered:]))


def _guard(attempt: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(attempt)
    def guarded(lm: Any, *args: Any) -> None:
        budget: LmBudget | None = getattr(lm, _ATTRIBUTE, None)
        if budget is None:
            return attempt(lm, *args)
        with _counted(budget, args[-1]):
            attempt(lm, *args)

    return guarded


def _guard_async(attempt: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    @functools.wraps(attempt)
    async def guarded(lm: Any, *args: Any) -> None:
        budget: LmBudget | None = getattr(lm, _ATTRIBUTE, None)
        if budget is None:
            return await attempt(lm, *args)
        with _counted(budget, args[-1]):
            await attempt(lm, *args)

    return guarded


_install_lock = threading.Lock()
_installed = False


def _install() -> None:
    """Guard dspy's request attempts, once per process."""
    global _installed
    from dspy.clients import execution

    with _install_lock:
        if _installed:
            return
        for name in ("_attempt", "_aattempt"):
            attempt = getattr(execution, name, None)
            if attempt is None or list(inspect.signature(attempt).parameters) != (
                _ATTEMPT_PARAMETERS
            ):
                raise RuntimeError(f"dspy changed execution.{name}: cannot enforce LM budgets")
        execution._attempt = _guard(execution._attempt)
        execution._aattempt = _guard_async(execution._aattempt)
        _installed = True
