"""DL119: a dict display that repeats a key silently drops the earlier value."""

from __future__ import annotations

import ast
from collections.abc import Hashable

import libcst as cst

from ..models import FixSafety, Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid, Rule

_EMPTY = cst.Module([])
_CONSTANTS: dict[str, object] = {"True": True, "False": False, "None": None}


def _dotted(expr: cst.BaseExpression) -> bool:
    while isinstance(expr, cst.Attribute):
        expr = expr.value
    return isinstance(expr, cst.Name)


def _key(expr: cst.BaseExpression) -> Hashable | None:
    """What the key compares as: its value for literals (so 1 == 1.0 == True), else its code."""
    value: object = None
    if isinstance(expr, cst.Integer | cst.Float | cst.SimpleString | cst.ConcatenatedString):
        value = expr.evaluated_value
    elif isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        if isinstance(expr.expression, cst.Integer | cst.Float):
            value = -expr.expression.evaluated_value
    elif isinstance(expr, cst.Name) and expr.value in _CONSTANTS:
        return ("constant", _CONSTANTS[expr.value])
    elif _dotted(expr):
        return ("name", _EMPTY.code_for_node(expr).replace(" ", ""))
    return None if value is None else ("constant", value)


def _repeats(keys: list[ast.expr | None]) -> bool:
    """Constants compare by value (``1``, ``1.0``, ``True``); other keys by their tree."""
    values: list[object] = []
    trees: set[str] = set()
    for key in keys:
        if isinstance(key, ast.UnaryOp) and isinstance(key.operand, ast.Constant):
            key = ast.Constant(-key.operand.value) if isinstance(key.op, ast.USub) else key
        if isinstance(key, ast.Constant):
            if key.value in values:
                return True
            values.append(key.value)
        elif key is not None:
            tree = ast.dump(key)
            if tree in trees:
                return True
            trees.add(tree)
    return False


class DuplicateDictKey(Rule):
    CODE = "DL119"
    NAME = "duplicate-dict-key"
    CATEGORY = "bug"
    MESSAGE = "Dictionary key repeated; the earlier value is silently lost"
    RATIONALE = (
        "A dict display keeps only the last value for a key, so the earlier entry is dead code "
        "and usually a copy-paste slip or a misspelt key. Python raises no error for it."
    )
    SEVERITY = Severity.WARNING
    FIX_SAFETY = FixSafety.SUGGESTION  # no fix: which value was meant is a human decision
    VALID = (
        "d = {'a': 1, 'b': 2, b'a': 3}\n",
        "d = {x: 1, x.y: 2, f(): 3, f(): 4}\n",
        "d = {'a': 1, **other}\nd2 = {**other, **other}\n",
        "d = {1: 'one', -1: 'minus one', '1': 'text'}\n",
    )
    INVALID = (
        Invalid(code="d = {'a': 1, \"a\": 2}\n"),
        Invalid(
            code=(
                "class C:\n    async def m(self):\n        return {\n"
                "            Color.RED: 1,  # red\n            **self.extra,\n"
                "            Color.RED: 2,\n        }\n"
            ),
            line=6,
        ),
        Invalid(code="d = {1: 'int', True: 'bool', 1.0: 'float'}\n"),
        Invalid(code="d = {'ab': 1, 'a' 'b': 2}\n"),
        Invalid(code="d = {'x': {'k': 1, 'k': 2}}\n"),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        return any(_repeats(d.keys) for d in nodes.of(ast.Dict) if len(d.keys) > 1)

    def visit_Dict(self, node: cst.Dict) -> None:
        seen: set[Hashable] = set()
        for element in node.elements:
            if not isinstance(element, cst.DictElement):
                continue
            key = _key(element.key)
            if key is None:
                continue
            if key in seen:
                code = _EMPTY.code_for_node(element.key)
                self.report(
                    element.key, f"Dictionary key {code} repeated; the earlier value is lost"
                )
            seen.add(key)
