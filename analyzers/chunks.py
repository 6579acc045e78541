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

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def statement_start_lines(tree: ast.Module) -> list[int]:
    """0-based first line of each top-level statement, decorators included."""
    starts: set[int] = set()
    for node in tree.body:
        first = node.lineno
        for decorator in getattr(node, "decorator_list", ()):
            first = min(first, decorator.lineno)
        starts.add(first - 1)
    return sorted(starts)


def split_chunks(text: str, tree: ast.Module) -> list[Chunk]:
    """Partition ``text`` into chunks that each start at a top-level statement.

    Comments and blank lines between statements stay with the chunk before them; the first
    chunk also holds anything before the first statement.
    """
    index = LineIndex(text)
    line_starts = index.line_starts
    starts = [line for line in statement_start_lines(tree) if 0 < line < len(line_starts)]
    bounds = [0, *starts]
    chunks = []
    for i, first_line in enumerate(bounds):
        begin = line_starts[first_line]
        end = line_starts[bounds[i + 1]] if i + 1 < len(bounds) else len(text)
        chunks.append(Chunk(start_line=first_line, text=text[begin:end]))
    return chunks
