"""When to re-optimize: enough new labelled feedback, or acceptance falling below its baseline.

Pure: it sees the events (kind, id) and the state of the last run, and says whether and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

LABELLED = frozenset({"accepted", "dismissed_false_positive", "self_fixed"})
"""The kinds that become training labels (see ``sources.from_feedback``)."""
VERDICTS = frozenset({"accepted", "dismissed_false_positive", "dismissed_later", "ignored"})


@dataclass(frozen=True)
class LearnState:
    """What the last optimization saw: the newest event id and the acceptance rate then."""

    last_event_id: int = 0
    baseline_acceptance: float | None = None


@dataclass(frozen=True)
class Decision:
    run: bool
    reason: str
    acceptance: float | None
    """Acceptance over the window, for the next state's baseline."""


def acceptance(kinds: Sequence[str]) -> float | None:
    verdicts = [kind for kind in kinds if kind in VERDICTS]
    return sum(kind == "accepted" for kind in verdicts) / len(verdicts) if verdicts else None


def decide(
    events: Sequence[tuple[int, str]],
    state: LearnState,
    *,
    window: int = 50,
    min_new_labels: int = 20,
) -> Decision:
    """``events``: (id, kind) oldest first. Runs when ``min_new_labels`` labelled events
    arrived since the last run, or when acceptance over the last ``window`` verdicts (a full
    window only: a few events say little) fell below the baseline."""
    recent = [kind for _, kind in events if kind in VERDICTS][-window:]
    rate = acceptance(recent)
    new = sum(1 for event_id, kind in events if event_id > state.last_event_id and kind in LABELLED)
    if new >= min_new_labels:
        return Decision(True, f"{new} new labelled events (threshold {min_new_labels})", rate)
    if (
        rate is not None
        and state.baseline_acceptance is not None
        and len(recent) >= window
        and rate < state.baseline_acceptance
        and new > 0
    ):
        return Decision(
            True,
            f"acceptance {rate:.0%} over the last {window} verdicts fell below the"
            f" baseline {state.baseline_acceptance:.0%}",
            rate,
        )
    return Decision(False, f"{new} new labelled events; acceptance {_pct(rate)}", rate)


def _pct(rate: float | None) -> str:
    return "unknown" if rate is None else f"{rate:.0%}"
