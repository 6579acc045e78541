"""DL126: a ``for`` loop that removes from (or grows a dict or set it iterates) the very
collection it iterates, and goes on iterating.

Nearest ruff rule: B909 loop-iterator-mutation and PLE4703 modified-iterating-set, both preview
only (not in a stable rule set). pylint: ``modified-iterating-list`` (W4701),
``modified-iterating-dict`` (E4702), ``modified-iterating-set`` (E4703).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import libcst as cst

from ..cst_scope import code_of, target_names
from ..models import Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid, Rule

# Methods that remove items, or add keys to a dict or set: a list skips items, a dict or set
# raises RuntimeError. append/extend are left out: a list that grows while it is walked is the
# work-list idiom, and is meant.
_MUTATORS = frozenset(
    {
        "remove",
        "pop",
        "popitem",
        "insert",
        "clear",
        "add",
        "discard",
        "update",
        "setdefault",
        "difference_update",
        "intersection_update",
        "symmetric_difference_update",
    }
)
_DICT_VIEWS = frozenset({"keys", "values", "items"})
# Mappings that iterate over a copy of their keys; `self` iterates by its own class's rules
# (mailbox and CookieJar iterate over copies).
_COPYING = frozenset({"os.environ", "self", "cls"})
_SCOPES = cst.FunctionDef | cst.ClassDef | cst.Lambda


def _iterated(iterable: cst.BaseExpression) -> tuple[str, str | None] | None:
    """(``xs``, None) for ``for x in xs``, and (``d``, ``"items"``) for ``for k, v in
    d.items()``: a name or dotted name, and the dict view walked, if any."""
    view = None
    if isinstance(iterable, cst.Call) and not iterable.args:
        func = iterable.func
        if isinstance(func, cst.Attribute) and func.attr.value in _DICT_VIEWS:
            iterable, view = func.value, func.attr.value
    expr = iterable
    while isinstance(expr, cst.Attribute):
        expr = expr.value
    return (code_of(iterable), view) if isinstance(expr, cst.Name) else None


def _loop_keys(target: cst.BaseExpression, view: str) -> frozenset[str]:
    """The names a dict view loop binds to the dict's keys."""
    if view == "items" and isinstance(target, cst.Tuple | cst.List) and target.elements:
        target = target.elements[0].value
    elif view != "keys":
        return frozenset()
    return frozenset({target.value}) if isinstance(target, cst.Name) else frozenset()


@dataclass(frozen=True)
class _Level:
    """A block the mutation sits in: what follows it there, and whether a ``break`` there
    leaves the iterating loop (not a loop nested inside it)."""

    rest: Sequence[cst.CSTNode]
    breaks_out: bool


def _leaves(statement: cst.CSTNode, breaks_out: bool) -> bool:
    small = statement.body if isinstance(statement, cst.SimpleStatementLine) else [statement]
    jumps = (cst.Return, cst.Raise, cst.Break) if breaks_out else (cst.Return, cst.Raise)
    return any(isinstance(s, jumps) for s in small)


