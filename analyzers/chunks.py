"""Split a module into top-level statements, so work is redone only where the text changed.

``ast`` finds the statement boundaries (it is fast and C-backed); each chunk is then analysed on
its own, and its results are cached by the chunk's text. Lines are LSP lines.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass

from .source import LineIndex


@dataclass(frozen=True)
class Chunk:
    start_line: int
    text: str
    nodes: int = 0  # syntax nodes (counted for large chunks only): how long libcst will take

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _first_line(node: ast.stmt) -> int:
    """0-based first line of a statement, decorators included."""
    first = node.lineno
    for decorator in getattr(node, "decorator_list", ()):
        first = min(first, decorator.lineno)
    return first - 1


# Chunks shorter than this cannot hold enough syntax nodes to be too big, so only longer ones
# pay for counting.
_CHARS_WORTH_COUNTING = 20_000


def split_chunks(text: str, tree: ast.Module) -> list[Chunk]:
    """Partition ``text`` into chunks that each start at a top-level statement.

    Comments and blank lines between statements stay with the chunk before them; the first
    chunk also holds anything before the first statement.
    """
    line_starts = LineIndex(text).line_starts
    statements: dict[int, list[ast.stmt]] = {0: []}
    for statement in tree.body:
        line = _first_line(statement)
        statements.setdefault(line if 0 < line < len(line_starts) else 0, []).append(statement)
    bounds = sorted(statements)
    chunks = []
    for i, first_line in enumerate(bounds):
        begin = line_starts[first_line]
        end = line_starts[bounds[i + 1]] if i + 1 < len(bounds) else len(text)
        nodes = 0
        if end - begin > _CHARS_WORTH_COUNTING:
            nodes = sum(1 for stmt in statements[first_line] for _ in ast.walk(stmt))
        chunks.append(Chunk(start_line=first_line, text=text[begin:end], nodes=nodes))
    return chunks
