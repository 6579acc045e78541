"""``# dspy-lsp: ignore[DL101]`` comments: reading them, and writing one for a finding."""

from __future__ import annotations

import ast
import re

from .models import Edit, Finding, Span
from .source import LineIndex

_COMMENT_RE = re.compile(r"#\s*dspy-lsp:\s*ignore(?:\[(?P<codes>[^\]]*)\])?", re.IGNORECASE)


def _codes(line: str) -> frozenset[str] | None:
    """Codes a line's suppression comment names; an empty set means every rule; None, no comment."""
    match = _COMMENT_RE.search(line)
    if match is None:
        return None
    raw = match.group("codes")
    if raw is None:
        return frozenset()
    return frozenset(code.strip().upper() for code in raw.split(",") if code.strip())


def _suppresses(codes: frozenset[str] | None, rule: str) -> bool:
    return codes is not None and (not codes or rule.upper() in codes)


def is_suppressed(index: LineIndex, finding: Finding) -> bool:
    """A comment on the finding's first line, or a comment-only line just above, suppresses it."""
    line = finding.span.start.line
    if _suppresses(_codes(index.line_text(line)), finding.rule):
        return True
    above = index.line_text(line - 1) if line > 0 else ""
    return above.lstrip().startswith("#") and _suppresses(_codes(above), finding.rule)


def suppression_edit(text: str, line: int, rule: str) -> Edit | None:
    """An edit that suppresses ``rule`` on ``line`` without changing what the code means.

    It prefers a trailing comment (merged into an existing one), then a comment line above, and
    keeps the first whose result has the same syntax tree as the original.
    """
    index = LineIndex(text)
    line_text = index.line_text(line)
    try:
        original = ast.dump(ast.parse(text))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for edit in _candidates(index, line, line_text, rule.upper()):
        start, end = index.offset(edit.span.start), index.offset(edit.span.end)
        candidate = text[:start] + edit.new_text + text[end:]
        try:
            if ast.dump(ast.parse(candidate)) == original and _suppresses(
                _codes(LineIndex(candidate).line_text(line)), rule
            ):
                return edit
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
    return None


def _candidates(index: LineIndex, line: int, line_text: str, rule: str) -> list[Edit]:
    end_col = len(line_text)
    match = _COMMENT_RE.search(line_text)
    if match is not None and match.group("codes") is not None:
        codes = sorted({*(c.strip().upper() for c in match.group("codes").split(",")), rule} - {""})
        merged = f"# dspy-lsp: ignore[{', '.join(codes)}]"
        span = Span.of(line, match.start(), line, match.end())
        return [Edit(span=span, new_text=merged)]
    comment = f"# dspy-lsp: ignore[{rule}]"
    trailing = Edit(span=Span.of(line, end_col, line, end_col), new_text=f"  {comment}")
    indent = line_text[: len(line_text) - len(line_text.lstrip())]
    newline = _newline_of(index, line)
    above = Edit(span=Span.of(line, 0, line, 0), new_text=f"{indent}{comment}{newline}")
    return [trailing, above]


def _newline_of(index: LineIndex, line: int) -> str:
    starts = index.line_starts
    if line + 1 < len(starts):
        raw = index.text[starts[line] : starts[line + 1]]
        return raw[len(raw.rstrip("\r\n")) :]
    return "\n"
