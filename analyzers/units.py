"""Code units the LM reviews: functions, methods, and the module's own statements.

Each unit is shown to the model with its own line numbers (1, 2, ...; ``programs.inputs``), so
what the model says about a unit does not depend on where the unit sits in the file. A result
cached by the unit's hash is therefore still right after the unit moves; ``line_map`` puts it
back in place.

The module's header (its docstrings, imports and top-level assignments: the spec and the
constants a function is written against) is context shown with every unit, never a unit of its
own: reviewed alone, a docstring drew findings and its function was reviewed without its spec.
So are its neighbours: the module's own functions it calls (their signatures) and the lines
that call it. A unit's hash covers all it is shown, so editing the header asks again about
every unit of the file, and editing a signature about its callers: the answer may depend on it.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from .lines import split_lines
from .neighbours import call_graph, neighbours
from .statements import first_line

MAX_UNIT_LINES = 400


@dataclass(frozen=True)
class Unit:
    qualname: str
    kind: str  # "function" | "method" | "module"
    text: str
    line_map: tuple[int, ...]  # 0-based file line of each unit line
    context: str  # the module header and the enclosing class line: shown, not reviewed
    neighbours: str = ""
    """The module's functions it calls and the lines calling it (``neighbours``): shown too."""

    @property
    def prompt_context(self) -> str:
        """What the model is shown around the unit: its header, then its neighbours."""
        return self.context + self.neighbours

    @property
    def hash(self) -> str:
        raw = f"{self.kind}\x00{self.prompt_context}\x00{self.text}"
        return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:20]

    @property
    def contiguous(self) -> bool:
        return self.line_map == tuple(
            range(self.line_map[0], self.line_map[0] + len(self.line_map))
        )


MAX_CONTEXT_LINES = 60
"""A header longer than this is cut (its first lines kept): context, not the thing reviewed."""
_HEADER = (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign)


def _is_header(node: ast.stmt) -> bool:
    """An import, a top-level assignment, or a bare string: the module docstring, or a spec
    written beside the code it documents (some modules put it after the function)."""
    if isinstance(node, _HEADER):
        return True
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _header(tree: ast.Module, lines: list[str]) -> tuple[str, set[int]]:
    """The module header as context text, and its 0-based lines (kept out of the module unit)."""
    taken = [
        range(node.lineno - 1, node.end_lineno or node.lineno)
        for node in tree.body
        if _is_header(node)
    ]
    numbers = [line for span in taken for line in span]
    shown = [lines[line] for line in numbers[:MAX_CONTEXT_LINES]]
    if len(numbers) > MAX_CONTEXT_LINES:
        shown.append(f"# ... {len(numbers) - MAX_CONTEXT_LINES} more header lines\n")
    return "".join(shown), set(numbers)


def split_units(text: str) -> list[Unit]:
    """Units of ``text``; an unparsable text has none (the rule tier reports the error)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    lines = split_lines(text)
    header, covered = _header(tree, lines)
    graph = call_graph(tree)
    units: list[Unit] = []

    def add(
        node: ast.FunctionDef | ast.AsyncFunctionDef, qualname: str, kind: str, context: str
    ) -> None:
        start, end = first_line(node), node.end_lineno or node.lineno
        covered.update(range(start, end))
        if end - start > MAX_UNIT_LINES:
            return
        text = "".join(lines[start:end])
        around = neighbours(graph, lines, qualname)
        units.append(Unit(qualname, kind, text, tuple(range(start, end)), context, around))

    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            add(node, node.name, "function", header)
        elif isinstance(node, ast.ClassDef):
            class_line = lines[node.lineno - 1]
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    add(item, f"{node.name}.{item.name}", "method", header + class_line)
    rest = [
        line
        for node in tree.body
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        for line in range(first_line(node), node.end_lineno or node.lineno)
        if line not in covered
    ]
    if rest and len(rest) <= MAX_UNIT_LINES:
        units.append(
            Unit("<module>", "module", "".join(lines[i] for i in rest), tuple(rest), header)
        )
    return units


def unit_at(units: Sequence[Unit], line: int) -> Unit | None:
    """The smallest contiguous unit holding 0-based file ``line`` (a method, not its module)."""
    candidates = [u for u in units if u.contiguous and line in u.line_map]
    return min(candidates, key=lambda u: len(u.line_map), default=None)


def unit_named(units: Sequence[Unit], qualname: str) -> Unit | None:
    return next((u for u in units if u.qualname == qualname), None)


@dataclass(frozen=True)
class UnitPlace:
    """A span placed in its unit, numbered as the LM sees the unit (1-based)."""

    unit: Unit
    line: int
    end_line: int


def place_in_unit(units: Sequence[Unit], start_line: int, end_line: int) -> UnitPlace | None:
    """Where 0-based file lines ``start_line``..``end_line`` fall in their unit, if in one."""
    unit = unit_at(units, start_line)
    if unit is None:
        return None
    first = unit.line_map[0]
    last = min(end_line, unit.line_map[-1])
    return UnitPlace(unit, start_line - first + 1, max(last, start_line) - first + 1)
