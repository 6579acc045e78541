"""Plans the project's tests have passed: generate, execute, score, refine.

Each attempt is planned and checked as ``VerifiedPlanner`` does (it must parse, stay in its
unit and bind its names), then the rewritten file is handed to a ``Critic`` that runs the tests
exercising the unit (the server's runs them in a copy of the project). A failure is put back to
the planner with what that rewrite changed and what the tests said (``inputs.retried_problem``),
up to ``attempts`` times. The first plan whose tests pass is verified by them; when none passes, the
last one that could run is offered as a suggestion, with what failed. Running tests is I/O, so
the critic is passed in: this module only decides.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Protocol

import dspy

from ..fixes import apply_edits
from ..lm_findings import UnreadableReply
from ..models import Finding, RefactorPlan
from ..plans import check_plan, to_plan
from ..units import split_units
from .inputs import NOT_IN_A_UNIT, placed_problem, plan_inputs, retried_problem
from .modules import RefactorPlanner
from .verified_plan import Guard, sampled, unguarded


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


class FixLoop(dspy.Module):
    """Returns ``Prediction(plan, reason, attempts)``: the plan whose tests passed, else the
    last one that ran as a suggestion, else None and why."""

    def __init__(
        self, planner: RefactorPlanner, attempts: int, critic: Critic, guard: Guard = unguarded
    ) -> None:
        super().__init__()
        self.planner = planner
        self.attempts = attempts
        self.critic = critic
        self.guard = guard

    async def aforward(self, source: str, finding: Finding) -> dspy.Prediction:
        located = placed_problem(split_units(source), finding)
        if located is None:
            return dspy.Prediction(plan=None, reason=NOT_IN_A_UNIT, attempts=[])
        unit, problem = located
        asked = problem
        tried: list[Attempt] = []
        for n in range(self.attempts):
            inputs = plan_inputs(unit.text, unit.prompt_context, asked)
            try:
                prediction = await self.guard(
                    lambda n=n, inputs=inputs: sampled(self.planner, n, inputs)
                )
            except (UnreadableReply, dspy.AdapterParseError) as exc:
                tried.append(Attempt("", asked, None, f"unreadable reply: {exc}"[:200]))
                continue
            rewrite = str(prediction.rewritten_code or "")
            described = {
                "title": str(prediction.title or ""),
                "steps": tuple(str(s) for s in prediction.steps or ()),
            }
            check = check_plan(source, unit, rewrite, finding)
            if not check.offered:
                tried.append(Attempt(rewrite, asked, None, check.reason, **described))
                continue
            verdict = await self.critic(apply_edits(source, check.edits))
            tried.append(Attempt(rewrite, asked, verdict, **described))
            if verdict.passed:
                break
            asked = retried_problem(problem, unit.text, rewrite, verdict.output)
        chosen = offered(tried)
        plan = plan_of(source, finding, chosen) if chosen is not None else None
        reason = "" if chosen is not None and chosen.passed else failed_reason(tried)
        return dspy.Prediction(plan=plan, reason=reason, attempts=tried)
