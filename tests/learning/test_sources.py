"""Examples from feedback, from the rules' own examples, and from the public corpora."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from dspy_lsp.analyzers.learning.corpus import (
    case_grouping,
    corpus_examples,
    load_corpus,
)
from dspy_lsp.analyzers.learning.examples import Label
from dspy_lsp.analyzers.learning.records import FeedbackEvent
from dspy_lsp.analyzers.learning.sources import from_feedback, from_rule_examples
from dspy_lsp.analyzers.rules import ALL_RULES

UNIT = "def load(path, cache={}):\n    if path == None:\n        return cache\n    return path\n"
FIXED = "def load(path, cache={}):\n    if path is None:\n        return cache\n    return path\n"
CONTEXT = "import json\n"


def record(kind: str, finding_id: str = "f1", *, created: float = 1.0, **changes) -> FeedbackEvent:
    base = FeedbackEvent(
        kind=kind,
        finding_id=finding_id,
        rule="DL104",
        category=None,
        program_version="rule",
        code=UNIT,
        context=CONTEXT,
        line=2,
        end_line=2,
        message="Use `is None` to compare with None",
        edit=None,
        reason=None,
        created=created,
    )
    return replace(base, **changes)


def test_accepted_finding_is_a_positive_with_the_rules_category() -> None:
    (example,), _ = from_feedback([record("accepted")])
    assert example.source == "feedback"
    assert (example.code, example.context) == (UNIT, CONTEXT)
    assert example.positives == (
        Label(2, 2, "bug", rule="DL104", message="Use `is None` to compare with None"),
    )
    assert example.negatives == ()


def test_false_positive_dismissal_is_a_negative_carrying_the_reason() -> None:
    dismissed = record(
        "dismissed_false_positive",
        "f2",
        rule="LM-security",
        category="security",
        line=1,
        end_line=1,
        message="cache may leak secrets",
        reason="the cache only holds paths",
    )
    (example,), _ = from_feedback([dismissed])
    assert example.positives == ()
    assert example.negatives == (
        Label(1, 1, "security", rule="LM-security", message="the cache only holds paths"),
    )


def test_dismissal_without_reason_keeps_the_finding_message() -> None:
    (example,), _ = from_feedback(
        [record("dismissed_false_positive", rule="LM-bug", category=None)]
    )
    assert example.negatives[0].message == "Use `is None` to compare with None"
    assert example.negatives[0].category == "bug"


def test_findings_on_one_unit_make_one_example() -> None:
    records = [
        record("accepted", "a"),
        record("self_fixed", "b", rule="DL101", line=1, end_line=1, message="mutable default"),
        record("dismissed_false_positive", "c", rule="LM-design", category="design", line=4),
    ]
    (example,), _ = from_feedback(records)
    assert [x.rule for x in example.positives] == ["DL101", "DL104"]
    assert [x.rule for x in example.negatives] == ["LM-design"]


def test_not_now_and_ignored_are_not_labels() -> None:
    examples, plans = from_feedback([record("dismissed_later"), record("ignored", "f2")])
    assert examples == [] and plans == []


def test_later_verdict_on_a_finding_replaces_the_earlier() -> None:
    earlier = record("dismissed_false_positive", created=1.0)
    later = record("accepted", created=2.0)
    for order in ([earlier, later], [later, earlier]):
        (example,), _ = from_feedback(order)
        assert [x.rule for x in example.positives] == ["DL104"]
        assert example.negatives == ()


def test_accepted_edit_becomes_plan_gold() -> None:
    _, (plan,) = from_feedback([record("accepted", edit=FIXED)])
    assert plan.source == "feedback"
    assert (plan.code, plan.gold_rewrite, plan.context) == (UNIT, FIXED, CONTEXT)
    assert plan.problem == "lines 2-2: Use `is None` to compare with None (DL104)"
    assert plan.rule == "DL104"


def test_users_own_fix_of_an_lm_finding_is_gold_without_a_rule() -> None:
    fixed = record("self_fixed", rule="LM-bug", category="bug", edit=FIXED)
    _, (plan,) = from_feedback([fixed])
    assert plan.rule == ""
    assert plan.gold_rewrite == FIXED


def test_edit_that_changes_nothing_is_no_plan() -> None:
    _, plans = from_feedback([record("accepted", edit=UNIT + "\n")])
    assert plans == []


def test_records_without_code_or_line_are_skipped() -> None:
    examples, plans = from_feedback(
        [record("accepted", code=None, edit=FIXED), record("accepted", "f2", line=None)]
    )
    assert examples == [] and plans == []


def test_feedback_examples_do_not_depend_on_record_order() -> None:
    records = [
        record("accepted", "a", edit=FIXED),
        record("dismissed_false_positive", "b", line=3, created=2.0),
        record("accepted", "c", code="def g():\n    return 1\n", line=1),
    ]
    assert from_feedback(records) == from_feedback(records[::-1])


def test_rule_examples_cover_every_rule() -> None:
    analysis, plans = from_rule_examples()
    labelled = {label.rule for example in analysis for label in example.positives}
    assert labelled == set(ALL_RULES)
    fixable = {code for code, rule in ALL_RULES.items() if any(i.fixed for i in rule.INVALID)}
    assert {plan.rule for plan in plans} == fixable
    assert all(example.source == "rule_example" for example in analysis)


def test_invalid_example_is_labelled_by_its_rule_on_its_line() -> None:
    rule = ALL_RULES["DL101"]
    analysis, plans = from_rule_examples({"DL101": rule})
    assert len(analysis) == len(rule.VALID) + len(rule.INVALID)
    invalid = analysis[len(rule.VALID)]
    assert invalid.code == rule.INVALID[0].code
    assert invalid.positives == (Label(1, 1, "bug", rule="DL101", message=rule.MESSAGE),)
    assert plans[0].gold_rewrite == rule.INVALID[0].fixed
    assert plans[0].rule == "DL101"
    assert plans[0].problem.startswith("lines 1-1: ")


def test_valid_examples_have_no_positive_of_their_own_rule() -> None:
    for code, rule in ALL_RULES.items():
        analysis, _ = from_rule_examples({code: rule})
        for example in analysis[: len(rule.VALID)]:
            assert code not in {label.rule for label in example.positives}


def test_labels_name_every_rule_that_fires_on_a_snippet() -> None:
    # DL102's VALID `except Exception: pass` is no bare except, but it does swallow errors.
    analysis, _ = from_rule_examples({"DL102": ALL_RULES["DL102"]})
    swallowed = [e for e in analysis if "except Exception:\n    pass" in e.code]
    assert swallowed
    assert {label.rule for label in swallowed[0].positives} == {"DL103"}


def test_rule_examples_are_deterministic() -> None:
    assert from_rule_examples() == from_rule_examples()


CORPORA = Path("/work/shared/corpora")
needs_corpora = pytest.mark.skipif(not CORPORA.exists(), reason="corpora not on this machine")


@needs_corpora
@pytest.mark.parametrize("corpus", ["ruff", "fixit"])
def test_corpus_loads_with_line_ranges(corpus: str) -> None:
    cases = load_corpus(CORPORA / corpus / "dev.jsonl", corpus)
    assert len(cases) > 100
    assert any(case.expected for case in cases)
    for case in cases:
        assert case.corpus == corpus and case.group
        assert all(1 <= line <= end for line, end in case.expected)


@needs_corpora
def test_corpus_examples_cover_both_corpora() -> None:
    for corpus in ("ruff", "fixit"):
        cases = load_corpus(CORPORA / corpus / "dev.jsonl", corpus)
        examples = [e for case in cases for e in corpus_examples(case)]
        assert sum(len(e.positives) for e in examples) > 50
        assert all(e.source == "corpus" for e in examples)


def test_expected_lines_land_in_the_unit_that_holds_them(tmp_path: Path) -> None:
    text = (
        "import os\n"  # 1
        "LIMIT = 3\n"  # 2
        "\n"
        "def first(x):\n"  # 4
        "    return x == None\n"  # 5
        "\n"
        "class Box:\n"  # 7
        "    def get(self, key):\n"  # 8
        "        try:\n"  # 9
        "            return self[key]\n"
        "        except:\n"  # 11
        "            return None\n"  # 12
        "\n"
        "print(LIMIT)\n"  # 14
    )
    row = {
        "id": "t/1",
        "group": "g",
        "file_text": text,
        "expected": [
            {"rule": "E711", "line": 5, "end_line": 5},
            {"rule": "E722", "line": 11, "end_line": 12},
            {"rule": "T201", "line": 14},
            {"rule": "F401", "line": 1, "end_line": 1},
        ],
    }
    path = tmp_path / "dev.jsonl"
    path.write_text(json.dumps(row) + "\n")
    (case,) = load_corpus(path, "mine")
    assert case.expected == ((1, 1), (5, 5), (11, 12), (14, 14))
    by_code = {e.code.lstrip().split("\n")[0]: e for e in corpus_examples(case)}
    assert by_code["def first(x):"].positives == (Label(2, 2, ""),)
    assert by_code["def get(self, key):"].positives == (Label(4, 5, ""),)
    assert by_code["def get(self, key):"].context == "import os\nLIMIT = 3\nclass Box:\n"
    # The module section is line 14 alone; the header (lines 1-2) is context, not reviewed.
    assert by_code["print(LIMIT)"].positives == (Label(1, 1, ""),)


def test_case_grouping_keeps_a_corpus_group_together(tmp_path: Path) -> None:
    rows = [
        {
            "id": f"t/{i}",
            "group": "same",
            "file_text": f"def f{i}():\n    return {i}\n",
            "expected": [],
        }
        for i in range(3)
    ]
    path = tmp_path / "dev.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cases = load_corpus(path, "mine")
    group_of = case_grouping(cases)
    examples = [e for case in cases for e in corpus_examples(case)]
    assert {group_of(e) for e in examples} == {"mine:same"}
    assert len({e.group for e in examples}) == 3
