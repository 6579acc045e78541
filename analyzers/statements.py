"""Split a module into top-level statements, so work is redone only where the text changed.

``ast`` finds the statement boundaries (it is fast and C-backed); each part is then analysed on
its own, and its results are cached by the part's text. Given the split of an earlier text,
only the parts around the edited region are parsed again. Lines are LSP lines.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
from bisect import bisect_right
from dataclasses import dataclass

from . import quiet_ast
from .source import LineIndex


@dataclass(frozen=True)
class Statement:
    start_line: int
    text: str
    nodes: int = 0  # syntax nodes (counted for large parts only): how long libcst will take

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def first_line(node: ast.stmt) -> int:
    """0-based first line of a statement, decorators included."""
    first = node.lineno
    for decorator in getattr(node, "decorator_list", ()):
        first = min(first, decorator.lineno)
    return first - 1


# Parts shorter than this cannot hold enough syntax nodes to be too big, so only longer ones
# pay for counting.
_CHARS_WORTH_COUNTING = 20_000
# libcst visits about 10k nodes a second per core; beyond this one statement would stall for
# seconds, so it is skipped with a note instead (a generated table, a huge literal). Counting
# stops there too: walking a 400k-node statement takes seconds on its own.
MAX_STATEMENT_NODES = 30_000


def _count_nodes(statements: list[ast.stmt], lines: int) -> int:
    """libcst's nodes, up to one past the limit: the statements' and one per line (a blank or
    comment line is a node of its own)."""
    walked = itertools.chain.from_iterable(ast.walk(stmt) for stmt in statements)
    return lines + sum(1 for _ in itertools.islice(walked, max(MAX_STATEMENT_NODES + 1 - lines, 0)))


def split_statements(text: str, tree: ast.Module) -> list[Statement]:
    """Partition ``text`` into parts that each start at a top-level statement.

    Comments and blank lines between statements stay with the part before them; the first
    part also holds anything before the first statement.
    """
    line_starts = LineIndex(text).line_starts
    statements: dict[int, list[ast.stmt]] = {0: []}
    for statement in tree.body:
        line = first_line(statement)
        statements.setdefault(line if 0 < line < len(line_starts) else 0, []).append(statement)
    bounds = sorted(statements)
    parts = []
    for i, start in enumerate(bounds):
        begin = line_starts[start]
        end = line_starts[bounds[i + 1]] if i + 1 < len(bounds) else len(text)
        nodes = 0
        if end - begin > _CHARS_WORTH_COUNTING:
            last_line = bounds[i + 1] if i + 1 < len(bounds) else len(line_starts)
            nodes = _count_nodes(statements[start], last_line - start)
        parts.append(Statement(start_line=start, text=text[begin:end], nodes=nodes))
    return parts


@dataclass(frozen=True, eq=False)
class StatementSplit:
    """A text and its parts; hand it back to :func:`split_module` to re-split an edited text."""

    text: str
    parts: tuple[Statement, ...]


def split_module(text: str, previous: StatementSplit | None = None) -> StatementSplit:
    """Parts of ``text``; raises what ``ast.parse`` raises when the text does not parse."""
    if previous is not None:
        if previous.text == text:
            return previous
        reused = _resplit(previous, text)
        if reused is not None:
            return reused
    return StatementSplit(text, tuple(split_statements(text, quiet_ast.parse(text))))


def _common_prefix(a: str, b: str) -> int:
    """Length of the common prefix, by bisection over C-speed slice comparisons."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str, limit: int) -> int:
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid :] == b[len(b) - mid :]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _resplit(previous: StatementSplit, text: str) -> StatementSplit | None:
    """Re-split only the parts the edit touched (plus a character of margin on each side).

    Top-level statements parse independently, so if the touched region parses on its own the
    whole text does. When it does not (an unclosed bracket, a decorator typed above a function
    in the next part), the caller parses the whole text instead.
    """
    old, parts = previous.text, previous.parts
    if not parts:  # the document was emptied: nothing to reuse
        return None
    prefix = _common_prefix(old, text)
    suffix = _common_suffix(old, text, min(len(old), len(text)) - prefix)
    offsets, total = [], 0
    for part in parts:
        offsets.append(total)
        total += len(part.text)
    first = bisect_right(offsets, max(prefix - 1, 0)) - 1
    last = bisect_right(offsets, min(len(old) - suffix, len(old) - 1)) - 1
    start = offsets[first]
    old_end = offsets[last + 1] if last + 1 < len(parts) else len(old)
    new_end = old_end + len(text) - len(old)
    region = text[start:new_end]
    try:
        tree = quiet_ast.parse(region)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    base = parts[first].start_line
    middle = [
        Statement(start_line=base + c.start_line, text=c.text, nodes=c.nodes)
        for c in split_statements(region, tree)
        if c.text
    ]
    old_lines = sum(len(LineIndex(c.text).line_starts) - 1 for c in parts[first : last + 1])
    delta = len(LineIndex(region).line_starts) - 1 - old_lines
    after = [
        Statement(start_line=c.start_line + delta, text=c.text, nodes=c.nodes)
        for c in parts[last + 1 :]
    ]
    return StatementSplit(text, (*parts[:first], *middle, *after))
