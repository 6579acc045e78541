"""Plans the project's tests have passed: generate, execute, score, refine.

Each attempt is planned and checked as ``VerifiedPlanner`` does (it must parse, stay in its
unit and bind its names), then the rewritten file is handed to a ``Critic`` that runs the tests
exercising the unit (the server's runs them in a copy of the project). A failure is put back to
the planner with what that rewrite changed and what the tests said (``inputs.retried_problem``),
up to ``attempts`` times. The first plan whose tests pass is verified by them; when none passes, the
last one that could run is offered as a suggestion, with what failed. Running tests is I/O, so
the critic is passed in: this module only decides.

A finding that carries its own fix (the repair finder's change, a rule's fix) has it tried
first, under the same tests and at no LM cost: a repair that passes is the fix, one that fails
is what the first plan is told it tried. Then, with an ``EditSearch``, small edits of the
finding's lines (``repair_edits``: an operator, a variable, an index), the likeliest first, up
to its budget of test runs: most one-line bugs are one token off, and trying such an edit costs
a test run where a plan costs a reply that writes the whole unit again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import dspy

from ..fixes import OverlappingEdits, apply_edits
from ..lm_findings import UnreadableReply
from ..models import Finding
from ..plans import PlanCheck, check_plan
from ..repair_edits import LineEdit, Scores, line_edits, rank
from ..units import Unit, split_units, unit_named
from .attempts import Attempt, Critic, failed_reason, offered, plan_of
from .inputs import NOT_IN_A_UNIT, placed_problem, plan_inputs, retried_problem
from .modules import RefactorPlanner
from .verified_plan import Guard, sampled, unguarded


@dataclass(frozen=True)
class EditSearch:
    """Up to ``budget`` edits of the finding's lines run under the tests, ordered by ``score``
    (a unit's likelihood under a model; None: ``repair_edits.EDITS`` order)."""

    budget: int
    score: Scores | None = None


class FixLoop(dspy.Module):
    """Returns ``Prediction(plan, reason, attempts)``: the plan whose tests passed, else the
    last one that ran as a suggestion, else None and why."""

    def __init__(
        self,
        planner: RefactorPlanner,
        attempts: int,
        critic: Critic,
        guard: Guard = unguarded,
        *,
        feedback: bool = True,
        edits: EditSearch | None = None,
    ) -> None:
        super().__init__()
        self.planner = planner
        self.attempts = attempts
        self.critic = critic
        self.guard = guard
        self.feedback = feedback
        """False: retries are asked the same problem, sampled (what the loop is measured
        against: does the failure help, or only another draw?)."""
        self.edits = edits

    async def aforward(self, source: str, finding: Finding) -> dspy.Prediction:
        located = placed_problem(split_units(source), finding)
        if located is None:
            return dspy.Prediction(plan=None, reason=NOT_IN_A_UNIT, attempts=[])
        unit, problem = located
        asked = problem
        tried: list[Attempt] = []
        own = _own_fix(source, unit, finding)
        if own is not None:  # the finding's own fix first: tested, it costs no LM call
            check = check_plan(source, unit, own, finding)
            if check.offered:
                verdict = await self.critic(apply_edits(source, check.edits))
                title = finding.fix.title if finding.fix else ""
                tried.append(Attempt(own, problem, verdict, title=title))
                if verdict.passed:
                    return self._outcome(source, finding, tried)
                if self.feedback:
                    asked = retried_problem(problem, unit.text, own, verdict.output)
        for edit, check in await self._edits(source, unit, finding):
            if edit.unit == own:  # the finding's own fix, already run
                continue
            verdict = await self.critic(apply_edits(source, check.edits))
            tried.append(Attempt(edit.unit, problem, verdict, title=edit.title))
            if verdict.passed:
                return self._outcome(source, finding, tried)
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
            if self.feedback:
                asked = retried_problem(problem, unit.text, rewrite, verdict.output)
        return self._outcome(source, finding, tried)

    async def _edits(
        self, source: str, unit: Unit, finding: Finding
    ) -> list[tuple[LineEdit, PlanCheck]]:
        """The edits to run, best first, with their checks: those the plan checks offer (they
        bind every name they read), up to the budget; scoring them runs the model, so off the
        event loop."""
        search = self.edits
        if search is None or search.budget <= 0:
            return []
        lines = (finding.span.start.line + 1, finding.span.end.line + 1)

        def ranked() -> list[tuple[LineEdit, PlanCheck]]:
            checked = {
                e: check_plan(source, unit, e.unit, finding)
                for e in line_edits(source, unit.qualname, lines)
            }
            usable = [e for e, check in checked.items() if check.offered]
            return [(e, checked[e]) for e in rank(usable, search.score)[: search.budget]]

        return await asyncio.to_thread(ranked)

    @staticmethod
    def _outcome(source: str, finding: Finding, tried: list[Attempt]) -> dspy.Prediction:
        chosen = offered(tried)
        plan = plan_of(source, finding, chosen) if chosen is not None else None
        reason = "" if chosen is not None and chosen.passed else failed_reason(tried)
        return dspy.Prediction(plan=plan, reason=reason, attempts=tried)


def _own_fix(source: str, unit: Unit, finding: Finding) -> str | None:
    """The unit as the finding's own fix leaves it (the repair's change, a rule's fix), or
    None when it has none or it does not apply."""
    if finding.fix is None:
        return None
    try:
        changed = unit_named(split_units(apply_edits(source, finding.fix.edits)), unit.qualname)
    except OverlappingEdits:
        return None
    return changed.text if changed is not None and changed.text != unit.text else None
