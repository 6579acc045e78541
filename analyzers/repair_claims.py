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
from .name_check import check_names

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
    replacement: str = ""
    """The text that takes the place of the unit's lines ``line``..``end_line`` (whole lines,
    line breaks included): the repair's own lines, in the unit's indentation and line breaks.
    An insertion keeps the lines on each side of it."""

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
    new_lines, new_numbers = _code_lines(repaired)
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    opcodes = matcher.get_opcodes()
    shared = [
        (old_numbers[i1 + k], new_numbers[j1 + k])
        for tag, i1, i2, j1, _ in opcodes
        if tag == "equal"
        for k in range(i2 - i1)
    ]
    written = _Rewriter(code, repaired, shared)
    hunks: list[Hunk] = []
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            continue
        new = written.lines(new_numbers[j1], new_numbers[j2 - 1]) if j1 < j2 else ""
        if i1 < i2:
            line, end_line = old_numbers[i1], old_numbers[i2 - 1]
            replacement = new
        else:  # an insertion: the lines it goes between
            line = old_numbers[i1 - 1] if i1 > 0 else old_numbers[0]
            end_line = old_numbers[i1] if i1 < len(old_numbers) else old_numbers[-1]
            before = written.original(line, line) if i1 > 0 else ""
            after = written.original(line + 1 if i1 > 0 else line, end_line)
            replacement = before + new + after
        old, changed = tuple(old_lines[i1:i2]), tuple(new_lines[j1:j2])
        hunks.append(Hunk(line, end_line, old, changed, replacement))
    changed = sum(len(h.old) or 1 for h in hunks)
    if not old_lines or changed > MAX_CHANGED_SHARE * len(old_lines):
        return []
    return sorted(hunks, key=lambda h: (h.size, h.line))[:MAX_HUNKS]


def applied(code: str, hunk: Hunk) -> str:
    """``code`` with ``hunk`` alone made."""
    lines = split_lines(code)
    return "".join([*lines[: hunk.line - 1], hunk.replacement, *lines[hunk.end_line :]])


def offerable(code: str, context: str, hunk: Hunk) -> bool:
    """Whether ``hunk`` alone, made in the unit, parses and leaves no name unbound (pyflakes,
    with the unit's module header around it): only then is it offered as a fix. A hunk that
    needs the rest of the repair, or an import, is a finding without one."""
    fixed = applied(code, hunk)
    for before, after in ((context + code, context + fixed), (code, fixed)):
        before, after = textwrap.dedent(before), textwrap.dedent(after)
        if _tree(before) is None:
            continue  # a header cut short, or a method without its class: try the unit alone
        if _tree(after) is None:
            return False
        check = check_names(before, after)
        return not check.problems and check.imports is None
    return False


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


class _Rewriter:
    """Lines of a repair in the unit's own indentation and line breaks. A model often answers
    a method dedented, the reply's first line has lost its indentation once parsed, and lines
    break with ``\\n``: indentation is mapped through a line both share (not the first)."""

    def __init__(self, code: str, repaired: str, shared: list[tuple[int, int]]) -> None:
        self._code = split_lines(code)
        self._repaired = split_lines(repaired)
        reference = next(((o, n) for o, n in shared if n != _first_code_line(self._repaired)), None)
        if reference is None:  # no line in common but the first: their first code lines
            self._ours, self._theirs = _indent(self._code), _indent(self._repaired)
        else:
            self._ours = _leading(self._code[reference[0] - 1])
            self._theirs = _leading(self._repaired[reference[1] - 1])
        first = self._code[0] if self._code else "\n"
        self._newline = first[len(strip_newline(first)) :] or "\n"

    def original(self, first: int, last: int) -> str:
        """The unit's own lines ``first``..``last`` (1-based), as they are."""
        return "".join(self._code[first - 1 : last])

    def lines(self, first: int, last: int) -> str:
        """The repair's lines ``first``..``last`` (1-based), re-indented."""
        out = []
        for line in self._repaired[first - 1 : last]:
            text = strip_newline(line).rstrip()
            if text:
                indent = _leading(text)
                if indent.startswith(self._theirs):
                    text = self._ours + text[len(self._theirs) :]
                else:  # shallower than the shared line
                    keep = max(0, len(self._ours) - (len(self._theirs) - len(indent)))
                    text = self._ours[:keep] + text.lstrip()
            out.append(text + self._newline)
        return "".join(out)


def _leading(line: str) -> str:
    return line[: len(line) - len(line.lstrip())] if line.strip() else ""


def _first_code_line(lines: list[str]) -> int:
    return next((n for n, line in enumerate(lines, start=1) if line.strip()), 0)


def _indent(lines: list[str]) -> str:
    """The leading whitespace of the first line that holds code."""
    return _leading(lines[_first_code_line(lines) - 1]) if _first_code_line(lines) else ""


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
