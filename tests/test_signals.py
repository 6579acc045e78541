"""Implicit feedback: which disappearances count as the user's own fix, and when."""

from __future__ import annotations

from dspy_lsp.analyzers.engine import analyze_source
from dspy_lsp.analyzers.units import split_units
from dspy_lsp.server.lsp.signals import SignalTracker

URI = "file:///ws/a.py"
BEFORE = "def f(x):\n    if x == None:\n        return 1\n    return 2\n"
FIXED = "def f(x):\n    if x is None:\n        return 1\n    return 2\n"
BROKEN = "def f(x):\n    if x == None\n        return 1\n    return 2\n"


def _publish(tracker: SignalTracker, text: str) -> None:
    analysis = analyze_source(text)
    tracker.published(URI, text, analysis.findings, analysis.status.kind == "analyzed")


def _never(_: str) -> bool:
    return False


def test_a_hand_fix_is_settled_at_the_next_save_with_the_unit_as_left() -> None:
    tracker = SignalTracker()
    _publish(tracker, BEFORE)
    _publish(tracker, FIXED)
    [event] = tracker.saved(URI, 99, _never)
    assert (event.kind, event.rule, event.line) == ("self_fixed", "DL104", 2)
    assert event.code == BEFORE and event.edit == FIXED
    assert tracker.saved(URI, 99, _never) == []  # settled once


def test_a_finding_that_comes_back_before_the_save_was_not_fixed() -> None:
    tracker = SignalTracker()
    _publish(tracker, BEFORE)
    _publish(tracker, FIXED)
    _publish(tracker, BEFORE)
    assert tracker.saved(URI, 99, _never) == []


def test_a_syntax_error_is_not_a_fix() -> None:
    tracker = SignalTracker()
    _publish(tracker, BEFORE)
    _publish(tracker, BROKEN)
    assert tracker.saved(URI, 99, _never) == []


def test_a_claimed_finding_is_never_implicit() -> None:
    tracker = SignalTracker()
    _publish(tracker, BEFORE)
    [finding] = analyze_source(BEFORE).findings
    tracker.claim(URI, [finding.id])
    _publish(tracker, FIXED)
    assert tracker.saved(URI, 1, _never) == []


def test_deleting_the_function_is_not_a_fix() -> None:
    tracker = SignalTracker()
    _publish(tracker, BEFORE)
    _publish(tracker, "x = 1\n")
    assert tracker.saved(URI, 99, _never) == []


def test_ignored_after_the_threshold_of_saves_once() -> None:
    tracker = SignalTracker()
    _publish(tracker, BEFORE)
    assert tracker.saved(URI, 2, _never) == []
    [event] = tracker.saved(URI, 2, _never)
    assert (event.kind, event.rule, event.action_kind) == ("ignored", "DL104", "implicit")
    assert tracker.saved(URI, 2, _never) == []


def test_an_lm_finding_is_self_fixed_only_once_the_lm_reviewed_the_edited_unit() -> None:
    tracker = SignalTracker()
    [rule_finding] = analyze_source(BEFORE).findings
    lm_finding = rule_finding.model_copy(
        update={"id": "lm-1", "rule": "LM-bug", "origin": "analyze@abc"}
    )
    tracker.published(URI, BEFORE, [lm_finding], True)
    tracker.published(URI, FIXED, [], True)
    reviewed: set[str] = set()
    assert tracker.saved(URI, 99, reviewed.__contains__) == []  # the LM has not looked yet
    reviewed.add(split_units(FIXED)[0].hash)
    [event] = tracker.saved(URI, 99, reviewed.__contains__)
    assert (event.kind, event.rule, event.program_version) == (
        "self_fixed",
        "LM-bug",
        "analyze@abc",
    )
