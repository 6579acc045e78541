"""DL111: an ``if`` whose whole body is another ``if`` is one condition written twice."""

from __future__ import annotations

import ast

import libcst as cst

from ..cst_match import comments_in
from ..models import FixSafety, Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid, Place, Rule


def _loose(test: cst.BaseExpression) -> bool:
    """Binds looser than ``and``, so it needs parentheses inside ``a and b``."""
    if isinstance(test, cst.BooleanOperation):
        return isinstance(test.operator, cst.Or)
    return isinstance(test, cst.IfExp | cst.Lambda | cst.NamedExpr)


def _operand(test: cst.BaseExpression) -> cst.BaseExpression:
    if not test.lpar and _loose(test):
        return test.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return test


def _has_comment(nodes: list[cst.CSTNode]) -> bool:
    return any(comments_in(n) for n in nodes)


def _is_main_guard(test: cst.BaseExpression) -> bool:
    """``if __name__ == "__main__":`` stays a block of its own by convention, as ruff allows."""
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return False
    [target] = test.comparisons
    return (
        isinstance(test.left, cst.Name)
        and test.left.value == "__name__"
        and isinstance(target.operator, cst.Equal)
        and isinstance(target.comparator, cst.SimpleString)
    )


class CollapsibleIf(Rule):
    CODE = "DL111"
    NAME = "collapsible-if"
    CATEGORY = "maintainability"
    MESSAGE = "Nested if statements can be collapsed into one with `and`"
    RATIONALE = (
        "An if whose only statement is another if (neither with an else) is a single "
        "condition split over two levels of nesting. Joining the tests with `and` says that "
        "directly and removes one indentation level."
    )
    PEDANTIC = "37 findings on real code, readability only; ruff's SIM102 reports 97% of them."
    SEVERITY = Severity.INFO
    FIX_SAFETY = FixSafety.SAFE
    FIX_TITLE = "Combine the conditions with `and`"
    VALID = (
        "if __name__ == '__main__':\n    if len(sys.argv) > 1:\n        main()\n",
        "if a:\n    if b:\n        f()\n    g()\n",
        "if a:\n    if b:\n        f()\nelse:\n    g()\n",
        "if a:\n    if b:\n        f()\n    else:\n        g()\n",
        "if a:\n    for x in b:\n        f(x)\n",
    )
    INVALID = (
        Invalid(
            code="if a:\n    if b:  # both\n        f()\n        g()\n",
            fixed="if a and b:  # both\n    f()\n    g()\n",
        ),
        Invalid(
            code=(
                "class C:\n    async def m(self, x):\n        if x or self.y:\n"
                "            if (z := x.get()) if x else None:\n"
                "                # use z\n                await z\n"
            ),
            fixed=(
                "class C:\n    async def m(self, x):\n"
                "        if (x or self.y) and ((z := x.get()) if x else None):\n"
                "            # use z\n            await z\n"
            ),
            line=3,
        ),
        Invalid(
            code="def f(a):\n    if a:\n        pass\n    elif not a.b:\n        if a.c: return 1\n",
            fixed="def f(a):\n    if a:\n        pass\n    elif not a.b and a.c: return 1\n",
            line=4,
        ),
        Invalid(code="if a:\n    # why b\n    if b:\n        f()\n", fixed=None),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        return any(
            not n.orelse and len(n.body) == 1 and isinstance(n.body[0], ast.If)
            for n in nodes.of(ast.If)
        )

    def visit_If(self, node: cst.If) -> None:
        body = node.body
        if node.orelse is not None or not isinstance(body, cst.IndentedBlock):
            return
        if len(body.body) != 1 or not isinstance(inner := body.body[0], cst.If):
            return
        if inner.orelse is not None or _is_main_guard(node.test):
            return
        header = Place(node, end=node.test)
        # Comments on the outer header, above the inner if, or after it would have no home.
        lost: list[cst.CSTNode] = [body.header, *inner.leading_lines, *body.footer]
        if _has_comment(lost):
            self.report(node, place=header)
            return
        test = cst.BooleanOperation(
            left=_operand(node.test), operator=cst.And(), right=_operand(inner.test)
        )
        merged = node.with_changes(test=test, body=inner.body)
        self.report(node, replacement=merged, place=header)
