"""DL116: ``type(x) == T`` rejects subclasses of ``T``, which is rarely what was meant."""

from __future__ import annotations

import ast

import libcst as cst

from ..cst_match import plain_call
from ..models import FixSafety, Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid, Rule


class TypeComparison(Rule):
    CODE = "DL116"
    NAME = "type-comparison"
    CATEGORY = "design"
    MESSAGE = "Comparing types with == or !=; use isinstance() (or `is` for an exact type)"
    RATIONALE = (
        "`type(x) == T` is false for instances of subclasses of T, so code that works for "
        "`dict` breaks for `OrderedDict` or a user's subclass. Use `isinstance(x, T)`, or "
        "`type(x) is T` when the exact type really matters."
    )
    SEVERITY = Severity.WARNING
    FIX_SAFETY = FixSafety.UNSAFE
    FIX_TITLE = "Use isinstance()"
    VALID = (
        "if type(x) is int:\n    pass\n",
        "if isinstance(x, int):\n    pass\n",
        "same = type(x).__name__ == 'int'\n",
        "ok = type(x) == int == y\n",
        "def f(type, x):\n    return type(x) == int\n",
        "type = get_type\n\nif type(x) == int:\n    pass\n",
    )
    INVALID = (
        Invalid(
            code="if type(x) == int:  # exact\n    pass\n",
            fixed="if isinstance(x, int):  # exact\n    pass\n",
        ),
        Invalid(
            code="class C:\n    async def m(self):\n        return ok and (np.ndarray != type(self.v))\n",
            fixed="class C:\n    async def m(self):\n        return ok and (not isinstance(self.v, np.ndarray))\n",
            line=3,
        ),
        Invalid(code="assert type(a) == type(b)\n", fixed=None),
        Invalid(code="if type(x) != (int, str):\n    pass\n", fixed=None),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        return any(
            isinstance(side, ast.Call)
            and isinstance(side.func, ast.Name)
            and side.func.id == "type"
            for c in nodes.of(ast.Compare)
            if any(isinstance(op, ast.Eq | ast.NotEq) for op in c.ops)
            for side in (c.left, *c.comparators)
        )

    def visit_Comparison(self, node: cst.Comparison) -> None:
        if len(node.comparisons) != 1 or "type" in self.facts.builtins_rebound:
            return
        target = node.comparisons[0]
        if not isinstance(target.operator, cst.Equal | cst.NotEqual):
            return
        left, right = node.left, target.comparator
        if not plain_call(left, "type", 1):
            left, right = right, left
        if not plain_call(left, "type", 1):
            return
        if not isinstance(
            right, cst.Name | cst.Attribute
        ):  # another type() call, a tuple, a string...
            self.report(node)
            return
        assert isinstance(left, cst.Call)
        call: cst.BaseExpression = cst.Call(
            func=cst.Name("isinstance"),
            args=[
                cst.Arg(
                    left.args[0].value, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
                ),
                cst.Arg(right),
            ],
        )
        if isinstance(target.operator, cst.NotEqual):
            call = cst.UnaryOperation(cst.Not(), call)
        self.report(node, replacement=call.with_changes(lpar=node.lpar, rpar=node.rpar))
