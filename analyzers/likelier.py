"""Findings from edits a model finds likelier: the ``likelier`` finder, for local models.

A code model expects correct code: ``gcd(b, a % b)`` is far likelier to it than ``gcd(a % b,
b)``. So each line of a unit is tried with the fix loop's small edits (``repair_edits``), and a
line where some edit makes the unit likelier than it is by more than a margin is a finding,
that edit its suggested fix. Scoring every edit whole costs a second each (a hundred in a
15-line function), so where the model can screen, one pass over the unit first gives each
edit's gain at the token where it departs, and only the few best are scored whole: on QuixBugs
the same findings as scoring all of them. Code as the model expects it draws nothing, which is what keeps
this finder quiet on correct code. Nothing is generated: the model only scores text, so the
reply cannot be unparsable, run away or echo its prompt. Pure: the scores come in.
"""

from __future__ import annotations

import hashlib
import textwrap

from .lines import split_lines
from .lm_findings import RawFinding
from .repair_edits import EDITS, LikelierLine, LineEdit, Scores, Screens, likelier_lines, line_edits
from .surprisal import PREFIX as SCORED_AFTER
from .units import Unit

MARGIN = 1.5
"""Natural-log units an edit must gain: the edited unit about 4.5 times likelier than the unit."""
MAX_FINDINGS = 3
SCREENED = 3
"""Edits scored whole, the best by their gain at the token where they depart."""
MAX_EDITS = 800
"""More edits than this are not made (``TooManyEdits``): each is a parse and a render, about
5 ms, and dense code has thousands in 20 lines."""
VERSION = (
    "likelier@"
    + hashlib.sha256(
        f"{sorted(EDITS)}|{MARGIN}|{MAX_FINDINGS}|{SCREENED}|{MAX_EDITS}|{SCORED_AFTER}".encode()
    ).hexdigest()[:12]
)
"""What its findings are cached under: a change of edits, margin or cap asks again."""


def likelier_claims(
    unit: Unit, score: Scores, screen: Screens | None = None, margin: float = MARGIN
) -> list[RawFinding]:
    """The unit's lines some edit makes likelier by more than ``margin``, biggest gain first
    (at most ``MAX_FINDINGS``), each with that edit's lines as its replacement; none for a unit
    that is not a function. With ``screen``, only the ``SCREENED`` edits it likes best are
    scored whole. ``TooManyEdits`` for a function with more than ``MAX_EDITS``."""
    if unit.kind not in ("function", "method"):
        return []
    code = textwrap.dedent(unit.text)
    name = unit.qualname.rpartition(".")[2]
    edits = line_edits(code, name, (1, len(split_lines(code))), MAX_EDITS)
    if screen is not None:
        edits = screened(code, edits, screen)
    found = likelier_lines(edits, score, margin)[:MAX_FINDINGS]
    indent = _removed_indent(unit.text, code)
    return [_claim(code, indent, b, rank) for rank, b in enumerate(found, start=1)]


def screened(code: str, edits: list[LineEdit], screen: Screens) -> list[LineEdit]:
    """The ``SCREENED`` edits with the best gain where they depart from ``code``, in order of
    that gain (ties in ``EDITS`` order). A bug's fix nearly always gains there already: the
    model wanted another token where the bug has its own."""
    if len(edits) <= SCREENED:
        return edits
    gains = screen(code, [e.scored for e in edits])
    order = sorted(range(len(edits)), key=lambda i: (-gains[i], i))
    return [edits[i] for i in order[:SCREENED]]


def _claim(code: str, indent: str, best: LikelierLine, rank: int) -> RawFinding:
    first, last = best.edit.lines
    edited = split_lines(best.edit.unit)[first - 1 : last]
    written = split_lines(code)[first - 1 : last]
    return RawFinding(
        line=first,
        end_line=last,
        category="bug",
        severity="warning",
        message=f"`{best.edit.before}` looks wrong: should it be `{best.edit.after}`?",
        rationale=f"The model finds the function about {_times(best.gain)} times likelier with"
        f" this change ({best.edit.edit} edit); code as it expects it would draw nothing.",
        confidence=round(best.gain / (best.gain + MARGIN), 2),
        snippet="".join(written).strip(),
        rank=rank,
        replacement="".join(indent + line if line.strip() else line for line in edited),
    )


def _times(gain: float) -> str:
    import math

    value = math.exp(min(gain, 50.0))
    return f"{value:,.0f}" if value < 1e6 else "a million"


def _removed_indent(text: str, dedented: str) -> str:
    """The indentation ``textwrap.dedent`` took off every line (a method's)."""
    for original, stripped in zip(split_lines(text), split_lines(dedented), strict=False):
        if stripped.strip():
            return original[: len(original) - len(stripped)]
    return ""
