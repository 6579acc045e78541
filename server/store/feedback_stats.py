"""What ``stats`` and ``by_user`` answer, whichever backend holds the events: counts per kind,
and the rates a team lead reads from them."""

from __future__ import annotations

from dataclasses import dataclass

from ...analyzers.learning.records import FIX_ATTEMPT_KINDS, FeedbackKind

# The kinds that count as a verdict on a finding. self_fixed is left out of the acceptance rate:
# the user agreed something was wrong but did not take our fix, which says nothing either way.
# The fix loop's attempts are the tests' verdicts on rewrites, not the user's on findings.
VERDICT_KINDS = tuple(
    kind
    for kind in FeedbackKind
    if kind != FeedbackKind.SELF_FIXED and kind not in FIX_ATTEMPT_KINDS
)


class KindCounts:
    """Totals and rates over a row's count per ``FeedbackKind`` (one attribute per kind)."""

    accepted: int
    dismissed_false_positive: int
    dismissed_later: int

    @property
    def total(self) -> int:
        return sum(getattr(self, kind) for kind in FeedbackKind)

    @property
    def verdicts(self) -> int:
        """Accepted, dismissed (either way) or ignored: what the user said about findings."""
        return sum(getattr(self, kind) for kind in VERDICT_KINDS)

    @property
    def dismissed(self) -> int:
        """Dismissed as a false positive or for now."""
        return self.dismissed_false_positive + self.dismissed_later

    @property
    def acceptance_rate(self) -> float | None:
        """accepted / all verdicts; None without a verdict (0.0 would read as "always refused")."""
        return self.accepted / self.verdicts if self.verdicts else None

    @property
    def dismissal_rate(self) -> float | None:
        """Dismissed (false positive or for now) / all verdicts; None without a verdict."""
        return self.dismissed / self.verdicts if self.verdicts else None


@dataclass(frozen=True)
class RuleStats(KindCounts):
    """Counts per kind for one rule, program version and category."""

    rule: str
    program_version: str
    category: str | None
    accepted: int
    dismissed_false_positive: int
    dismissed_later: int
    ignored: int
    self_fixed: int
    missed: int = 0
    """Lines users reported as a problem nothing showed (not a verdict on a finding)."""
    fix_passed: int = 0
    fix_failed: int = 0
    """Attempts of the fix loop the tests passed and failed (not verdicts on a finding)."""


@dataclass(frozen=True)
class UserStats(KindCounts):
    """Counts per kind for one user of a project: the team lead's per-user acceptance.

    ``user`` is ``UNKNOWN_USER`` for events recorded before users were.
    """

    user: str
    accepted: int
    dismissed_false_positive: int
    dismissed_later: int
    ignored: int
    self_fixed: int
    missed: int = 0
    fix_passed: int = 0
    fix_failed: int = 0
