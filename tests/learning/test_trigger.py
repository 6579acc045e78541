"""When continuous learning re-optimizes."""

from __future__ import annotations

from dspy_lsp.analyzers.learning.trigger import LearnState, decide


def _events(*kinds: str, start: int = 1) -> list[tuple[int, str]]:
    return [(start + i, kind) for i, kind in enumerate(kinds)]


def test_enough_new_labelled_events_start_a_run() -> None:
    events = _events("accepted", "dismissed_false_positive", "self_fixed", "ignored")
    assert decide(events, LearnState(), min_new_labels=3).run
    assert not decide(events, LearnState(), min_new_labels=4).run  # ignored is no label


def test_events_already_learned_from_do_not_count_again() -> None:
    events = _events("accepted", "accepted", "accepted")
    assert not decide(events, LearnState(last_event_id=3), min_new_labels=1).run


def test_acceptance_falling_below_the_baseline_starts_a_run() -> None:
    events = _events(*["dismissed_false_positive"] * 3, "accepted")
    state = LearnState(last_event_id=3, baseline_acceptance=0.5)
    decision = decide(events, state, window=4, min_new_labels=10)
    assert decision.run and "fell below the baseline 50%" in decision.reason
    assert decision.acceptance == 0.25


def test_a_window_not_yet_full_says_too_little_to_act_on() -> None:
    events = _events("dismissed_false_positive", "accepted")
    state = LearnState(last_event_id=1, baseline_acceptance=0.9)
    assert not decide(events, state, window=4, min_new_labels=10).run
