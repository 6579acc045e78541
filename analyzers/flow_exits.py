"""Statements the binding flow treats specially: calls that never return, ``with`` blocks that
swallow or re-raise, and the opening lines of a ``try`` that cannot fail (libcst).
"""

from __future__ import annotations

import re

import libcst as cst

from .cst_scope import target_names
from .cst_walk import walk

# sys.exit(), os._exit(), pytest.fail()/skip(), self.fail(), typing.assert_never().
_NO_RETURN_NAMES = frozenset(
    {"exit", "quit", "assert_never", "assert_unreachable", "unreachable", "fail", "skip"}
)
_NO_RETURN_ATTRIBUTES = frozenset(
    {"exit", "_exit", "abort", "fail", "skip", "skipTest", "assert_never"}
)
# raise_from(), _raise_error(), reraise(); not raise_for_status() and the like, which may not.
_RAISER = re.compile(r"_*(re)?raise(_|$)(?!(for|if|on|unless|when)_)")
_LITERALS = cst.Integer | cst.Float | cst.Imaginary | cst.SimpleString


def _called(func: cst.BaseExpression) -> str:
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return func.value if isinstance(func, cst.Name) else ""


def never_returns(call: cst.Call) -> bool:
    """A call that, by its well-known name, always raises or exits."""
    func, name = call.func, _called(call.func)
    if _RAISER.match(name):
        return True
    if isinstance(func, cst.Name):
        return name in _NO_RETURN_NAMES
    if name == "error":  # argparse's parser.error() exits
        receiver = func.value if isinstance(func, cst.Attribute) else None
        return isinstance(receiver, cst.Name) and "parser" in receiver.value.lower()
    return name in _NO_RETURN_ATTRIBUTES


def suppresses(item: cst.WithItem) -> bool:
    """``with suppress(...)``: the block may stop at any line and carry on after it."""
    return isinstance(item.item, cst.Call) and _called(item.item.func) == "suppress"


def reraises(item: cst.WithItem) -> bool:
    """``with safe_reraise():`` (SQLAlchemy and others): the block always ends in a raise."""
    return isinstance(item.item, cst.Call) and "reraise" in _called(item.item.func)


def ends_in_raise(function: cst.FunctionDef) -> bool:
    """A nested helper whose last line raises and that has no ``return``."""
    body = function.body.body
    if not body or not isinstance(body[-1], cst.SimpleStatementLine):
        return False
    if not any(isinstance(s, cst.Raise) for s in body[-1].body):
        return False
    own = walk(function.body, lambda node: not isinstance(node, cst.FunctionDef | cst.Lambda))
    return not any(isinstance(node, cst.Return) for node in own)


def _cannot_fail(value: cst.BaseExpression, attributes: bool) -> bool:
    """A literal, a name, an f-string of those, or (``attributes``) a dotted name: evaluating
    it does not raise."""
    if isinstance(value, cst.List | cst.Tuple | cst.Set | cst.Dict):
        return not value.elements
    if isinstance(value, cst.FormattedString):
        parts = [p.expression for p in value.parts if isinstance(p, cst.FormattedStringExpression)]
        return all(_cannot_fail(part, attributes) for part in parts)
    if isinstance(value, cst.Attribute) and attributes:
        return _cannot_fail(value.value, attributes)
    if isinstance(value, cst.UnaryOperation):  # -1
        return isinstance(value.expression, cst.Integer | cst.Float)
    return isinstance(value, _LITERALS | cst.Name)


def opening_bindings(suite: cst.BaseSuite, attributes: bool = True) -> tuple[frozenset[str], bool]:
    """Names the opening lines of a ``try`` body bind before anything there can fail, and
    whether that is the whole block. ``attributes``: reading a dotted name cannot fail (not
    when a handler catches AttributeError). A leading ``for`` binds its target and the safe
    opening of its body."""
    names: set[str] = set()
    for line in suite.body:
        if isinstance(line, cst.Try):
            inner, whole = opening_bindings(line.body, attributes)
            names |= inner
            if not whole:
                return frozenset(names), False
            continue
        if isinstance(line, cst.For):
            names.update(n.value for n in target_names(line.target))
            return frozenset(names | opening_bindings(line.body, attributes)[0]), False
        if isinstance(line, cst.If) and isinstance(line.orelse, cst.Else):
            # both sides open with safe lines (a cheap test): what both bind
            both = opening_bindings(line.body, attributes)[0]
            both &= opening_bindings(line.orelse.body, attributes)[0]
            return frozenset(names | both), False
        for statement in line.body if isinstance(line, cst.SimpleStatementLine) else [line]:
            safe = isinstance(statement, cst.Assign) and _cannot_fail(statement.value, attributes)
            if not safe or not all(isinstance(t.target, cst.Name) for t in statement.targets):
                return frozenset(names), False
            names.update(t.target.value for t in statement.targets)  # type: ignore[union-attr]
    return frozenset(names), True
