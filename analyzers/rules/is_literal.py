"""DL118: ``x is "a"`` compares identity with a literal, which depends on interning."""

from __future__ import annotations

import ast

import libcst as cst

from ..comparison_operators import as_equality
from ..models import FixSafety, Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid, Rule


def _is_literal(expr: cst.BaseExpression) -> bool:
    """A constant CPython folds into a literal: numbers, strings, bytes, tuples of those."""
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus | cst.Plus):
        return isinstance(expr.expression, cst.Integer | cst.Float | cst.Imaginary)
    if isinstance(expr, cst.Tuple):
        return all(isinstance(e, cst.Element) and _is_literal(e.value) for e in expr.elements)
    return isinstance(
        expr, cst.Integer | cst.Float | cst.Imaginary | cst.SimpleString | cst.ConcatenatedString
    ) and not (isinstance(expr, cst.ConcatenatedString) and expr.evaluated_value is None)


def _singleton(value: object) -> bool:
    return value is None or value is True or value is False or value is ...


class IsLiteral(Rule):
    CODE = "DL118"
    NAME = "is-literal"
    CATEGORY = "bug"
    MESSAGE = "Identity comparison with a literal; use == or != to compare values"
    RATIONALE = (
        "Whether two equal strings, numbers or tuples are the same object is an interpreter "
        "detail, so `x is 'a'` can be false for an equal value (CPython warns about it). "
        "Value comparison with `==` is what such code means."
    )
    SEVERITY = Severity.WARNING
    FIX_SAFETY = FixSafety.SAFE
    FIX_TITLE = "Compare with == / !="
    VALID = (
        "if x is None or y is not True or z is ...:\n    pass\n",
        "if x == 'a' and y is SENTINEL:\n    pass\n",
        "if x is (a, 1):\n    pass\n",
        "if x is f'{a}' 'b':\n    pass\n",
    )
    INVALID = (
        Invalid(code="if x is 'a':  # tag\n    pass\n", fixed="if x == 'a':  # tag\n    pass\n"),
        Invalid(
            code="class C:\n    async def m(self):\n        return 0 < self.n is  not -1\n",
            fixed="class C:\n    async def m(self):\n        return 0 < self.n != -1\n",
            line=3,
        ),
        Invalid(code="ok = () is x\n", fixed="ok = () == x\n"),
        Invalid(code="ok = x is not (1, b'z')\n", fixed="ok = x != (1, b'z')\n"),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        literal = (ast.Constant, ast.Tuple, ast.UnaryOp)
        return any(
            isinstance(side, literal)
            and not (isinstance(side, ast.Constant) and _singleton(side.value))
            for c in nodes.of(ast.Compare)
            if any(isinstance(op, ast.Is | ast.IsNot) for op in c.ops)
            for side in (c.left, *c.comparators)
        )

    def visit_Comparison(self, node: cst.Comparison) -> None:
        left = node.left
        for target in node.comparisons:
            op = target.operator
            if isinstance(op, cst.Is | cst.IsNot) and (
                _is_literal(left) or _is_literal(target.comparator)
            ):
                self.report(node, replacement=as_equality(op), replaces=op)
            left = target.comparator
