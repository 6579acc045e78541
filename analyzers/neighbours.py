"""What a function's neighbours tell the model about it: the module's own functions it calls,
and the lines that call it.

Reviewed alone, a unit cannot show whether ``helper(x, y)`` passes its arguments in the right
order, or whether it returns what its callers expect. The signature and summary of each callee
defined in the same module, and each call site of the unit, are the cheapest context that can.
It is bounded (``MAX_CALLEES`` and ``MAX_CALLERS`` lines), and only names the module defines are
followed: an import's signature would need the project, and this is a pure text function.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from .lines import strip_newline

MAX_CALLEES = 6
MAX_CALLERS = 4
MAX_LINE_CHARS = 160
CALLEES_HEADING = "# Defined in this module and called by the code:\n"
CALLERS_HEADING = "# Where the code is called in this module:\n"
_Function = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class CallGraph:
    """A module's functions and methods by qualified name (``f``, ``Class.method``), and the
    calls each makes, as (0-based line, qualified name) in source order."""

    functions: dict[str, _Function]
    calls: dict[str, list[tuple[int, str]]]


def call_graph(tree: ast.Module) -> CallGraph:
    functions: dict[str, _Function] = {}
    for node in tree.body:
        if isinstance(node, _Function):
            functions[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, _Function):
                    functions[f"{node.name}.{item.name}"] = item
    calls = {name: _calls(node, name.rpartition(".")[0]) for name, node in functions.items()}
    return CallGraph(functions, calls)


def neighbours(graph: CallGraph, lines: list[str], qualname: str) -> str:
    """The callees' signatures and the callers' lines of the function ``qualname``, as
    comment-headed context; empty when it has neither."""
    callees = [
        signature(graph.functions[name], lines)
        for name in dict.fromkeys(name for _, name in graph.calls[qualname])
        if name in graph.functions and name != qualname
    ][:MAX_CALLEES]
    callers = [
        f"{caller}: {_trimmed(lines[line])}"
        for caller, made in graph.calls.items()
        if caller != qualname
        for line in sorted({line for line, name in made if name == qualname})
    ][:MAX_CALLERS]
    text = ""
    if callees:
        text += CALLEES_HEADING + "".join(f"{s}\n" for s in callees)
    if callers:
        text += CALLERS_HEADING + "".join(f"{c}\n" for c in callers)
    return text


def without_neighbours(context: str) -> str:
    """A unit's shown context cut before its neighbours, which ``Unit.prompt_context`` puts
    last: the module header (and class line) alone, which parses."""
    for heading in (CALLEES_HEADING, CALLERS_HEADING):
        context = context.split(heading)[0]
    return context


def signature(node: _Function, lines: list[str]) -> str:
    """The ``def`` line (joined when it spans lines) and the first line of its docstring."""
    body_line = node.body[0].lineno - 1
    head = " ".join(
        strip_newline(line).strip() for line in lines[node.lineno - 1 : max(body_line, node.lineno)]
    )
    doc = ast.get_docstring(node)
    summary = doc.strip().splitlines()[0] if doc and doc.strip() else ""
    return _trimmed(f"{head}  # {summary}" if summary else head)


def _calls(node: _Function, owner: str) -> list[tuple[int, str]]:
    """(0-based line, qualified name) of each call the function makes to a bare name, or to
    ``self.m``/``cls.m`` inside class ``owner``; in source order."""
    found = []
    for call in ast.walk(node):
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        if isinstance(func, ast.Name):
            found.append((call.lineno - 1, func.id))
        elif (
            owner
            and isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in ("self", "cls")
        ):
            found.append((call.lineno - 1, f"{owner}.{func.attr}"))
    return sorted(found)


def _trimmed(line: str) -> str:
    line = strip_newline(line).strip()
    return line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 1] + "…"
