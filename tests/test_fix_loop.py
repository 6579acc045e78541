"""The fix loop on a tiny project with a real bug and a test: a plan that fails the tests is
planned again with the failure, the user's files are untouched, and a unit in a test file is
never judged by the tests it would edit."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import dspy
import pytest
from fakes.reviewer import fields, reply
from fakes.scripted_lm import scripted_lm

from dspy_lsp.analyzers.fixes import apply_edits
from dspy_lsp.analyzers.models import Finding, Severity, Span
from dspy_lsp.analyzers.programs.fix_loop import EditSearch, FixLoop
from dspy_lsp.analyzers.programs.modules import RefactorPlanner
from dspy_lsp.server.verify.critic import NoCritic, ProjectCritic, passed_count, unit_tests
from dspy_lsp.server.verify.sandbox import project_copy

CALC = "def add(a, b):\n    return a - b\n"
PYTEST = f"{sys.executable} -m pytest -x -q -p no:cacheprovider"
FINDING = Finding(
    id="f1",
    rule="LM-bug",
    severity=Severity.WARNING,
    message="`return a - b` looks wrong: should it be `return a + b`?",
    rationale="",
    confidence=1.0,
    span=Span.of(1, 4, 1, 16),
    origin="repair@test",
)


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "tests").mkdir(parents=True)
    (root / "calc.py").write_text(CALC)
    (root / "conftest.py").write_text("")
    (root / "tests" / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    )
    return root


def _planner(answers: list[str]) -> tuple[dspy.LM, list[str]]:
    """A planner that answers ``answers`` in turn, and the problems it was asked."""
    asked: list[str] = []

    def answer(messages: list[dict[str, Any]]) -> str:
        asked.append(fields(messages[-1]["content"])["problem"])
        body = answers[min(len(asked), len(answers)) - 1]
        return reply(title="Fix add", steps=["add, not subtract"], rewritten_code=body)

    lm, _ = scripted_lm(answer)
    return lm, asked


async def _loop(
    tmp_path: Path, answers: list[str], attempts: int = 3, edits: EditSearch | None = None
) -> tuple[Any, list[str]]:
    root = _project(tmp_path)
    lm, asked = _planner(answers)
    tests = unit_tests(root, "calc.py", "add", (1, 2), coverage=None)
    with project_copy(root) as copy:
        critic = ProjectCritic(copy, "calc.py", tests, command=PYTEST, timeout_s=120)
        planner = FixLoop(RefactorPlanner(), attempts, critic, edits=edits)
        with dspy.context(lm=lm, adapter=dspy.ChatAdapter(use_json_adapter_fallback=False)):
            outcome = await planner.acall(source=CALC, finding=FINDING)
    assert (root / "calc.py").read_text() == CALC  # untouched until the user accepts
    return outcome, asked


async def test_a_failing_plan_is_planned_again_with_the_failure_until_the_tests_pass(
    tmp_path: Path,
) -> None:
    wrong = "def add(a, b):\n    return a * b\n"
    right = "def add(a, b):\n    return a + b\n"
    outcome, asked = await _loop(tmp_path, [wrong, right])
    first, second = outcome.attempts
    assert first.verdict is not None and not first.verdict.passed
    assert "assert 6 == 5" in first.verdict.output
    assert "failed the project's tests" in asked[1] and "assert 6 == 5" in asked[1]
    assert second.verdict is not None and second.verdict.passed and second.verdict.tests == 1
    plan = outcome.plan
    assert plan.verified and plan.tests_passed == 1 and outcome.reason == ""
    assert apply_edits(CALC, plan.edits) == right


async def test_a_plan_that_never_passes_is_only_a_suggestion_with_what_failed(
    tmp_path: Path,
) -> None:
    outcome, asked = await _loop(tmp_path, ["def add(a, b):\n    return a * b\n"], attempts=2)
    assert len(asked) == 2 and outcome.reason == "the tests failed on every attempt (2)"
    assert not outcome.plan.verified and outcome.plan.tests_passed == 0


async def test_a_rewrite_that_does_not_parse_never_reaches_the_tests(tmp_path: Path) -> None:
    outcome, _ = await _loop(tmp_path, ["def add(a, b):\n    return (a +\n"], attempts=1)
    [attempt] = outcome.attempts
    assert attempt.verdict is None and "does not parse" in attempt.refused
    assert outcome.plan is None


def test_a_unit_in_a_test_file_is_not_judged_by_the_tests_it_would_edit(tmp_path: Path) -> None:
    root = _project(tmp_path)
    with pytest.raises(NoCritic, match="test file"):
        unit_tests(root, "tests/test_calc.py", "test_add", (4, 5), coverage=None)
    with pytest.raises(NoCritic, match="no test exercises"):
        (root / "other.py").write_text("def lonely():\n    return 1\n")
        unit_tests(root, "other.py", "lonely", (1, 2), coverage=None)


@pytest.mark.parametrize(
    "cheat",
    [
        "def add(a, b):\n    import os\n    os._exit(0)\n",
        "def add(a, b):\n    import os\n    os.remove('tests/test_calc.py')\n    return a + b\n",
    ],
    ids=["ends-the-run", "deletes-the-test"],
)
async def test_a_rewrite_that_silences_the_tests_does_not_pass(tmp_path: Path, cheat: str) -> None:
    """Exit 0 with no test counted passing is not a pass; a deleted test is not a passed one."""
    outcome, _ = await _loop(tmp_path, [cheat], attempts=1)
    [attempt] = outcome.attempts
    assert attempt.verdict is not None and not attempt.verdict.passed
    assert not outcome.plan.verified and outcome.plan.tests_passed == 0
    assert (tmp_path / "proj" / "tests" / "test_calc.py").is_file()  # only the copy's was touched
    if "remove" in cheat:
        assert "changed the tests that judge it: tests/test_calc.py" in attempt.verdict.output


def test_unittest_summaries_are_counted_too() -> None:
    assert passed_count("..\n----\nRan 2 tests in 0.001s\n\nOK\n") == 2
    assert passed_count("Ran 2 tests in 0.001s\n\nFAILED (failures=1)\n") == 0
    assert passed_count("3 passed, 1 warning in 0.2s") == 3


async def test_an_edit_of_the_line_that_passes_the_tests_is_the_fix_and_no_plan_is_asked(
    tmp_path: Path,
) -> None:
    outcome, asked = await _loop(tmp_path, ["never asked"], edits=EditSearch(budget=8))
    assert asked == []
    assert outcome.plan is not None and outcome.plan.tests_passed == 1
    assert outcome.plan.title == "Edit: `return a - b` -> `return a + b`"
    assert apply_edits(CALC, outcome.plan.edits) == "def add(a, b):\n    return a + b\n"
    assert all(a.verdict is not None for a in outcome.attempts)  # each edit ran the tests


async def test_the_score_orders_the_edits_and_the_budget_caps_the_test_runs(
    tmp_path: Path,
) -> None:
    right = "def add(a, b):\n    return a * b\n"  # a plan the tests fail: only the edits pass
    disliked = EditSearch(budget=2, score=lambda units: [-("a + b" in u) for u in units])
    outcome, asked = await _loop(tmp_path, [right], attempts=1, edits=disliked)
    edits = [a for a in outcome.attempts if a.title.startswith("Edit:")]
    assert len(edits) == 2 and "a + b" not in "".join(a.rewrite for a in edits)
    assert len(asked) == 1 and outcome.plan is not None and not outcome.plan.tests_passed

    liked = EditSearch(budget=2, score=lambda units: [float("a + b" in u) for u in units])
    outcome, asked = await _loop(tmp_path / "again", [right], attempts=1, edits=liked)
    assert [a.title for a in outcome.attempts] == ["Edit: `return a - b` -> `return a + b`"]
    assert asked == [] and outcome.plan is not None and outcome.plan.tests_passed == 1
