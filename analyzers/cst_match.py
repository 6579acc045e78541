"""Small structural tests on libcst nodes, instead of ``libcst.matchers``.

Importing ``libcst.matchers`` defines a matcher class per node type and took 390 ms, more than
libcst itself: the editor's first diagnostics waited for it. These few tests are what the
rules asked of it.
"""

from __future__ import annotations

import dataclasses
from functools import cache

import libcst as cst

from .cst_walk import everywhere, is_node, walk


def plain_call(node: cst.BaseExpression, name: str, arguments: int) -> bool:
    """``name(a, b)``: a call of a bare name with exactly ``arguments`` positional arguments."""
    return (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Name)
        and node.func.value == name
        and len(node.args) == arguments
        and all(a.keyword is None and not a.star for a in node.args)
    )


def names_in(node: cst.CSTNode) -> list[cst.Name]:
    return [n for n in walk(node, everywhere) if isinstance(n, cst.Name)]


def comments_in(node: cst.CSTNode) -> int:
    """Comments anywhere under ``node``, whitespace included (where libcst keeps them)."""
    count = 0
    todo = [node]
    while todo:
        current = todo.pop()
        if isinstance(current, cst.Comment):
            count += 1
        for name in _all_fields(type(current)):
            value = getattr(current, name)
            if type(value) is tuple or type(value) is list:
                todo.extend(item for item in value if is_node(type(item)))
            elif is_node(type(value)):
                todo.append(value)
    return count


@cache
def _all_fields(kind: type[cst.CSTNode]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(kind))