class _Mutations:
    """Walks a loop body for mutations of ``subject`` that the loop survives."""

    def __init__(self, subject: str, keys: frozenset[str] | None) -> None:
        self.subject = subject
        self.keys = keys  # a dict's loop keys; None: not known to be a dict

    def block(
        self, statements: Sequence[cst.CSTNode], levels: list[_Level], breaks_out: bool
    ) -> Iterator[cst.CSTNode]:
        for i, statement in enumerate(statements):
            level = _Level(statements[i + 1 :], breaks_out)
            if isinstance(statement, cst.SimpleStatementLine):
                for j, small in enumerate(statement.body):
                    here = _Level(statement.body[j + 1 :], breaks_out)
                    for found in self.mutations(small):
                        if not self.stops([*levels, level, here]):
                            yield found
            elif isinstance(statement, cst.For | cst.While):
                yield from self.block(statement.body.body, [*levels, level], False)
                if statement.orelse is not None:
                    yield from self.block(statement.orelse.body.body, [*levels, level], breaks_out)
            elif not isinstance(statement, _SCOPES):
                for suite in _suites(statement):
                    yield from self.block(suite.body, [*levels, level], breaks_out)

    def _new_key(self, target: cst.BaseExpression) -> bool:
        if not isinstance(target, cst.Subscript) or code_of(target.value) != self.subject:
            return False
        key = target.slice[0].slice if len(target.slice) == 1 else None
        index = key.value if isinstance(key, cst.Index) else None
        if isinstance(index, cst.SimpleString | cst.Integer):
            return False  # often a key the loop tests for (pydantic: `if key == '$ref'`)
        return not (isinstance(index, cst.Name) and index.value in (self.keys or ()))

    def stops(self, levels: list[_Level]) -> bool:
        return any(_leaves(s, level.breaks_out) for level in levels for s in level.rest)

    def mutations(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        if isinstance(node, _SCOPES):
            return
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            func = node.func
            if func.attr.value in _MUTATORS and code_of(func.value) == self.subject:
                yield node
        if isinstance(node, cst.Assign) and self.keys is not None:
            for target in node.targets:  # a new key grows the dict
                if self._new_key(target.target):
                    yield node
        if isinstance(node, cst.Del):
            for target in _deleted(node.target):
                if isinstance(target, cst.Subscript) and code_of(target.value) == self.subject:
                    yield node
        for child in node.children:
            if isinstance(child, cst.BaseExpression | cst.BaseSmallStatement):
                yield from self.mutations(child)


def _deleted(target: cst.BaseExpression) -> Iterator[cst.BaseExpression]:
    if isinstance(target, cst.Tuple | cst.List):
        for element in target.elements:
            yield from _deleted(element.value)
    else:
        yield target


_CLAUSES = (
    cst.If | cst.Else | cst.ExceptHandler | cst.ExceptStarHandler | cst.Finally | cst.MatchCase
)


def _suites(statement: cst.CSTNode) -> Iterator[cst.BaseSuite]:
    """The blocks of a compound statement (``if``/``elif``/``else``, ``try``, ``with``...)."""
    for child in statement.children:
        if isinstance(child, cst.BaseSuite):
            yield child
        elif isinstance(child, _CLAUSES):
            yield from _suites(child)


def _rebinds(body: cst.BaseSuite, subject: str) -> bool:
    """The loop assigns the name (or attribute) it iterates: later mutations hit a new object."""

    class _Finder(cst.CSTVisitor):
        found = False

        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            targets = list(target_names(node.target)) or [node.target]
            self.found |= any(code_of(t) == subject for t in targets)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            self.found |= code_of(node.target) == subject

    finder = _Finder()
    body.visit(finder)
    return finder.found


class MutatedWhileIterated(Rule):
    CODE = "DL126"
    NAME = "mutated-while-iterated"
    CATEGORY = "bug"
    MESSAGE = "The loop changes the collection it is iterating over"
    RATIONALE = (
        "Removing from a list while a `for` loop walks it shifts the items under the iterator, "
        "so items are skipped; changing the size of a dict or set raises RuntimeError. Iterate "
        "over a copy (`list(xs)`, `dict(d)`), or build a new collection. Growing a list with "
        "append/extend (a work list) and a change followed by `break` or `return` are left "
        "alone. pylint reports modified-iterating-list/dict/set; ruff's B909 is preview only."
    )
    SEVERITY = Severity.WARNING
    CONFIDENCE = 0.85
    VALID = (
        "for x in list(xs):\n    if bad(x):\n        xs.remove(x)\n",
        "for x in xs[:]:\n    xs.remove(x)\n",
        "for k in dict(d):\n    d.pop(k)\n",
        "for x in xs:\n    if bad(x):\n        xs.remove(x)\n        break\n",
        "def f(xs):\n    for x in xs:\n        if x.dead:\n            xs.remove(x)\n"
        "            return x\n",
        "for node in queue:\n    queue.extend(node.children)\n    queue.append(node)\n",
        "for x in xs:\n    ys.remove(x)\n",
        "for x in xs:\n    xs = [y for y in xs if y != x]\n    xs.remove(x)\n",
        "for k, v in d.items():\n    d[k] = v + 1\n",
        "for x in xs:\n    callbacks.append(lambda: xs.remove(x))\n",
        "for x in xs:\n    for y in ys:\n        if y:\n            xs.remove(x)\n"
        "            return\n",
        "while xs:\n    xs.pop()\n",
        "for k, v in d.items():\n    d[k] = None\n    d[k] += 1\n",
        "class Jar:\n    def clear_expired(self):\n        for cookie in self:\n"
        "            if cookie.expired:\n                self.clear(cookie.name)\n",
        "for key, value in schema.items():\n    if key == '$ref':\n"
        "        schema['$ref'] = remap(value)\n",
        "for var in os.environ.keys():\n    if var.startswith('X_'):\n        del os.environ[var]\n",
    )
    INVALID = (
        Invalid(code="for x in xs:\n    if bad(x):\n        xs.remove(x)\n", line=3),
        Invalid(code="for k in d:\n    if not d[k]:\n        del d[k]\n", line=3),
        Invalid(
            code="class C:\n    async def m(self):\n        for k, v in self.cache.items():\n"
            "            if v.expired:\n                self.cache.pop(k)\n",
            line=5,
        ),
        Invalid(code="for item in seen:\n    seen.add(item.parent)\n", line=2),
        Invalid(code="for key in d.keys():\n    d[key.lower()] = d[key]\n", line=2),
        Invalid(
            code="for x in xs:\n    for y in ys:\n        if y == x:\n            xs.remove(x)\n"
            "            break\n",
            line=4,
        ),
        Invalid(code="for x in xs:\n    if x:\n        xs.remove(x)\n        continue\n", line=3),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        if not nodes.has(ast.For, ast.AsyncFor):
            return False
        if nodes.has(ast.Delete):
            return True
        if any(isinstance(t, ast.Subscript) for a in nodes.of(ast.Assign) for t in a.targets):
            loops = (*nodes.of(ast.For), *nodes.of(ast.AsyncFor))
            views = [loop.iter for loop in loops if isinstance(loop.iter, ast.Call)]
            if any(isinstance(v.func, ast.Attribute) and v.func.attr in _DICT_VIEWS for v in views):
                return True
        return any(
            isinstance(c.func, ast.Attribute) and c.func.attr in _MUTATORS
            for c in nodes.of(ast.Call)
        )

    def visit_For(self, node: cst.For) -> None:
        iterated = _iterated(node.iter)
        if iterated is None or iterated[0] in _COPYING or _rebinds(node.body, iterated[0]):
            return
        subject, view = iterated
        keys = _loop_keys(node.target, view) if view is not None else None
        if subject in {n.value for n in target_names(node.target)}:
            return
        for mutation in _Mutations(subject, keys).block(node.body.body, [], True):
            if isinstance(mutation, cst.Call) and isinstance(mutation.func, cst.Attribute):
                change = f"{subject}.{mutation.func.attr.value}()"
            elif isinstance(mutation, cst.Assign):
                change = f"{subject}[...] = ..."
            else:
                change = f"del {subject}[...]"
            self.report(mutation, f"`{change}` changes `{subject}` while the loop iterates it")
            return
