"""Feedback as the learning loop reads it: one user verdict on one finding, with its unit.

The server's feedback store converts its events into these, so ``analyzers`` never imports
``server``. Lines are 1-based and relative to ``code``, like the examples built from them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class FeedbackRecord:
    """What the user did with a finding, and the unit it was shown on."""

    kind: str
    """accepted | dismissed_false_positive | dismissed_later | ignored | self_fixed"""
    finding_id: str
    rule: str
    """A rule code ("DL104") or a program's label ("LM-security")."""
    category: str | None
    program_version: str
    """"rule", or "analyze@<hash>" for a DSPy program."""
    code: str | None
    """The unit's text (function, method or module section) when the finding was shown."""
    context: str | None
    """The unit's context (imports, enclosing class header)."""
    line: int | None
    end_line: int | None
    message: str | None
    edit: str | None
    """The unit's full text after the accepted fix or plan, or after the user's own edit."""
    reason: str | None
    """Why the user dismissed the finding, if they said."""
    created: float
