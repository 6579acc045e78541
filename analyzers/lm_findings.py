"""Turning what a model says into findings, trusting nothing it says.

A finding is dropped when its lines are not in the unit, its snippet is not in the code or its
confidence is not a fraction, and moved when its snippet sits elsewhere than the lines it claims.
Its texts are cut to a length an editor can show (a 10 MB message would otherwise be published,
and cached, whole). Findings that repeat a rule's finding on the same lines are dropped too: the
rule's is exact and carries a fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .lines import split_lines, strip_newline
from .models import Edit, Finding, Fix, FixSafety, Severity, Span
from .units import Unit

LM_RULE_PREFIX = "LM-"
MAX_MESSAGE_CHARS = 500
MAX_RATIONALE_CHARS = 1_000
MAX_SNIPPET_CHARS = 1_000
_SEVERITY = {"error": Severity.ERROR, "warning": Severity.WARNING, "info": Severity.INFO}


class UnreadableReply(RuntimeError):
    """The model answered in a shape its signature cannot parse: that call says nothing."""


@dataclass(frozen=True)
class RawFinding:
    """The model's claim, unit-relative, as cached: independent of where the unit sits."""

    line: int
    end_line: int
    category: str
    severity: str
    message: str
    rationale: str
    confidence: float
    snippet: str = ""
    rank: int = 0
    """Its place in the model's reply, 1 for the first finding: the order findings are shown
    in. The model's own confidence only filters (``lm.min-confidence``): a few-shot program
    often gives every finding the same one. 0: not known."""
    replacement: str = ""
    """A repair's lines for ``line``..``end_line`` (``RepairFinding``): offered as its fix."""


@dataclass(frozen=True)
class Checked:
    findings: tuple[RawFinding, ...]
    dropped: tuple[str, ...]  # why each dropped claim was dropped, for the log


def claims_of(reply: Sequence[Any]) -> list[RawFinding]:
    """The findings of a parsed reply (``LmFinding``s, or anything with their fields) as claims,
    each ranked by its place in the reply (``positions`` where the parser kept count)."""
    fields = [name for name in RawFinding.__dataclass_fields__ if name != "rank"]
    places = getattr(reply, "positions", ()) or range(1, len(reply) + 1)
    return [
        RawFinding(
            **{name: getattr(item, name) for name in fields if hasattr(item, name)}, rank=place
        )
        for item, place in zip(reply, places, strict=True)
    ]


def check_claims(unit: Unit, claims: Iterable[RawFinding]) -> Checked:
    """Keep claims that point at real lines of ``unit``; re-anchor by snippet where they moved."""
    lines = [strip_newline(line) for line in split_lines(unit.text)]
    kept: list[RawFinding] = []
    dropped: list[str] = []
    for claim in claims:
        start, end = claim.line, max(claim.end_line, claim.line)
        snippet = claim.snippet.strip()
        if snippet:
            anchored = _anchor(lines, snippet, start)
            if anchored is None:
                dropped.append(f"{unit.qualname}: snippet not in the code: {snippet[:60]!r}")
                continue
            if anchored != start:
                end, start = anchored + (end - start), anchored
        if not 1 <= start <= len(lines) or end > len(lines):
            dropped.append(
                f"{unit.qualname}: lines {claim.line}-{claim.end_line} not in 1-{len(lines)}"
            )
            continue
        if not claim.message.strip():
            dropped.append(f"{unit.qualname}: empty message")
            continue
        if not 0.0 <= claim.confidence <= 1.0:  # NaN too
            dropped.append(f"{unit.qualname}: confidence {claim.confidence!r} not in 0-1")
            continue
        kept.append(
            RawFinding(
                start,
                end,
                claim.category,
                claim.severity,
                _shortened(claim.message, MAX_MESSAGE_CHARS),
                _shortened(claim.rationale, MAX_RATIONALE_CHARS),
                claim.confidence,
                claim.snippet[:MAX_SNIPPET_CHARS],
                claim.rank,
                # lines the claim did not name (re-anchored) are not the repair's to replace
                claim.replacement if (start, end) == (claim.line, claim.end_line) else "",
            )
        )
    return Checked(tuple(kept), tuple(dropped))


def _shortened(text: str, limit: int) -> str:
    """``text`` stripped, and cut to ``limit`` characters with an ellipsis if longer."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _anchor(lines: list[str], snippet: str, claimed: int) -> int | None:
    """1-based line where ``snippet`` starts, nearest to the claimed line; None if absent."""
    first = snippet.splitlines()[0].strip()
    hits = [i for i, line in enumerate(lines, start=1) if first and first in line]
    if not hits:
        return None
    return min(hits, key=lambda i: abs(i - claimed))


def place(unit: Unit, claim: RawFinding, version: str) -> Finding:
    """The finding in file coordinates: whole lines, from the first non-blank character."""
    lines = [strip_newline(line) for line in split_lines(unit.text)]
    first = lines[claim.line - 1]
    last = lines[claim.end_line - 1]
    span = Span.of(
        unit.line_map[claim.line - 1],
        len(first) - len(first.lstrip()),
        unit.line_map[claim.end_line - 1],
        len(last),
    )
    relative = Span.of(claim.line, 0, claim.end_line, 0)
    return Finding(
        id=Finding.make_id(
            f"{LM_RULE_PREFIX}{claim.category}", f"{unit.hash}|{claim.message}", relative
        ),
        rule=f"{LM_RULE_PREFIX}{claim.category}",
        severity=_SEVERITY.get(claim.severity, Severity.INFO),
        message=claim.message,
        rationale=claim.rationale,
        confidence=claim.confidence,
        span=span,
        origin=version,
        rank=claim.rank or None,
        fix=_repair_fix(unit, claim),
    )


def _repair_fix(unit: Unit, claim: RawFinding) -> Fix | None:
    """The repair's lines in place of the claimed ones: whole lines, so it reads as the model
    wrote them. A suggestion: nobody ran it (never applied by fix-all or ``check --fix``)."""
    if not claim.replacement or not unit.contiguous:
        return None
    lines = split_lines(unit.text)
    last = claim.end_line == len(lines) and lines[-1] == strip_newline(lines[-1])
    start = unit.line_map[claim.line - 1]
    end = unit.line_map[claim.end_line - 1]
    # A unit at the end of a file without a final line break ends inside its last line.
    span = Span.of(start, 0, end, len(lines[-1])) if last else Span.of(start, 0, end + 1, 0)
    new_text = strip_newline(claim.replacement) if last else claim.replacement
    return Fix(
        title="apply the model's repair",
        safety=FixSafety.SUGGESTION,
        edits=(Edit(span=span, new_text=new_text),),
    )


def at_least(findings: Sequence[Finding], min_confidence: float) -> list[Finding]:
    """The model's ``findings`` whose confidence reaches ``lm.min-confidence``."""
    return [f for f in findings if f.confidence >= min_confidence]


def without_rule_duplicates(lm: Sequence[Finding], rules: Sequence[Finding]) -> list[Finding]:
    """Drop model findings on lines a rule already flagged: the rule is exact and has the fix."""
    flagged = {line for f in rules for line in range(f.span.start.line, f.span.end.line + 1)}
    return [
        f
        for f in lm
        if not any(line in flagged for line in range(f.span.start.line, f.span.end.line + 1))
    ]
