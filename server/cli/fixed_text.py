"""``check --fix`` on one file's text: every allowed fix applied, the lines they touched formatted.

A task of ``rule_workers``: pure text in, text out. Writing the file is left to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...analyzers.models import FixSafety
from ..settings import ResolvedSettings


@dataclass(frozen=True)
class FixedText:
    text: str
    fixed: int
    unformatted: str
    """Why the touched lines were not formatted; "" when they were or nothing asks for it."""


def fixed_text(
    text: str, path: Path, resolved: ResolvedSettings, *, allowed: frozenset[FixSafety]
) -> FixedText:
    from ...analyzers.fixes import fix_all
    from ..analysis import codes_for
    from ..fix_formatter import format_fixed

    new_text, fixed = fix_all(text, codes_for(path, resolved), allowed=allowed)
    new_text, why = format_fixed(text, new_text, resolved.formatter, stub=path.suffix == ".pyi")
    return FixedText(new_text, fixed, why)
