"""The fix loop's record of what it tried, and what is offered from it; plain data, no dspy.

An ``Attempt`` holds the rewrite of the unit and the tests' ``Verdict`` on it, which is all it
takes to offer its plan again later (``plan_of``), wherever the unit has moved in its file: the
editor caches attempts, the shell reports them, the feedback store keeps them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..models import Finding, RefactorPlan
from ..plans import check_plan, to_plan
from ..test_failures import failure_summary
from ..units import split_units
from .inputs import placed_problem


@dataclass(frozen=True)
class Verdict:
    passed: bool
    tests: int
    """How many tests ran."""
    output: str
    """What they printed (capped)."""


class Critic(Protocol):
    """Runs the tests that exercise the unit on ``new_source`` (the whole file, rewritten)."""

    def __call__(self, new_source: str, /) -> Awaitable[Verdict]: ...


@dataclass(frozen=True)
class Attempt:
    """One try of the loop, as recorded: the rewrite of the unit, why it was not run (if so),
    and what the tests said (None: they did not run). Enough to rebuild its plan on the same
    unit later (``plan_of``), wherever the unit has moved in its file."""

    rewrite: str
    problem: str
    verdict: Verdict | None
    refused: str = ""
    title: str = ""
    steps: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.verdict is not None and self.verdict.passed


def offered(attempts: Sequence[Attempt]) -> Attempt | None:
    """The attempt to offer: the first the tests passed, else the last they ran on."""
    ran = [a for a in attempts if a.verdict is not None]
    return next((a for a in ran if a.passed), ran[-1] if ran else None)


def plan_of(source: str, finding: Finding, attempt: Attempt) -> RefactorPlan | None:
    """``attempt``'s plan on ``source``: checked again, verified by its tests when they passed
    (and it adds no outside-reaching API), a suggestion otherwise; None when it no longer fits."""
    located = placed_problem(split_units(source), finding)
    if located is None or attempt.verdict is None:
        return None
    check = check_plan(source, located[0], attempt.rewrite, finding)
    if not check.offered:
        return None
    plan = to_plan(attempt.title, list(attempt.steps), check, finding)
    if attempt.passed:  # the tests, not the static checks, are the verdict now
        return plan.model_copy(
            update={"verified": not plan.adds, "tests_passed": attempt.verdict.tests}
        )
    return plan.model_copy(update={"verified": False})


def failed_reason(attempts: Sequence[Attempt]) -> str:
    """Why no plan passed: every run failed, or nothing could run (the last refusal)."""
    if any(a.verdict is not None for a in attempts):
        return f"the tests failed on every attempt ({len(attempts)})"
    return attempts[-1].refused if attempts else "no attempt was made"


def attempt_line(attempt: Attempt) -> str:
    """One line of what an attempt came to: the tests' word, or why they did not run."""
    verdict = attempt.verdict
    if verdict is None:
        return f"not run: {attempt.refused}"
    if verdict.passed:
        return f"tests passed ({verdict.tests})"
    summary = failure_summary(verdict.output).splitlines()
    said = next((ln for ln in summary if ln.startswith("E ")), summary[-1] if summary else "")
    return f"tests failed: {' '.join(said.split())[:160]}"
