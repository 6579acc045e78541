"""Finding and plan scores, and the feedback a reflective optimizer reads."""

from __future__ import annotations

import pytest

from dspy_lsp.analyzers.learning.examples import AnalysisExample, Label, PlanExample
from dspy_lsp.analyzers.learning.metrics import (
    PERFECT,
    FindingScore,
    Predicted,
    score_findings,
    score_plan,
    total,
)


def example(*positives: Label, negatives: tuple[Label, ...] = ()) -> AnalysisExample:
    return AnalysisExample(
        source="feedback", code="x = 1\n" * 20, positives=positives, negatives=negatives
    )


BUG_AT_5 = example(Label(5, 5, "bug", message="mutable default argument"))


@pytest.mark.parametrize(("line", "hit"), [(5, True), (4, True), (6, True), (3, False), (7, False)])
def test_line_tolerance_is_one_by_default(line: int, hit: bool) -> None:
    score = score_findings(BUG_AT_5, [Predicted(line, line, "bug")])
    assert score.true_positives == int(hit)
    assert score.false_positives == score.false_negatives == int(not hit)


def test_tolerance_widens_the_match() -> None:
    assert score_findings(BUG_AT_5, [Predicted(3, 3, "bug")], tolerance=2).true_positives == 1
    assert score_findings(BUG_AT_5, [Predicted(4, 4, "bug")], tolerance=0).true_positives == 0


def test_a_range_overlapping_the_label_matches() -> None:
    assert score_findings(BUG_AT_5, [Predicted(1, 9, "bug")], tolerance=0).true_positives == 1


def test_category_must_match() -> None:
    score = score_findings(BUG_AT_5, [Predicted(5, 5, "design")])
    assert (score.true_positives, score.false_positives, score.false_negatives) == (0, 1, 1)


def test_unknown_label_category_matches_any() -> None:
    score = score_findings(example(Label(5, 5, "")), [Predicted(5, 5, "security")])
    assert score.true_positives == 1 and score.f1 == 1.0


def test_matching_is_one_to_one() -> None:
    score = score_findings(BUG_AT_5, [Predicted(5, 5, "bug"), Predicted(5, 5, "bug")])
    assert (score.true_positives, score.false_positives) == (1, 1)
    assert score.precision == 0.5 and score.recall == 1.0


def test_each_prediction_takes_its_nearest_label() -> None:
    gold = example(Label(4, 4, "bug"), Label(6, 6, "bug"))
    score = score_findings(gold, [Predicted(6, 6, "bug"), Predicted(3, 3, "bug")])
    assert score.true_positives == 2


def test_nothing_to_find_and_nothing_said_is_perfect() -> None:
    score = score_findings(example(), [])
    assert score.precision == score.recall == score.f1 == score.score == 1.0
    assert score.feedback == PERFECT


def test_saying_nothing_when_there_is_a_bug_scores_zero() -> None:
    score = score_findings(BUG_AT_5, [])
    assert score.f1 == 0.0 and score.precision == 1.0 and score.recall == 0.0
    assert score.feedback == "Missed: line 5 (bug) 'mutable default argument'."


def test_repeating_a_dismissed_finding_costs_double() -> None:
    dismissed = Label(12, 12, "security", message="the path comes from our own config")
    gold = example(Label(3, 3, "bug"), negatives=(dismissed,))
    repeat = score_findings(gold, [Predicted(3, 3, "bug"), Predicted(12, 12, "security")])
    fresh = score_findings(gold, [Predicted(3, 3, "bug"), Predicted(16, 16, "security")])
    assert repeat.false_positives == fresh.false_positives == 1
    assert repeat.repeated_false_positives == 1 and fresh.repeated_false_positives == 0
    assert repeat.f1 == fresh.f1 == pytest.approx(2 / 3)
    assert repeat.score == pytest.approx(0.5)
    assert fresh.score == fresh.f1
    assert (
        "The user dismissed a finding like line 12 (security) as a false positive: the path comes from our own config."
        in repeat.feedback
    )


