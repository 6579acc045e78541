"""Names a rewrite leaves unbound, and the standard-library imports that bind them.

A rewrite that parses can still fail on its first run: it calls ``ast.literal_eval`` in a file
that never imported ``ast``, or drops an assignment a later line reads. pyflakes finds both
without running anything. Only what the rewrite adds counts: the messages of the original
module are subtracted, so a name that was already undefined elsewhere is not the plan's fault.
A module of the standard library used as ``name.attr`` is not a fault either: the plan gets an
edit that imports it, and the check runs again on the module with both edits applied.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pyflakes import messages
from pyflakes.checker import Checker

from .fixes import apply_edits
from .lines import split_lines
from .models import Edit, Span

# What breaks at run time; unused names and star imports (which pyflakes cannot see through) do not.
_BREAKING: dict[type[messages.Message], str] = {
    messages.UndefinedName: "undefined name {!r}",
    messages.UndefinedLocal: "local variable {!r} read before it is assigned",
    messages.UndefinedExport: "undefined name {!r} in __all__",
}


@dataclass(frozen=True)
class NameCheck:
    problems: tuple[str, ...]  # what the rewrite leaves unbound, even with the imports added
    imports: Edit | None  # the import statements the rewrite needs, at the top of the module


def check_names(source: str, new_source: str) -> NameCheck:
    """The name problems ``new_source`` has and ``source`` has not, once the standard-library
    modules the rewrite uses unimported are imported (``source`` must parse)."""
    before = _problems(source)
    added = _problems(new_source) - before
    modules = _importable(
        [name for (kind, name) in added if kind is messages.UndefinedName], new_source
    )
    imports = import_edit(source, modules) if modules else None
    if imports is not None:  # at or above the unit, so the same place in the rewritten text
        added = _problems(apply_edits(new_source, [imports])) - before
    return NameCheck(
        tuple(_BREAKING[kind].format(name) for kind, name in sorted(added, key=str)), imports
    )


def _problems(source: str) -> Counter[tuple[type[messages.Message], str]]:
    """pyflakes' breaking messages by kind and name: positions move with the rewrite."""
    checker = Checker(ast.parse(source), withDoctest=False)
    return Counter((type(m), m.message_args[0]) for m in checker.messages if type(m) in _BREAKING)


def _importable(names: Sequence[str], new_source: str) -> tuple[str, ...]:
    """The ``names`` that are standard-library modules, used only as ``name.attr`` and imported
    nowhere in ``new_source`` (a rewrite that imports a module where it does not reach its use
    gets no second import), sorted."""
    tree = ast.parse(new_source)
    imported = {
        (alias.asname or alias.name).partition(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    roots = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    bare = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in roots}
    return tuple(
        sorted(
            name
            for name in set(names)
            if name in sys.stdlib_module_names
            and name not in imported | bare
            and importlib.util.find_spec(name) is not None  # finds, never runs, the module
        )
    )


def import_edit(source: str, modules: Sequence[str]) -> Edit:
    """``import m`` for each of ``modules`` at the top of ``source``: after the docstring and
    the ``from __future__`` imports, among the leading imports if there are any (in order
    among the plain standard-library ``import`` lines), else as a group of its own."""
    tree = ast.parse(source)
    lines = split_lines(source)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    body = list(tree.body)
    header_end = 0  # the line after the docstring and the __future__ imports
    while body and (_is_docstring(body[0], tree) or _is_future(body[0])):
        header_end = body.pop(0).end_lineno or header_end
    leading: list[ast.stmt] = []
    while body and isinstance(body[0], ast.Import | ast.ImportFrom):
        leading.append(body.pop(0))
    text = "".join(f"import {module}{newline}" for module in modules)
    if leading:
        plain = [n for n in leading if isinstance(n, ast.Import) and _stdlib(n.names[0].name)]
        later = [n for n in plain if n.names[0].name > modules[0]]
        line = (
            later[0].lineno - 1
            if later
            else plain[-1].end_lineno or 0
            if plain
            else leading[0].lineno - 1
        )
        return Edit(span=Span.of(line, 0, line, 0), new_text=text)
    line = header_end
    if not header_end:  # no header: below a shebang, coding line or licence comment
        while line < len(lines) and lines[line].startswith("#"):
            line += 1
    before = newline if header_end else ""
    after = newline * 2 if line < len(lines) and lines[line].strip() else ""
    return Edit(span=Span.of(line, 0, line, 0), new_text=before + text + after)


def _is_docstring(node: ast.stmt, tree: ast.Module) -> bool:
    return (
        node is tree.body[0]
        and isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _is_future(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and node.module == "__future__"


def _stdlib(dotted: str) -> bool:
    return dotted.partition(".")[0] in sys.stdlib_module_names
