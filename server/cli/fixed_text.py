"""``check --fix`` on one file's text: every allowed fix applied, the lines they touched formatted.

A task of ``rule_workers``: pure text in, text out. Writing the file is left to the caller.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ...analyzers.models import Finding, FixSafety
from ..settings import ResolvedSettings


@dataclass(frozen=True)
class FixedText:
    text: str
    fixed: int
    unformatted: str
    """Why the touched lines were not formatted; "" when they were or nothing asks for it."""
    fixed_rules: tuple[tuple[str, int], ...] = ()
    """With ``count_rules``: (rule, findings fixed) for each rule whose findings went away."""


def fixed_text(
    text: str,
    path: Path,
    resolved: ResolvedSettings,
    *,
    allowed: frozenset[FixSafety],
    count_rules: bool = False,
) -> FixedText:
    from ...analyzers.fixes import fix_all
    from ..analysis import codes_for
    from ..fix_formatter import format_fixed

    new_text, fixed = fix_all(text, codes_for(path, resolved), allowed=allowed)
    new_text, why = format_fixed(text, new_text, resolved.formatter, stub=path.suffix == ".pyi")
    rules: tuple[tuple[str, int], ...] = ()
    if count_rules and new_text != text:
        from ..analysis import rule_tier

        before = _fixable(rule_tier(text, path, resolved).findings, allowed)
        after = _fixable(rule_tier(new_text, path, resolved).findings, allowed)
        rules = tuple(sorted((before - after).items()))
    return FixedText(new_text, fixed, why, rules)


def _fixable(findings: tuple[Finding, ...], allowed: frozenset[FixSafety]) -> Counter[str]:
    return Counter(f.rule for f in findings if f.fix is not None and f.fix.safety in allowed)