def test_feedback_names_misses_and_false_positives() -> None:
    gold = example(Label(3, 4, "bug", message="mutable default argument"))
    score = score_findings(gold, [Predicted(9, 9, "design")])
    assert score.feedback == (
        "Missed: lines 3-4 (bug) 'mutable default argument'. False positive: line 9 (design)."
    )


def test_total_sums_counts_micro_average() -> None:
    perfect = score_findings(
        example(*(Label(i, i, "bug") for i in range(1, 10))),
        [Predicted(i, i, "bug") for i in range(1, 10)],
    )
    missed = score_findings(BUG_AT_5, [])
    summed = total([perfect, missed])
    assert (summed.true_positives, summed.false_negatives) == (9, 1)
    assert summed.recall == pytest.approx(0.9)  # the macro average would be 0.5
    assert summed.feedback == missed.feedback


def test_total_feedback_is_bounded() -> None:
    many = [score_findings(BUG_AT_5, []) for _ in range(200)]
    assert len(total(many).feedback) <= 2000


def test_total_of_perfect_scores_says_so() -> None:
    assert total([score_findings(example(), [])]).feedback == PERFECT
    assert total([]) == FindingScore(0, 0, 0, 0, PERFECT)


UNIT = "def f(x):\n    return x == None\n"
GOLD = "def f(x):\n    return x is None\n"
PLAN = PlanExample(
    source="feedback", code=UNIT, problem="lines 2-2: ... (DL104)", gold_rewrite=GOLD, rule="DL104"
)


def test_exact_gold_scores_one() -> None:
    score = score_plan(PLAN, GOLD)
    assert (score.parses, score.resolves, score.closeness, score.score) == (True, True, 1.0, 1.0)


def test_fence_and_trailing_whitespace_do_not_count() -> None:
    assert score_plan(PLAN, "```python\ndef f(x):  \n    return x is None\n```\n").score == 1.0


def test_rewrite_that_does_not_parse_scores_zero() -> None:
    score = score_plan(PLAN, "def f(x)\n    return x is None\n")
    assert score.parses is False and score.score == 0.0
    assert score.feedback.startswith("The rewrite does not parse: ")


def test_rewrite_the_rule_still_flags_is_unresolved() -> None:
    score = score_plan(PLAN, UNIT)
    assert score.parses and score.resolves is False
    assert score.score == pytest.approx(0.3 + 0.4 * score.closeness)
    assert "Rule DL104 still reports line 2" in score.feedback
    assert "differs from the fix the user accepted" in score.feedback
    assert "-    return x is None\n+    return x == None" in score.feedback


def test_other_fix_that_resolves_scores_by_closeness() -> None:
    score = score_plan(
        PLAN, "def f(x):\n    if x is None:\n        return True\n    return False\n"
    )
    assert score.resolves is True
    assert 0.6 < score.score < 1.0


def test_plan_without_rule_is_judged_by_the_gold_alone() -> None:
    no_rule = PlanExample(source="mutation", code=UNIT, problem="p", gold_rewrite=GOLD)
    score = score_plan(no_rule, UNIT)
    assert score.resolves is None
    assert score.score == pytest.approx(0.6 + 0.4 * score.closeness)
    assert "differs from the expected fix" in score.feedback


def test_indented_method_rewrite_parses() -> None:
    method = PlanExample(
        source="mutation",
        code="    def m(self, x):\n        return x == None\n",
        problem="p",
        gold_rewrite="    def m(self, x):\n        return x is None\n",
        rule="DL104",
    )
    assert score_plan(method, method.gold_rewrite).score == 1.0


def test_an_empty_rewrite_scores_nothing_though_it_parses_and_silences_the_rule() -> None:
    result = score_plan(PLAN, "\n")
    assert (result.score, result.parses) == (0.0, False)
    assert "empty" in result.feedback
