"""``dspy-lsp fix``: on a tiny project with a real bug and its test, over the real dspy.LM path to
a loopback OpenAI server. The repair finds the bug, the first plan fails the test, the second,
told the failure, passes; ``--apply`` writes it, the default only shows it."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from calc_project import CALC, FIXED, calc_project
from fakes.fixer import Fixer
from fakes.openai_server import FakeOpenAI
from fakes.reviewer import reply

from dspy_lsp.analyzers.learning.metrics import score_plan
from dspy_lsp.analyzers.learning.records import FeedbackKind
from dspy_lsp.analyzers.learning.sources import from_feedback
from dspy_lsp.server.cli.main import main
from dspy_lsp.server.store.feedback_store import FeedbackStore, default_store_path


@dataclass
class Model(Fixer):
    """The fixer, which also reviews toward a ``--goal`` (the analyze program)."""

    goals: list[str] = field(default_factory=list)

    def other(self, inputs: dict[str, str]) -> str:
        return self._review_toward_the_goal(inputs)

    def _review_toward_the_goal(self, inputs: dict[str, str]) -> str:
        """The analyze program, asked with ``--goal``: the subtraction, if the goal is sums."""
        self.goals.append(inputs["context"].splitlines()[0])
        numbered = inputs["code"].splitlines()
        hit = [n for n, line in enumerate(numbered, start=1) if "a - b" in line]
        if "sums" not in inputs["context"] or not hit:
            return reply(findings=[])
        finding = {
            "line": hit[0],
            "end_line": hit[0],
            "category": "bug",
            "severity": "warning",
            "message": "add() subtracts",
            "rationale": "the sum is a + b",
            "confidence": 0.8,
            "snippet": "return a - b",
        }
        return reply(findings=[finding])


def _fix(tmp_path: Path, *extra: str, model: Model | None = None) -> tuple[int, Path, Model]:
    """``fix`` on the calc project; the loop's plans, not its edits, unless ``--edits`` says."""
    root = calc_project(tmp_path)
    model = model or Model()
    edits = [] if "--edits" in extra else ["--edits", "0"]
    with FakeOpenAI(model) as fake:
        argv = ["fix", str(root / "calc.py"), "--lm", "openai/fake", "--api-base", fake.base_url]
        code = main([*argv, "--python", sys.executable, *edits, *extra])
    return code, root, model


@pytest.mark.parametrize("coverage", [[], ["--no-coverage"]], ids=["coverage", "imports"])
def test_fix_shows_a_fix_its_tests_passed_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], coverage: list[str]
) -> None:
    code, root, model = _fix(tmp_path, *coverage)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "LM-bug `return a - b` looks wrong" in out
    assert "fixed: Add, not subtract (tests pass:" in out
    # the repair's own change is tried first; the plan is told how it failed
    assert "attempt 1: tests failed: E assert 6 == 5" in out and "attempt 2: tests passed" in out
    assert "--- a/calc.py" in out
    assert "-    return a - b" in out and "+    return a + b" in out
    assert "1 finding(s): 1 fixed with tests passing, 0 without a passing fix" in out
    assert len(model.problems) == 1 and "+    return a * b" in model.problems[0]
    assert "failed the project's tests" in model.problems[0]
    assert (root / "calc.py").read_text() == CALC  # shown, not written
    if coverage == []:  # the one test that ran add(), not the whole file
        assert "tests pass: 1)" in out


def test_a_repair_the_tests_pass_is_the_fix_with_no_plan_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, model = _fix(tmp_path, "--no-coverage", model=Model(repair="a + b"))
    out = capsys.readouterr().out
    assert code == 0 and "fixed: apply the model's repair (tests pass: 2)" in out
    assert model.problems == []


def test_an_edit_of_the_line_the_tests_pass_is_the_fix_before_any_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, root, model = _fix(tmp_path, "--no-coverage", "--edits", "8", "--apply")
    out = capsys.readouterr().out
    assert code == 0, out
    assert "fixed: Edit: `return a - b` -> `return a + b` (tests pass: 2)" in out
    assert "attempt 1: tests failed: E assert 6 == 5" in out  # the repair's own change
    assert model.problems == [] and (root / "calc.py").read_text() == FIXED


@pytest.mark.skipif(importlib.util.find_spec("pytest_cov") is None, reason="needs pytest-cov")
def test_where_the_review_finds_nothing_the_failing_test_points_at_the_bug(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, model = _fix(tmp_path, model=Model(repair="a - b"))  # the repair sees no bug
    out = capsys.readouterr().out
    assert code == 0, out
    assert "calc.py:2:5: TESTS-failing tests/test_calc.py::test_add run(s) this line" in out
    assert "fixed: Add, not subtract (tests pass: 1)" in out
    assert "LM-bug" not in out and len(model.problems) == 2


def test_every_attempt_is_in_the_feedback_store_as_plan_gold_and_its_negative(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, root, _ = _fix(tmp_path, "--no-coverage")
    assert code == 0
    with FeedbackStore(default_store_path(root.resolve())) as store:
        events = [s.event for s in store.events()]
    assert [e.kind for e in events] == [FeedbackKind.FIX_FAILED, FeedbackKind.FIX_PASSED]
    failed, passed = events
    assert failed.path == "calc.py" and failed.line == 2 and failed.action_kind == "fix_loop"
    assert "a * b" in (failed.edit or "") and "assert 6 == 5" in (failed.reason or "")
    assert "a + b" in (passed.edit or "") and passed.reason == "tests passed (2)"
    _, plans = from_feedback(events)
    [gold] = plans
    assert "a + b" in gold.gold_rewrite and "a * b" in gold.failed_rewrites[0]
    assert score_plan(gold, gold.failed_rewrites[0]).score == 0.0
    assert score_plan(gold, gold.gold_rewrite).score == 1.0


def test_a_goal_asks_the_analyze_program_for_its_findings_and_fixes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, model = _fix(tmp_path, "--no-coverage", "--goal", "make the sums right")
    out = capsys.readouterr().out
    assert code == 0, out
    assert "LM-bug add() subtracts" in out and "fixed: Add, not subtract" in out
    assert model.goals and all(g == "The user's goal: make the sums right" for g in model.goals)


def test_a_goal_nothing_serves_fixes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, model = _fix(tmp_path, "--no-coverage", "--goal", "speed up the I/O")
    assert code == 0 and "0 finding(s)" in capsys.readouterr().out
    assert not model.problems  # nothing planned


def test_fix_apply_writes_only_what_passed(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, root, _ = _fix(tmp_path, "--apply", "--no-coverage")
    assert code == 0 and (root / "calc.py").read_text() == FIXED


def test_a_fix_that_never_passes_is_not_written_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stubborn = Model(learn=False)
    code, root, _ = _fix(
        tmp_path, "--apply", "--no-coverage", "--max-attempts", "1", model=stubborn
    )
    out = capsys.readouterr().out
    assert code == 1 and "suggestion only: the tests failed on every attempt (2)" in out
    assert (root / "calc.py").read_text() == CALC


def test_fix_without_an_lm_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["fix", str(calc_project(tmp_path))]) == 2
    assert "fix needs an LM" in capsys.readouterr().err
