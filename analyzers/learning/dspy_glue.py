"""The learning loop's examples and metrics in the shapes dspy's optimizers take.

Each ``dspy.Example`` keeps its labelled example under ``gold`` (not an input), so the metrics
score with the pure functions of ``metrics``. Metrics return a float to ``Evaluate`` and the
bootstrapping optimizers, and ``dspy.Prediction(score=, feedback=)`` when GEPA asks for
feedback on one predictor (it passes ``pred_name``), so the user's reason for a rejection
reaches the reflection model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, get_args

import dspy

from ..lines import split_lines, strip_newline
from ..programs.inputs import analyze_inputs, plan_inputs, repair_inputs, unit_rule_notes
from ..programs.signatures import Category
from ..repair_claims import wrong_fix
from .examples import AnalysisExample, Label, PlanExample
from .metrics import Predicted, bug_feedback, bug_score, bug_scores, score_findings, score_plan

GOLD = "gold"
CHAIN_INPUTS = ("code", "context")
_CATEGORIES = frozenset(get_args(Category))


def analysis_devset(examples: Sequence[AnalysisExample]) -> list[dspy.Example]:
    """``AnalyzeUnit`` inputs, built as the server builds them (the rules' findings told), with
    the positives as the full expected output (for demos)."""
    devset = []
    for example in examples:
        notes = example.rule_notes
        inputs = analyze_inputs(
            example.code, example.context, unit_rule_notes(example.code) if notes is None else notes
        )
        findings = [_finding(example, label) for label in example.positives]
        devset.append(
            dspy.Example(**inputs, findings=findings, **{GOLD: example}).with_inputs(*inputs)
        )
    return devset


def repair_devset(examples: Sequence[AnalysisExample]) -> list[dspy.Example]:
    """``RepairUnit`` inputs, with the gold repair (for demos) where it is known."""
    devset = []
    for example in examples:
        inputs = repair_inputs(example.code, example.context)
        known = {} if example.repaired is None else {"fixed_code": example.repaired}
        devset.append(dspy.Example(**inputs, **known, **{GOLD: example}).with_inputs(*inputs))
    return devset


def plan_devset(examples: Sequence[PlanExample]) -> list[dspy.Example]:
    """``PlanRefactor`` inputs, with the gold rewrite and a title and steps naming the problem."""
    devset = []
    for example in examples:
        inputs = plan_inputs(example.code, example.context, example.problem)
        devset.append(
            dspy.Example(
                **inputs,
                title=f"Fix {example.rule}" if example.rule else "Fix the reported problem",
                steps=[example.problem],
                rewritten_code=example.gold_rewrite,
                **{GOLD: example},
            ).with_inputs(*inputs)
        )
    return devset


def chain_devset(examples: Sequence[PlanExample]) -> list[dspy.Example]:
    """Plan examples for ``AnalyzeThenPlan``: the problem is for the chain to find, not given."""
    return [example.with_inputs(*CHAIN_INPUTS) for example in plan_devset(examples)]


Metric = Callable[..., float | dspy.Prediction]
"""``(gold, pred, trace=None, pred_name=None, pred_trace=None)``, as GEPA requires of a metric."""


def _dspy_metric(
    score: Callable[[Any, dspy.Prediction], tuple[float, str]],
    worth_a_demo: Callable[[Any], bool] | None = None,
) -> Metric:
    """A metric for dspy from ``score(labelled example, prediction) -> (score, feedback)``: the
    score alone, or with the feedback when GEPA names the predictor it reflects on. While
    bootstrapping (dspy passes a ``trace``), examples not ``worth_a_demo`` score 0."""

    def metric(
        gold: dspy.Example,
        pred: dspy.Prediction,
        trace: Any = None,
        pred_name: str | None = None,
        pred_trace: Any = None,
    ) -> float | dspy.Prediction:
        bootstrapping = trace is not None and pred_name is None
        if bootstrapping and worth_a_demo is not None and not worth_a_demo(gold[GOLD]):
            return 0.0
        value, feedback = score(gold[GOLD], pred)
        return value if pred_name is None else dspy.Prediction(score=value, feedback=feedback)

    # Named for Evaluate's table; not functools.wraps, whose __wrapped__ would show GEPA
    # (inspect.signature) the two-argument signature.
    metric.__name__ = metric.__qualname__ = score.__name__
    metric.__doc__ = score.__doc__
    return metric


@_dspy_metric
def analysis_metric(example: AnalysisExample, pred: dspy.Prediction) -> tuple[float, str]:
    """Finding F1 (a repeated dismissed finding costs double), with what was missed or wrong."""
    score = score_findings(example, predicted(pred))
    return score.score, score.feedback


def bug_metric(k: int = 3) -> Metric:
    """hit@``k`` on buggy units, less a cost per finding on fixed ones (``metrics.bug_score``)."""

    def score(example: AnalysisExample, pred: dspy.Prediction) -> tuple[float, str]:
        ranked = predicted(pred)
        return bug_score(example, ranked, k=k), bug_feedback(example, ranked, k=k)

    score.__name__ = f"hit_at_{k}"
    score.__doc__ = bug_metric.__doc__
    return _dspy_metric(score)


def repair_metric(k: int = 3) -> Metric:
    """``bug_metric`` where a bug counts as found only if the repair also makes the gold fix's
    change (when the fix is known): a demo that edits the right line wrongly teaches a wrong fix.

    While bootstrapping demos (dspy passes a ``trace``), only fixed bugs qualify: a small model
    already returns most code unchanged, and a demo of that teaches it nothing new."""

    def score(example: AnalysisExample, pred: dspy.Prediction) -> tuple[float, str]:
        ranked = predicted(pred)
        value, feedback = bug_score(example, ranked, k=k), bug_feedback(example, ranked, k=k)
        if value and example.positives and example.fix is not None:
            missing = wrong_fix(example.code, str(pred.get("fixed_code") or ""), example.fix, k=k)
            if missing is not None:
                expected = " ".join(missing.new) or "nothing"
                return 0.0, f"Changed the bug's lines, but not to the fix: `{expected}`."
        return value, feedback

    score.__name__ = f"fix_at_{k}"
    score.__doc__ = repair_metric.__doc__
    # A small model already returns most code unchanged: a demo of that teaches it nothing new.
    return _dspy_metric(score, worth_a_demo=lambda example: bool(example.positives))


def bug_details(outputs: Sequence[tuple[AnalysisExample, dspy.Prediction]]) -> dict[str, float]:
    """hit@1 and hit@3 (exact and near), false alarms per fixed unit, and the mean bug score."""
    scores = bug_scores([(gold, predicted(pred)) for gold, pred in outputs])
    return {
        "hit@1": scores.hit_at_1,
        "hit@3": scores.hit_at_3,
        "hit@1 ±2": scores.hit_at_1_near,
        "hit@3 ±2": scores.hit_at_3_near,
        "alarms/fixed": scores.false_alarms_per_fixed,
        "bug_score": scores.score,
    }


@_dspy_metric
def plan_metric(example: PlanExample, pred: dspy.Prediction) -> tuple[float, str]:
    """Parses, resolves the rule's finding, and closeness to the accepted rewrite."""
    score = score_plan(example, rewritten(pred))
    return score.score, score.feedback


@_dspy_metric
def chain_metric(example: PlanExample, pred: dspy.Prediction) -> tuple[float, str]:
    """The plan metric on the chain's final rewrite; the feedback also says which problem the
    analyzer chose, since that is what the analyzer's instruction controls."""
    score = score_plan(example, rewritten(pred))
    chosen = pred.get("problem") or "no problem found"
    feedback = f"{score.feedback}\nProblem chosen: {chosen}. Problem to fix: {example.problem}."
    return score.score, feedback


def predicted(pred: dspy.Prediction) -> list[Predicted]:
    """The findings of an ``AnalyzeUnit`` prediction (models or, from demos, dicts)."""
    return [
        Predicted(_get(f, "line"), _get(f, "end_line"), _get(f, "category"))
        for f in pred.get("findings") or []
    ]


def rewritten(pred: dspy.Prediction) -> str:
    return str(pred.get("rewritten_code") or "")


def _get(finding: Any, name: str) -> Any:
    return finding[name] if isinstance(finding, dict) else getattr(finding, name)


def _finding(example: AnalysisExample, label: Label) -> dict[str, Any]:
    """A positive label as a complete ``LmFinding``, so demos show the whole output shape.

    An unknown category (a label from an unknown rule matches any) is shown as maintainability.
    """
    lines = split_lines(example.code)
    snippet = strip_newline(lines[label.line - 1]).strip() if 0 < label.line <= len(lines) else ""
    category = label.category if label.category in _CATEGORIES else "maintainability"
    return {
        "line": label.line,
        "end_line": label.end_line,
        "category": category,
        "severity": "warning",
        "message": label.message or f"{category} problem",
        "rationale": "",
        "confidence": 1.0,
        "snippet": snippet,
    }
