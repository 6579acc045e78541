"""The learning examples and metrics in dspy's shapes: what optimizers see and score."""

from __future__ import annotations

import dspy
from fakes.learner import Learner
from fakes.scripted_lm import scripted_lm

from dspy_lsp.analyzers.learning.dspy_glue import (
    analysis_devset,
    analysis_metric,
    chain_devset,
    chain_metric,
    plan_devset,
    plan_metric,
)
from dspy_lsp.analyzers.learning.examples import AnalysisExample, Label, PlanExample
from dspy_lsp.analyzers.programs.signatures import LmFinding

LOADER = AnalysisExample(
    source="feedback",
    code="def load(s):\n    s = s.strip()\n    return eval(s)\n",
    context="import ast\n",
    positives=(Label(3, 3, "security", rule="LM-security", message="eval runs any code"),),
    negatives=(Label(1, 1, "bug", message="the signature is fine"),),
)
CHECK = "def check(x):\n    y = x + 1\n    return y == None\n"
PLAN = PlanExample(
    source="feedback",
    code=CHECK,
    problem="lines 3-3: comparison to None (DL104)",
    gold_rewrite=CHECK.replace("== None", "is None"),
    rule="DL104",
)


def finding(line: int, category: str) -> LmFinding:
    return LmFinding(
        line=line,
        end_line=line,
        category=category,
        severity="warning",
        message="m",
        rationale="r",
        confidence=0.5,
    )


def test_analysis_examples_give_numbered_code_and_the_positives_as_complete_findings() -> None:
    (example,) = analysis_devset([LOADER])
    assert example.inputs().toDict() == {
        "code": "1 | def load(s):\n2 |     s = s.strip()\n3 |     return eval(s)\n",
        "context": "import ast\n",
        "rule_findings": "none",
    }
    (shown,) = [LmFinding.model_validate(f) for f in example.findings]
    assert (shown.line, shown.end_line, shown.category) == (3, 3, "security")
    assert shown.message == "eval runs any code"
    assert shown.snippet == "return eval(s)"
    assert example.gold is LOADER


def test_plan_examples_give_the_gold_rewrite_as_output() -> None:
    (example,) = plan_devset([PLAN])
    assert set(example.inputs().keys()) == {"code", "problem", "context"}
    assert example.rewritten_code == PLAN.gold_rewrite
    assert example.title == "Fix DL104"
    assert example.steps == [PLAN.problem]


def test_chain_examples_leave_the_problem_for_the_chain_to_find() -> None:
    (example,) = chain_devset([PLAN])
    assert set(example.inputs().keys()) == {"code", "context"}
    assert example.gold is PLAN


def test_analysis_metric_is_a_float_for_evaluate_and_bootstrap() -> None:
    (gold,) = analysis_devset([LOADER])
    right = dspy.Prediction(findings=[finding(3, "security")])
    half = dspy.Prediction(findings=[finding(3, "security"), finding(2, "design")])
    assert analysis_metric(gold, right) == 1.0
    assert analysis_metric(gold, half, trace=[]) == 2 / 3


def test_analysis_metric_gives_gepa_the_users_reason_for_a_dismissal() -> None:
    (gold,) = analysis_devset([LOADER])
    repeated = dspy.Prediction(findings=[finding(1, "bug")])
    result = analysis_metric(gold, repeated, None, "analyze", [])
    assert isinstance(result, dspy.Prediction)
    assert result.score == 0.0
    assert "dismissed" in result.feedback
    assert "the signature is fine" in result.feedback
    assert "Missed: line 3 (security) 'eval runs any code'" in result.feedback


def test_analysis_metric_reads_demo_dicts_and_failed_predictions() -> None:
    (gold,) = analysis_devset([LOADER])
    as_dicts = dspy.Prediction(findings=[finding(3, "security").model_dump()])
    assert analysis_metric(gold, as_dicts) == 1.0
    assert analysis_metric(gold, dspy.Prediction()) == 0.0


def test_plan_metric_scores_the_rewrite_and_says_what_still_fails() -> None:
    (gold,) = plan_devset([PLAN])
    assert plan_metric(gold, dspy.Prediction(rewritten_code=PLAN.gold_rewrite)) == 1.0
    result = plan_metric(gold, dspy.Prediction(rewritten_code=CHECK), None, "plan", [])
    assert isinstance(result, dspy.Prediction)
    assert 0.3 < result.score < 0.7
    assert "Rule DL104 still reports line 3" in result.feedback


def test_chain_metric_tells_which_problem_the_analyzer_chose() -> None:
    (gold,) = chain_devset([PLAN])
    pred = dspy.Prediction(problem="lines 1-1: suspicious (LM-bug)", rewritten_code=CHECK)
    result = chain_metric(gold, pred, None, "analyzer.analyze", [])
    assert result.score == plan_metric(gold, pred)
    assert "Problem chosen: lines 1-1: suspicious (LM-bug)" in result.feedback
    assert f"Problem to fix: {PLAN.problem}" in result.feedback
    nothing = chain_metric(gold, dspy.Prediction(problem="", rewritten_code=CHECK), None, "x", [])
    assert "Problem chosen: no problem found" in nothing.feedback


def test_gepa_accepts_every_metric() -> None:
    lm, _ = scripted_lm(Learner())
    for metric in (analysis_metric, plan_metric, chain_metric):
        dspy.GEPA(metric=metric, max_metric_calls=1, reflection_lm=lm)
