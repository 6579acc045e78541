"""Fixes that leave the project's formatter nothing to do: the lines a fix touched are
formatted with the project's own style, and every other line stays byte for byte.

A fix rewrites a statement (a dedented ``else`` body, two conditions joined), so its lines may
no longer be what black or ruff would write, and the project's format check fails. Only the
touched lines are formatted, so a fix never reformats code its author left as it was.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from .engine import minimal_edit
from .fixes import apply_edits
from .models import Fix

LineRange = tuple[int, int]
"""1-based, both ends included: black's ``lines=`` and ruff's ``--range``."""

RangeFormatter = Callable[[str, tuple[LineRange, ...]], str]
"""Formats the given lines of ``\\n``-separated source; raises ``NotFormatted``."""


class NotFormatted(Exception):
    """Why the touched lines were left as the fix wrote them (said to the user once)."""


def touched_lines(before: str, after: str) -> tuple[LineRange, ...]:
    """The lines of ``after`` that differ from ``before``; lines that were only deleted leave
    nothing to format, so they name no range."""
    # Lines as the formatters and ``ast`` count them: ``\n`` only (a form feed is no break).
    matcher = difflib.SequenceMatcher(None, before.split("\n"), after.split("\n"), autojunk=False)
    return tuple(
        (j1 + 1, j2) for tag, _, _, j1, j2 in matcher.get_opcodes() if tag != "equal" and j2 > j1
    )


def format_touched(before: str, after: str, formatter: RangeFormatter) -> str:
    """``after`` with the lines that differ from ``before`` formatted; raises ``NotFormatted``.

    Formatters read ``\\n`` only, so ``\\r\\n`` text is formatted as ``\\n`` and turned back.
    """
    newline = "\r\n" if "\r\n" in after else "\n"
    plain_before, plain_after = (t.replace("\r\n", "\n") for t in (before, after))
    if "\r" in plain_after:
        raise NotFormatted("the file mixes line endings")
    ranges = touched_lines(plain_before, plain_after)
    if not ranges:
        return after
    return formatter(plain_after, ranges).replace("\n", newline)


def formatted_fix(text: str, fix: Fix, formatter: RangeFormatter) -> Fix:
    """``fix`` as one minimal edit whose result has its touched lines formatted; when they
    cannot be, the fix as it was, its title saying why."""
    after = apply_edits(text, fix.edits)
    try:
        formatted = format_touched(text, after, formatter)
    except NotFormatted as exc:
        return fix.model_copy(update={"title": f"{fix.title} (not formatted: {exc})"})
    edit = minimal_edit(text, formatted)
    return fix.model_copy(update={"edits": (edit,) if edit is not None else ()})
