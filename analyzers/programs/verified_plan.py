"""Asking the planner until a rewrite is verified: the plan-attempt loop, as a DSPy Module.

The first attempt asks the LM as configured (greedy, cached: the same unit gets the same plan
again); later ones are sampled as ``dspy.BestOfN`` samples (a rollout id per attempt), at 0.7
rather than 1.0, where a small local model's rewrites stop being code. It stops at the first
verified plan (``analyzers/plans``). Unlike ``BestOfN``, each attempt runs through a
``guard`` the caller passes: the server's applies its circuit breaker, rate limit and retries,
so a failed attempt is raised, never printed and swallowed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import dspy

from ..lm_findings import UnreadableReply
from ..models import Finding
from ..plans import PlanCheck, check_plan, to_plan
from ..units import split_units
from .inputs import NOT_IN_A_UNIT, PlanInputs, placed_problem, plan_inputs
from .modules import RefactorPlanner

T = TypeVar("T")


class Guard(Protocol):
    """Runs one attempt (a call of the planner) and returns its result, or raises."""

    def __call__(self, attempt: Callable[[], Awaitable[T]], /) -> Awaitable[T]: ...


async def unguarded(attempt: Callable[[], Awaitable[T]], /) -> T:
    """The guard of a caller with no breaker or retries: run the attempt once."""
    return await attempt()


class VerifiedPlanner(dspy.Module):
    """``RefactorPlanner`` asked up to ``attempts`` times for a plan of one finding.

    Returns ``Prediction(plan=RefactorPlan | None, reason=str)``: the verified plan, else the
    best suggestion, else None and why. Async only; the LM is the caller's ``dspy.context``.
    """

    def __init__(self, planner: RefactorPlanner, attempts: int, guard: Guard = unguarded) -> None:
        super().__init__()
        self.planner = planner
        self.attempts = attempts
        self.guard = guard

    async def aforward(self, source: str, finding: Finding) -> dspy.Prediction:
        located = placed_problem(split_units(source), finding)
        if located is None:
            return dspy.Prediction(plan=None, reason=NOT_IN_A_UNIT)
        unit, problem = located
        inputs = plan_inputs(unit.text, unit.prompt_context, problem)
        best: tuple[dspy.Prediction, PlanCheck] | None = None
        why = ""
        for attempt in range(self.attempts):
            try:
                prediction = await self.guard(lambda n=attempt: sampled(self.planner, n, inputs))
            except (UnreadableReply, dspy.AdapterParseError) as exc:
                why = f"the model's reply could not be read: {' '.join(str(exc).split())}"
                continue
            check = check_plan(source, unit, prediction.rewritten_code or "", finding)
            if best is None or check.reward > best[1].reward:
                best = (prediction, check)
            if check.verified:
                break
        if best is None:
            return dspy.Prediction(plan=None, reason=why)
        prediction, check = best
        if not check.offered:
            return dspy.Prediction(plan=None, reason=check.reason)
        steps = list(prediction.steps or [])
        plan = to_plan(prediction.title or "", steps, check, finding)
        return dspy.Prediction(plan=plan, reason=check.reason)


RETRY_TEMPERATURE = 0.7


async def sampled(planner: RefactorPlanner, attempt: int, inputs: PlanInputs) -> dspy.Prediction:
    """One attempt on the LM the guard (or the caller) put in context: the first as it is
    configured, later ones on a sampled copy."""
    if attempt == 0:
        return await planner.acall(**inputs)
    lm = dspy.settings.lm.copy(rollout_id=attempt, temperature=RETRY_TEMPERATURE)
    with dspy.context(lm=lm):
        return await planner.acall(**inputs)
