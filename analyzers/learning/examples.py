"""The labelled examples the learning loop trains and scores on; plain data, no dspy.

Lines are 1-based and relative to the example's ``code`` (a unit: function, method or module
section), the same numbering the ``AnalyzeUnit`` program sees, so a label does not depend on
where the unit sat in its file. An example holds what the program's input builder
(``programs.inputs``) needs, so it is asked exactly as the server would ask.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Literal

from ..programs.inputs import RuleNote

Source = Literal["feedback", "rule_example", "mutation", "corpus"]


@dataclass(frozen=True)
class Label:
    """A finding that should (positive) or should not (negative) be reported."""

    line: int
    end_line: int
    category: str
    rule: str = ""
    message: str = ""


@dataclass(frozen=True)
class _UnitExample:
    """Where an example came from and the unit it is about, which decides its split side."""

    source: Source
    code: str

    @property
    def group(self) -> str:
        """Split unit: every example of the same code lands on the same side of train/dev."""
        return _digest(["code", self.code])


@dataclass(frozen=True)
class AnalysisExample(_UnitExample):
    """A unit with the findings a good reviewer reports (positives) and must not (negatives).

    Negatives are findings a user dismissed as false positives: reporting them again costs more
    than a plain false positive.
    """

    context: str = ""
    positives: tuple[Label, ...] = ()
    negatives: tuple[Label, ...] = ()
    rule_notes: tuple[RuleNote, ...] | None = None
    """The rules' findings the analyzer is told; None where the source did not record them, so
    they are the rule engine's on ``code`` (a function of ``code``, hence not in ``key``)."""
    fix: str | None = None
    """The unit as it should be, where a source knows it (a bug's fix): what ``repair`` is
    shown in a demo. With no positives, the code itself is."""

    @property
    def key(self) -> str:
        """Content identity, for deduplication."""
        return _digest(["analysis", self.code, self.context, self.positives, self.negatives])

    @property
    def repaired(self) -> str | None:
        """The gold repair: the known fix, or the code when it has nothing to fix."""
        return self.fix if self.fix is not None or self.positives else self.code


@dataclass(frozen=True)
class PlanExample(_UnitExample):
    """A unit, the problem in it, and a rewrite a user accepted or wrote (the gold)."""

    problem: str
    gold_rewrite: str
    context: str = ""
    rule: str = ""
    """A rule code that can check the rewrite ("" when only the gold can judge it)."""
    failed_rewrites: tuple[str, ...] = ()
    """Rewrites of this problem the project's tests failed (the fix loop's): worth nothing."""

    @property
    def key(self) -> str:
        return _digest(["plan", self.code, self.problem, self.gold_rewrite, self.context])


def _digest(parts: list[object]) -> str:
    raw = json.dumps(parts, default=_plain, sort_keys=True)
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _plain(value: object) -> object:
    return asdict(value)  # type: ignore[call-overload]
