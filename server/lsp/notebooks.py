"""Jupyter notebooks over LSP notebook sync: the code cells are analysed as one module, as ruff's
server does, and each finding is published on the cell it falls in, in that cell's own lines.

One module rather than a cell at a time, because a cell uses what the cells above it define: a
call to a function of an earlier cell is checked against its signature, and a name defined
there is not reported. The cells are joined line by line (each starts on a line of its own), so
mapping a finding back is a subtraction. IPython magics are not Python: a ``%`` or ``!`` line
becomes a comment of the same length, and a cell magic (``%%bash``) comments its whole cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...analyzers.lines import split_lines, strip_newline
from ...analyzers.models import Edit, Finding, Fix, Position, Span


@dataclass(frozen=True)
class Cell:
    uri: str
    version: int | None
    text: str
    first_line: int
    """Where the cell starts in the joined module."""
    lines: tuple[str, ...]

    def holds(self, span: Span) -> bool:
        """Whether an edit of ``span`` stays in the cell (it may end where the cell ends)."""
        end = self.first_line + len(self.lines)
        inside = span.end.line < end or (span.end.line == end and span.end.column == 0)
        return self.first_line <= span.start.line and inside

    def local(self, span: Span, clamp: bool = True) -> Span:
        """``span`` in the cell's own lines; with ``clamp``, its end kept on the cell's lines."""
        start = Position(line=span.start.line - self.first_line, column=span.start.column)
        end = Position(line=span.end.line - self.first_line, column=span.end.column)
        last = len(self.lines) - 1
        if clamp and end.line > last >= 0:
            end = Position(line=last, column=len(strip_newline(self.lines[last])))
            start = min(start, end, key=lambda p: (p.line, p.column))
        if (end.line, end.column) < (start.line, start.column):
            end = start
        return Span(start=start, end=end)


@dataclass(frozen=True)
class NotebookModule:
    text: str
    cells: tuple[Cell, ...]

    def cell_of(self, line: int) -> Cell | None:
        for cell in self.cells:
            if cell.first_line <= line < cell.first_line + len(cell.lines):
                return cell
        with_lines = [cell for cell in self.cells if cell.lines]
        return with_lines[-1] if with_lines else None  # past the end: the last cell's end


def _commented(line: str) -> str:
    """The line as a comment of the same length (its first non-blank character becomes #)."""
    body = line.lstrip(" \t")
    if not strip_newline(body):
        return line
    indent = len(line) - len(body)
    return f"{line[:indent]}#{line[indent + 1 :]}"


def without_magics(text: str) -> str:
    lines = split_lines(text)
    if lines and lines[0].lstrip(" \t").startswith("%%"):
        return "".join(_commented(line) for line in lines)
    return "".join(
        _commented(line) if line.lstrip(" \t").startswith(("%", "!")) else line for line in lines
    )


def notebook_module(cells: Sequence[tuple[str, int | None, str]]) -> NotebookModule:
    """The code cells ``(uri, version, text)``, in order, joined into one module."""
    parts: list[str] = []
    placed: list[Cell] = []
    first_line = 0
    for uri, version, text in cells:
        python = without_magics(text)
        if python and not python.endswith("\n"):
            python += "\n"  # "\r" too: a "\n" starting the next cell must not join its line
        lines = tuple(split_lines(text))
        placed.append(Cell(uri, version, text, first_line, lines))
        parts.append(python)
        first_line += len(lines)
    return NotebookModule("".join(parts), tuple(placed))


def _local_fix(fix: Fix | None, cell: Cell) -> Fix | None:
    if fix is None or not all(cell.holds(edit.span) for edit in fix.edits):
        return None  # an edit outside the cell cannot be applied to it
    edits = tuple(
        Edit(span=cell.local(e.span, clamp=False), new_text=e.new_text) for e in fix.edits
    )
    return fix.model_copy(update={"edits": edits})


def findings_by_cell(
    module: NotebookModule, findings: Sequence[Finding]
) -> list[tuple[Cell, list[Finding]]]:
    """Every cell with the findings it holds, in its own lines (an empty list clears it)."""
    by_cell: dict[str, list[Finding]] = {cell.uri: [] for cell in module.cells}
    for finding in findings:
        cell = module.cell_of(finding.span.start.line)
        if cell is None:
            continue
        by_cell[cell.uri].append(
            finding.model_copy(
                update={"span": cell.local(finding.span), "fix": _local_fix(finding.fix, cell)}
            )
        )
    return [(cell, by_cell[cell.uri]) for cell in module.cells]
