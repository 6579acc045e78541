"""What libcst must see of a part: only the methods of a big class some rule may report on.

libcst's parse and visit cost about twenty times ``ast``'s, and a class is one part: one
suspicious line in a 2,000-line class used to cost the whole class, and an edit anywhere in a
class re-parsed all of it. Methods no rule may report
on are blanked line for line, so every position in the skeleton is the same in the text and a
finding or fix on it needs no mapping back. Class-level statements and the header stay.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

from .module_facts import AstIndex, PartSummary
from .statements import first_line

# Pruning costs an ``ast`` walk per method, a small share of one libcst parse, and it keeps a
# class's skeleton the same while its other methods are edited; only a class too small to hold
# two methods is not worth it.
MIN_CHARS_TO_PRUNE = 200
_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")  # how ast counts lines

MayReport = Callable[[AstIndex], tuple[str, ...]]
"""The codes whose pre-check passes on some ``ast`` nodes."""


def visible_part(
    text: str, summary: PartSummary, may_report: MayReport
) -> tuple[str, tuple[str, ...]]:
    """The text libcst should parse (``text`` or a skeleton of it) and the codes to run on it."""
    codes = may_report(summary.index)
    body = summary.tree.body
    if not codes or len(text) < MIN_CHARS_TO_PRUNE or len(body) != 1:
        return text, codes
    klass = body[0]
    if not isinstance(klass, ast.ClassDef):
        return text, codes
    methods = [s for s in klass.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)]
    rest = [s for s in klass.body if s not in methods] or [ast.Pass()]
    kept = set(may_report(AstIndex(_class_holding(klass, rest, header=True))))
    dropped = []
    for method in methods:
        found = may_report(AstIndex(_class_holding(klass, [method], header=False)))
        if found:
            kept.update(found)
        else:
            dropped.append(method)
    if not dropped:
        return text, codes
    return _blanked(text, dropped, keeps_a_statement=len(dropped) < len(klass.body)), tuple(
        c for c in codes if c in kept
    )


def _class_holding(klass: ast.ClassDef, body: list[ast.stmt], *, header: bool) -> ast.ClassDef:
    """``klass`` with only ``body``: a method's pre-checks still see which class it is in;
    the header (bases, decorators) is checked once, with the class-level statements."""
    return ast.ClassDef(
        name=klass.name,
        bases=klass.bases if header else [],
        keywords=klass.keywords if header else [],
        body=body,
        decorator_list=klass.decorator_list if header else [],
        type_params=getattr(klass, "type_params", []) if header else [],
    )


def _blanked(text: str, methods: list[ast.stmt], keeps_a_statement: bool) -> str:
    lines = _LINES.findall(text)
    for method in methods:
        for number in range(first_line(method), method.end_lineno or method.lineno):
            lines[number] = _ending(lines[number])
    if not keeps_a_statement:  # a class needs a body: `pass` where the first method was
        where = first_line(methods[0])
        lines[where] = " " * methods[0].col_offset + "pass" + lines[where]
    return "".join(lines)


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :]
