"""Walk a libcst tree by reading its fields, without rebuilding it.

libcst's ``visit`` and ``children`` rebuild every node they pass through
(``_visit_and_replace_children``), several times the cost of reading the fields; rules that walk
a function more than once (the binding flow walks each block, its loops and its tests) read the
fields instead. Punctuation and whitespace are skipped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from functools import cache

import libcst as cst

_PUNCTUATION = frozenset(
    {
        "lpar",
        "rpar",
        "lbracket",
        "rbracket",
        "lbrace",
        "rbrace",
        "comma",
        "semicolon",
        "colon",
        "dot",
        "equal",
        "star",
        "leading_lines",
        "lines_after_decorator",
        "header",
        "footer",
        "newline",
        "operator",
    }
)


@cache
def _fields(kind: type[cst.CSTNode]) -> tuple[str, ...]:
    names = (f.name for f in dataclasses.fields(kind))
    return tuple(n for n in names if n not in _PUNCTUATION and "whitespace" not in n)


@cache
def is_node(kind: type) -> bool:
    """``issubclass(kind, CSTNode)``, remembered: libcst's node classes are ABCs, and an
    ``isinstance`` against them costs a walk of the ABC registry each time."""
    return issubclass(kind, cst.CSTNode)


def children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The node's children in field order (for expressions, the order Python evaluates)."""
    for name in _fields(type(node)):
        value = getattr(node, name)
        kind = type(value)
        if kind is tuple or kind is list:
            for item in value:
                if is_node(type(item)):
                    yield item
        elif is_node(kind):
            yield value


def walk(node: cst.CSTNode, enter: Callable[[cst.CSTNode], bool]) -> Iterator[cst.CSTNode]:
    """``node`` and its descendants, depth first; below a node only where ``enter`` says so."""
    todo = [node]
    while todo:
        current = todo.pop()
        yield current
        if enter(current):
            todo.extend(reversed(list(children(current))))


def everywhere(node: cst.CSTNode) -> bool:
    return True
