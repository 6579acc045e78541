"""Applying fixes to text: one fix, or every safe fix until nothing more changes."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from .engine import analyze_source
from .models import Edit, FixSafety
from .source import LineIndex

MAX_FIX_ROUNDS = 10


class OverlappingEdits(ValueError):
    pass


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """Apply non-overlapping edits given in positions of ``text``.

    Insertions at one position land in the order given, as LSP applies a ``TextEdit[]``.
    """
    index = LineIndex(text)
    located = sorted(
        (
            (index.offset(e.span.start), index.offset(e.span.end), order, e.new_text)
            for order, e in enumerate(edits)
        ),
        reverse=True,
    )
    for (start, _, _, _), (_, prev_end, _, _) in itertools.pairwise(located):
        if prev_end > start:
            raise OverlappingEdits("edits overlap")
    for start, end, _, new_text in located:
        text = text[:start] + new_text + text[end:]
    return text


def fix_all(
    text: str,
    codes: tuple[str, ...] | None = None,
    *,
    allowed: frozenset[FixSafety] = frozenset({FixSafety.SAFE}),
) -> tuple[str, int]:
    """Apply every fix of an ``allowed`` safety; fixes that overlap wait for the next round."""
    applied = 0
    for _ in range(MAX_FIX_ROUNDS):
        chosen: list[Edit] = []
        for finding in analyze_source(text, codes).findings:
            if finding.fix is None or finding.fix.safety not in allowed:
                continue
            if any(
                e.span.overlaps(c.span) or e.span == c.span
                for e in finding.fix.edits
                for c in chosen
            ):
                continue
            chosen.extend(finding.fix.edits)
            applied += 1
        if not chosen:
            break
        text = apply_edits(text, chosen)
    return text, applied
