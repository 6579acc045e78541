"""The plan-attempt loop as a Module: sampled attempts, each through the caller's guard."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import dspy
import pytest
from fakes.reviewer import Reviewer, reply
from fakes.scripted_lm import scripted_lm

from dspy_lsp.analyzers.models import Finding, Severity, Span
from dspy_lsp.analyzers.programs.inputs import NOT_IN_A_UNIT
from dspy_lsp.analyzers.programs.modules import RefactorPlanner
from dspy_lsp.analyzers.programs.verified_plan import VerifiedPlanner

T = TypeVar("T")
SOURCE = "import ast\n\n\ndef parse(text):\n    return eval(text)\n"
EVAL = Finding(
    id="x",
    rule="LM-security",
    severity=Severity.WARNING,
    message="eval() runs arbitrary code from its input",
    rationale="",
    confidence=0.9,
    span=Span.of(4, 4, 4, 21),
)


class Counting:
    """A plain guard that counts the attempts it runs."""

    def __init__(self) -> None:
        self.attempts = 0

    async def __call__(self, attempt: Callable[[], Awaitable[T]]) -> T:
        self.attempts += 1
        return await attempt()


async def plan(answer: Callable[[list[dict[str, Any]]], str], finding: Finding, guard: Any) -> Any:
    lm, _ = scripted_lm(answer)
    adapter = dspy.ChatAdapter(use_json_adapter_fallback=False)
    with dspy.context(lm=lm, adapter=adapter):
        return await VerifiedPlanner(RefactorPlanner(), 3, guard).acall(
            source=SOURCE, finding=finding
        )


async def test_the_first_verified_plan_ends_the_attempts() -> None:
    reviewer, guard = Reviewer(), Counting()
    outcome = await plan(reviewer, EVAL, guard)
    assert outcome.plan is not None and outcome.plan.verified, outcome.reason
    assert reviewer.plan_calls == guard.attempts == 1


async def test_every_attempt_passes_the_guard_and_an_unreadable_reply_is_a_reason() -> None:
    guard = Counting()
    outcome = await plan(lambda messages: "not the adapter's format", EVAL, guard)
    assert outcome.plan is None and "could not be read" in outcome.reason
    assert guard.attempts == 3


async def test_a_guard_that_refuses_stops_the_loop() -> None:
    async def circuit_open(attempt: Callable[[], Awaitable[T]]) -> T:
        raise ConnectionError("circuit open")

    with pytest.raises(ConnectionError):
        await plan(Reviewer(), EVAL, circuit_open)


async def test_a_finding_outside_every_unit_asks_nothing() -> None:
    on_the_import = EVAL.model_copy(update={"span": Span.of(0, 0, 0, 10)})
    reviewer = Reviewer()
    outcome = await plan(reviewer, on_the_import, Counting())
    assert (outcome.plan, outcome.reason) == (None, NOT_IN_A_UNIT)
    assert reviewer.plan_calls == 0


async def test_steps_written_as_numbered_lines_still_give_the_plan() -> None:
    """A small model lists its steps as text, not JSON: the rewrite must not be lost for it."""

    def numbered(messages: list[dict[str, Any]]) -> str:
        code = SOURCE.split("\n\n\n")[1]
        return reply(
            title="Parse literals only",
            steps="1. Use ast.literal_eval.\n2) Keep the signature\n- nothing else",
            rewritten_code=code.replace("eval(", "ast.literal_eval("),
        )

    outcome = await plan(numbered, EVAL, Counting())
    assert outcome.plan is not None and outcome.plan.verified, outcome.reason
    assert outcome.plan.steps == ("Use ast.literal_eval.", "Keep the signature", "nothing else")
