"""The values that cross the analyzers' boundary: findings, fixes and plans.

All positions are 0-based lines (split the way LSP splits them: ``\\n``, ``\\r\\n``, ``\\r``)
and 0-based columns counted in code points. The server converts to the client's encoding.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Position(Frozen):
    line: int = Field(ge=0)
    column: int = Field(ge=0)


class Span(Frozen):
    start: Position
    end: Position

    @model_validator(mode="after")
    def _ordered(self) -> Span:
        if (self.end.line, self.end.column) < (self.start.line, self.start.column):
            raise ValueError("span end precedes its start")
        return self

    @classmethod
    def of(cls, start_line: int, start_col: int, end_line: int, end_col: int) -> Span:
        return cls(
            start=Position(line=start_line, column=start_col),
            end=Position(line=end_line, column=end_col),
        )

    def shifted(self, lines: int, first_line_columns: int = 0) -> Span:
        """Move the span down by ``lines``; columns on line 0 move by ``first_line_columns``."""

        def move(p: Position) -> Position:
            col = p.column + (first_line_columns if p.line == 0 else 0)
            return Position.model_construct(line=p.line + lines, column=col)

        # Moving a valid span keeps it valid, so skip re-validation: this runs per finding per edit.
        return Span.model_construct(start=move(self.start), end=move(self.end))

    def overlaps(self, other: Span) -> bool:
        a0, a1 = (self.start.line, self.start.column), (self.end.line, self.end.column)
        b0, b1 = (other.start.line, other.start.column), (other.end.line, other.end.column)
        return a0 < b1 and b0 < a1


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    HINT = "hint"


class FixSafety(StrEnum):
    """How far a fix may be trusted: safe fixes run in fix-all; the rest need a human."""

    SAFE = "safe"
    UNSAFE = "unsafe"
    SUGGESTION = "suggestion"


class Edit(Frozen):
    span: Span
    new_text: str


class Fix(Frozen):
    title: str
    safety: FixSafety
    edits: tuple[Edit, ...]


class Finding(Frozen):
    id: str
    rule: str
    severity: Severity
    message: str
    rationale: str
    confidence: float = Field(ge=0.0, le=1.0)
    span: Span
    origin: str = "rule"
    fix: Fix | None = None
    rank: int | None = None
    """An LM finding's place in its model's reply (1 = its first finding); None for a rule's."""

    @staticmethod
    def make_id(rule: str, anchor: str, span: Span) -> str:
        """A stable id: same rule, same anchoring text and same relative place give the same id."""
        raw = f"{rule}|{anchor}|{span.start.line}:{span.start.column}-{span.end.line}:{span.end.column}"
        return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class RefactorPlan(Frozen):
    title: str
    steps: tuple[str, ...]
    edits: tuple[Edit, ...]
    verified: bool
    adds: tuple[str, ...] = ()  # outside-reaching APIs the rewrite adds: never verified
    finding_id: str | None = None
    tests_passed: int = 0
    """How many of the project's tests ran green on it (a test-verified plan); 0: not run."""


class AnalysisStatus(Frozen):
    """What happened to a file as a whole, so a skipped file is never silently clean."""

    kind: Literal["analyzed", "syntax_error", "skipped"]
    detail: str = ""
