"""Plans the project's tests have passed: generate, execute, score, refine.

Each attempt is planned and checked as ``VerifiedPlanner`` does (it must parse, stay in its
unit and bind its names), then the rewritten file is handed to a ``Critic`` that runs the tests
exercising the unit (the server's runs them in a copy of the project). A failure is put back to
the planner with the end of what the tests printed (``inputs.retried_problem``), up to
``attempts`` times. The first plan whose tests pass is verified by them; when none passes, the
last one that could run is offered as a suggestion, with what failed. Running tests is I/O, so
the critic is passed in: this module only decides.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

import dspy

from ..fixes import apply_edits
from ..lm_findings import UnreadableReply
from ..models import Finding, RefactorPlan
from ..plans import PlanCheck, check_plan, to_plan
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
    """One try of the loop, as recorded: the rewrite, why it was not offered (if so), and
    what the tests said (None: they did not run)."""

    rewrite: str
    problem: str
    verdict: Verdict | None
    refused: str = ""


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
        ran: tuple[dspy.Prediction, PlanCheck, Verdict] | None = None
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
            check = check_plan(source, unit, rewrite, finding)
            if not check.offered:
                tried.append(Attempt(rewrite, asked, None, check.reason))
                continue
            verdict = await self.critic(apply_edits(source, check.edits))
            tried.append(Attempt(rewrite, asked, verdict))
            if verdict.passed:
                plan = _plan(prediction, check, finding, verdict)
                return dspy.Prediction(plan=plan, reason="", attempts=tried)
            ran = (prediction, check, verdict)
            asked = retried_problem(problem, verdict.output)
        if ran is None:
            why = tried[-1].refused if tried else "no attempt was made"
            return dspy.Prediction(plan=None, reason=why, attempts=tried)
        prediction, check, verdict = ran
        why = f"the tests failed on every attempt ({len(tried)})"
        return dspy.Prediction(
            plan=_plan(prediction, check, finding, verdict), reason=why, attempts=tried
        )


def _plan(
    prediction: dspy.Prediction, check: PlanCheck, finding: Finding, verdict: Verdict
) -> RefactorPlan:
    plan = to_plan(str(prediction.title or ""), list(prediction.steps or []), check, finding)
    if verdict.passed:  # the tests, not the static checks, are the verdict now
        return plan.model_copy(update={"verified": not plan.adds, "tests_passed": verdict.tests})
    return plan.model_copy(update={"verified": False})
