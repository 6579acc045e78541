"""Bug finding scored on rank: hit@k on the buggy unit, false alarms on its fixed version."""

from __future__ import annotations

from pathlib import Path

import dspy
import pytest

from dspy_lsp.analyzers.learning.bug_corpus import BugCase, load_bug_cases
from dspy_lsp.analyzers.learning.dspy_glue import analysis_devset, bug_details, bug_metric
from dspy_lsp.analyzers.learning.examples import AnalysisExample, Label
from dspy_lsp.analyzers.learning.metrics import Predicted, bug_score, bug_scores, hit_at

QUIXBUGS = Path("/work/shared/corpora/quixbugs/dev.jsonl")
needs_quixbugs = pytest.mark.skipif(not QUIXBUGS.exists(), reason="corpus not on this machine")

BUGGY = AnalysisExample(source="corpus", code="x = 1\n" * 10, positives=(Label(6, 6, "bug"),))
FIXED = AnalysisExample(source="corpus", code="x = 2\n" * 10)


def at(*lines: int) -> list[Predicted]:
    return [Predicted(n, n, "design") for n in lines]


@pytest.mark.parametrize(
    ("ranked", "k", "hit"),
    [(at(6), 1, True), (at(2, 6), 1, False), (at(2, 6), 3, True), (at(1, 2, 3, 6), 3, False)],
)
def test_only_the_first_k_findings_count_and_category_does_not(
    ranked: list[Predicted], k: int, hit: bool
) -> None:
    assert hit_at(ranked, BUGGY.positives, k) is hit


@pytest.mark.parametrize(
    ("line", "exact", "near"), [(6, True, True), (4, False, True), (9, False, False)]
)
def test_tolerance_is_zero_by_default_and_widens_on_request(
    line: int, exact: bool, near: bool
) -> None:
    assert hit_at(at(line), BUGGY.positives, 1) is exact
    assert hit_at(at(line), BUGGY.positives, 1, tolerance=2) is near


def test_a_range_overlapping_the_bug_hits() -> None:
    assert hit_at([Predicted(5, 7, "bug")], BUGGY.positives, 1)


@pytest.mark.parametrize(
    ("findings", "score"), [(0, 1.0), (1, 0.5), (2, 0.0), (3, -0.5), (9, -1.0)]
)
def test_each_finding_on_fixed_code_costs_half_down_to_minus_one(
    findings: int, score: float
) -> None:
    assert bug_score(FIXED, at(*range(1, findings + 1))) == score


def _finders(case: BugCase) -> dict[str, tuple[list[Predicted], list[Predicted]]]:
    """(findings on the buggy unit, on the fixed unit) of each kind of finder."""
    bug = case.buggy.positives[0]
    every_buggy = at(*range(1, len(case.buggy.code.splitlines()) + 1))
    every_fixed = at(*range(1, len(case.fixed.code.splitlines()) + 1))
    return {
        "perfect": ([Predicted(bug.line, bug.end_line, "bug")], []),
        "silent": ([], []),
        "every line": (every_buggy, every_fixed),
        "every line, bug first": (
            [Predicted(bug.line, bug.line, "bug"), *every_buggy],
            every_fixed,
        ),
    }


@needs_quixbugs
def test_perfect_beats_silent_beats_flagging_every_line_on_quixbugs() -> None:
    cases = load_bug_cases(QUIXBUGS)
    scores = {}
    for name in _finders(cases[0]):
        scored = []
        for case in cases:
            buggy, fixed = _finders(case)[name]
            scored += [(case.buggy, buggy), (case.fixed, fixed)]
        scores[name] = bug_scores(scored).score
    assert scores["perfect"] == 1.0 and scores["silent"] == 0.5
    assert scores["every line, bug first"] <= 0.0 < scores["silent"]
    assert scores["every line"] < scores["every line, bug first"]


def test_aggregate_rates_are_over_buggy_units_and_alarms_over_fixed_ones() -> None:
    other = AnalysisExample(source="corpus", code="y = 1\n" * 8, positives=(Label(2, 3, "bug"),))
    scores = bug_scores([(BUGGY, at(1, 5, 6)), (other, at(7)), (FIXED, at(3, 4)), (FIXED, [])])
    assert (scores.buggy_units, scores.fixed_units) == (2, 2)
    assert (scores.hit_at_1, scores.hit_at_3) == (0.0, 0.5)
    assert (scores.hit_at_1_near, scores.hit_at_3_near) == (0.0, 0.5)  # 7 is 4 lines off
    assert scores.false_alarms_per_fixed == 1.0
    assert scores.score == pytest.approx((1 + 0 + 0 + 1) / 4)


def test_the_dspy_metric_scores_a_float_and_tells_gepa_what_was_missed() -> None:
    [gold] = analysis_devset([BUGGY])
    pred = dspy.Prediction(findings=[{"line": 2, "end_line": 2, "category": "bug"}])
    metric = bug_metric(3)
    assert metric(gold, pred) == 0.0
    feedback = metric(gold, pred, pred_name="analyze").feedback
    assert "Missed the bug at line 6" in feedback and "line 2 (bug)" in feedback
    [clean] = analysis_devset([FIXED])
    assert (
        "2 findings were reported"
        in metric(clean, dspy.Prediction(findings=at(1, 2)), pred_name="analyze").feedback
    )


def test_details_report_hits_and_alarms_with_the_mean_as_bug_score() -> None:
    details = bug_details(
        [(BUGGY, dspy.Prediction(findings=at(6))), (FIXED, dspy.Prediction(findings=at(1)))]
    )
    assert details["hit@1"] == details["hit@3"] == 1.0
    assert details["alarms/fixed"] == 1.0 and details["bug_score"] == 0.75
