"""Findings from a repair: the lines a model changed when asked to fix a unit are its claims.

Small code models write a correct function far more reliably than they name a line number, so
the bug-finding program asks for the unit with its bugs fixed and reads the findings off the
difference. Each changed hunk is one finding, on the original lines it replaces (an insertion
claims the lines on each side of it), carrying the model's replacement as its suggested fix.

A repair that changes nothing but layout, comments or docstrings says "no bug". A reply that is
not Python, or that rewrites most of the unit, is a rewrite rather than a fix and says nothing:
on correct code a small model sometimes restyles it, and those are the false alarms to avoid.
Smaller hunks rank first: a one-line change is the typical bug fix.
"""

from __future__ import annotations

import ast
import difflib
import io
import re
import textwrap
import tokenize
from dataclasses import dataclass

from .lines import split_lines, strip_newline

MAX_CHANGED_SHARE = 0.5
"""A repair that changes more than this share of the unit's code lines is a rewrite."""
MAX_HUNKS = 3
CHARS_PER_TOKEN = 3
"""A low estimate for code (tokenizers average about 3.5 characters a token on Python)."""
_FENCE = re.compile(r"^\s*```[\w+-]*\s*\n(.*?)\n\s*```\s*$", re.DOTALL)


@dataclass(frozen=True)
class Hunk:
    """One change of a repair, on the original unit's lines (1-based, inclusive)."""

    line: int
    end_line: int
    old: tuple[str, ...]
    """The original lines it replaces, stripped; empty for an insertion."""
    new: tuple[str, ...]
    """The lines the repair puts there, stripped; empty for a deletion."""

    @property
    def size(self) -> int:
        return max(len(self.old), len(self.new))

    @property
    def message(self) -> str:
        old, new = " ".join(self.old), " ".join(self.new)
        if old and new:
            return f"`{_short(old)}` looks wrong: should it be `{_short(new)}`?"
        if new:
            return f"Something seems missing here: `{_short(new)}`"
        return f"`{_short(old)}` looks wrong: should it be removed?"


def fits(code: str, max_tokens: int) -> bool:
    """Whether a repair of ``code`` (the whole unit, written out again) is likely to fit in a
    reply of ``max_tokens``: one that does not is cut off, and a cut-off repair says nothing."""
    return len(code) <= CHARS_PER_TOKEN * max_tokens


def unfenced(reply: str) -> str:
    """The code of a reply, without the Markdown fence a model may wrap it in."""
    match = _FENCE.match(reply.strip("\n") + "\n") or _FENCE.match(reply)
    return match.group(1) if match else reply


def repair_hunks(code: str, repaired: str) -> list[Hunk]:
    """The hunks by which ``repaired`` fixes ``code``, smallest first; none when the repair is
    not Python, changes no behaviour, or rewrites more than ``MAX_CHANGED_SHARE`` of the code."""
    repaired = unfenced(repaired)
    old_tree, new_tree = _tree(code), _tree(repaired)
    if new_tree is None or (old_tree is not None and _same(old_tree, new_tree)):
        return []
    old_lines, old_numbers = _code_lines(code)
    new_lines, _ = _code_lines(repaired)
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    hunks: list[Hunk] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if i1 < i2:
            line, end_line = old_numbers[i1], old_numbers[i2 - 1]
        else:  # an insertion: the lines it goes between
            line = old_numbers[i1 - 1] if i1 > 0 else old_numbers[0]
            end_line = old_numbers[i1] if i1 < len(old_numbers) else old_numbers[-1]
        hunks.append(Hunk(line, end_line, tuple(old_lines[i1:i2]), tuple(new_lines[j1:j2])))
    changed = sum(len(h.old) or 1 for h in hunks)
    if not old_lines or changed > MAX_CHANGED_SHARE * len(old_lines):
        return []
    return sorted(hunks, key=lambda h: (h.size, h.line))[:MAX_HUNKS]


def wrong_fix(code: str, repaired: str, gold: str, *, k: int = 3) -> Hunk | None:
    """The gold fix's change that none of the repair's first ``k`` hunks makes, or None when
    one makes it (or the gold changes nothing). A repair that edits the bug's line into another
    wrong line finds the bug but fixes nothing: it must not be taught as a good answer."""
    expected = repair_hunks(code, gold)
    made = {(h.line, h.end_line, h.new) for h in repair_hunks(code, repaired)[:k]}
    for hunk in expected:
        if (hunk.line, hunk.end_line, hunk.new) in made:
            return None
    return expected[0] if expected else None


def _tree(code: str) -> ast.Module | None:
    try:
        return ast.parse(textwrap.dedent(code))
    except (SyntaxError, ValueError):
        return None


def _same(old: ast.Module, new: ast.Module) -> bool:
    """Whether two parses differ only in docstrings (comments and layout are not in a tree)."""
    return ast.dump(_without_docstrings(old)) == ast.dump(_without_docstrings(new))


def _without_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body[:1] = [] if len(body) > 1 else [ast.Pass()]
    return tree


def _code_lines(code: str) -> tuple[list[str], list[int]]:
    """The unit's lines that hold code, comments dropped and spacing collapsed, with their
    1-based numbers: what a diff compares, so layout and comments are no change."""
    lines = [strip_newline(line) for line in split_lines(_without_comments(code))]
    kept = [(" ".join(line.split()), n) for n, line in enumerate(lines, start=1) if line.strip()]
    return [text for text, _ in kept], [n for _, n in kept]


def _without_comments(code: str) -> str:
    """``code`` with its comments blanked, line numbers kept; as is when it does not tokenize."""
    lines = split_lines(code)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return code
    for token in reversed(tokens):
        if token.type == tokenize.COMMENT:
            row, col = token.start
            lines[row - 1] = lines[row - 1][:col].rstrip() + "\n"
    return "".join(lines)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
