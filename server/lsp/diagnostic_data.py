"""What the server hands the client to give back later: ``diagnostic.data`` and a plan request.

Code actions are rebuilt from these, not from server state (as ruff's server does with its
``AssociatedDiagnosticData``). Each is encoded and decoded here only. Clients may drop, keep or
mangle them, and other servers' diagnostics carry their own: whatever does not decode is None,
never an exception, and the caller falls back to a fresh analysis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

from lsprotocol import types
from pydantic import BaseModel, ConfigDict, ValidationError

from ...analyzers.models import Finding, Fix
from .constants import CMD_PLAN_REFACTOR, SOURCE


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def encode(self) -> dict[str, object]:
        return self.model_dump(mode="json")

    @classmethod
    def decode(cls, value: object) -> Self | None:
        try:
            return cls.model_validate(value)
        except ValidationError:
            return None


class DiagnosticData(_Wire):
    """``diagnostic.data`` of every diagnostic the server publishes."""

    finding_id: str
    rule: str
    origin: str
    """The finding's producer: "rule", or the program version, e.g. "analyze@<hash>"."""
    document_version: int | None
    """The document version analysed: ``fix`` and ``line`` hold for that text only."""
    line: int
    """0-based first line of the finding."""
    rationale: str
    fix: Fix | None
    rank: int | None = None
    """An LM finding's place in its model's reply (1 = first); None for a rule's. Diagnostics
    are published in that order too (``analysis.merge``)."""
    confidence: float = 1.0

    @classmethod
    def of(cls, finding: Finding, document_version: int | None) -> DiagnosticData:
        return cls(
            finding_id=finding.id,
            rule=finding.rule,
            origin=finding.origin,
            document_version=document_version,
            line=finding.span.start.line,
            rationale=finding.rationale,
            fix=finding.fix,
            rank=finding.rank,
            confidence=finding.confidence,
        )

    @classmethod
    def from_diagnostic(cls, diagnostic: types.Diagnostic) -> DiagnosticData | None:
        """The data of one of our diagnostics; None for another server's, or if it was lost."""
        return cls.decode(diagnostic.data) if diagnostic.source == SOURCE else None


class PlanRequest(_Wire):
    """A "Plan refactor" action's payload (its ``data``, or its command's argument).

    It carries the whole finding, so resolving the action needs no state from listing it.
    """

    uri: str
    finding: Finding

    @classmethod
    def from_args(cls, args: Sequence[object]) -> PlanRequest:
        """The request among a command's arguments; without one, a clear error."""
        for arg in args:
            request = cls.decode(arg)
            if request is not None:
                return request
        raise ValueError(f"{CMD_PLAN_REFACTOR} needs the action's plan payload")
