"""Feedback: one user verdict on one finding, with its unit. Defined once, for every edge.

The ``dspy-lsp.feedback`` command carries a ``FeedbackRecord`` plus the document's URI, the
store keeps it plus the workspace path and the time (``FeedbackEvent``), and the learning loop
reads those events back. ``analyzers`` never imports ``server``, so the shape lives here. Lines
are 1-based and relative to ``code``, like the examples built from them.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator
from pydantic.dataclasses import dataclass


class FeedbackKind(StrEnum):
    """What the user did with a finding. The values are stored: adding one is a schema change."""

    ACCEPTED = "accepted"
    DISMISSED_FALSE_POSITIVE = "dismissed_false_positive"
    DISMISSED_LATER = "dismissed_later"
    IGNORED = "ignored"
    SELF_FIXED = "self_fixed"
    MISSED = "missed"
    """The user marked lines the program should have flagged ("report a missed bug here")."""
    FIX_PASSED = "fix_passed"
    """One attempt of the fix loop whose rewrite the project's tests passed (not a verdict)."""
    FIX_FAILED = "fix_failed"
    """One attempt of the fix loop whose rewrite failed the tests; ``reason`` says how."""


FIX_ATTEMPT_KINDS = frozenset({FeedbackKind.FIX_PASSED, FeedbackKind.FIX_FAILED})
"""What the tests said of a rewrite, not what the user did with a finding."""


@dataclass(frozen=True, kw_only=True)
class FeedbackRecord:
    """What the user did with a finding, and the unit it was shown on.

    Keyword-only: with this many string fields, a positional mix-up would go unnoticed.
    """

    kind: FeedbackKind
    action_kind: str | None = None
    """The code action taken: quickfix | plan | fix_all | dismiss | implicit."""
    finding_id: str
    rule: str
    """A rule code ("DL104") or a program's label ("LM-security")."""
    category: str | None = None
    program_version: str
    """What produced the finding: "rule", or "analyze@<hash>" for a DSPy program."""
    unit_hash: str | None = None
    """The hash of the finding's unit."""
    line: int | None = None
    """1-based first line of the finding within ``code``."""
    end_line: int | None = None
    message: str | None = None
    code: str | None = None
    """The unit's text (function, method or module section) when the finding was shown."""
    context: str | None = None
    """The unit's context (imports, enclosing class header), as the LM saw it."""
    edit: str | None = None
    """The unit's full text after the accepted fix or plan, or after the user's own edit."""
    reason: str | None = None
    """Why the user dismissed the finding, if they said."""

    @field_validator("kind", mode="before")
    @classmethod
    def _known_kind(cls, value: object) -> FeedbackKind:
        try:
            return FeedbackKind(value)
        except ValueError:
            expected = ", ".join(FeedbackKind)
            raise ValueError(
                f"unknown feedback kind {value!r}; expected one of {expected}"
            ) from None

    @field_validator("finding_id", "rule", "program_version")
    @classmethod
    def _non_empty(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            raise ValueError(f"feedback needs a non-empty {info.field_name}")
        return value


@dataclass(frozen=True, kw_only=True)
class FeedbackEvent(FeedbackRecord):
    """A record as the store keeps it: where it happened and when."""

    path: str | None = None
    """Workspace-relative."""
    created: Annotated[float, Field(allow_inf_nan=False)]
    """Epoch seconds, from the recorder's (injected) clock."""

    @classmethod
    def of(cls, record: FeedbackRecord, *, path: str | None, created: float) -> FeedbackEvent:
        """``record`` (or a record plus wire fields, such as the URI) as stored."""
        return cls(**record_fields(record), path=path, created=created)


def record_fields(record: FeedbackRecord) -> dict[str, object]:
    """A record's own fields (not a subclass's), to build another shape of it."""
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(FeedbackRecord)}
