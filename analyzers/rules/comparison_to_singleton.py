"""DL104: ``== None`` / ``== True`` ask the object whether it equals a singleton.

``x == None`` calls ``x.__eq__``, which overloaded types (numpy, ORMs) answer with anything;
identity is what is meant. Outside a truth test such an overload may be the point (an ORM
filter), so there the rewrite needs a human.
"""

from __future__ import annotations

import ast

import libcst as cst

from ..comparison_operators import as_identity
from ..models import FixSafety, Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid, Rule
from ..truth_tests import TruthTestedContexts

_SINGLETONS = frozenset({"None", "True", "False"})
_Op = cst.Equal | cst.NotEqual


def _singleton(node: cst.BaseExpression) -> str | None:
    return node.value if isinstance(node, cst.Name) and node.value in _SINGLETONS else None


class ComparisonToSingleton(TruthTestedContexts, Rule):
    CODE = "DL104"
    NAME = "comparison-to-singleton"
    CATEGORY = "bug"
    MESSAGE = "Compare to None/True/False with `is`, not `==`"
    RATIONALE = (
        "`==` calls the left operand's __eq__, which overloaded types such as numpy arrays or "
        "ORM columns may answer with something other than a bool. `is` tests the identity "
        "that is actually meant, and cannot be fooled."
    )
    SEVERITY = Severity.WARNING
    FIX_SAFETY = FixSafety.SAFE
    FIX_TITLE = "Use an identity comparison"
    VALID = (
        "if x is None:\n    pass\n",
        "if x is not None and y is False:\n    pass\n",
        "if x == 'None' or n == 0:\n    pass\n",
        "flag = a is None\n",
    )
    INVALID = (
        Invalid(code="if x == None:\n    pass\n", fixed="if x is None:\n    pass\n"),
        Invalid(
            code="def f(x):\n    while x.next!=None:  # walk\n        x = x.next\n",
            fixed="def f(x):\n    while x.next is not None:  # walk\n        x = x.next\n",
            line=2,
        ),
        Invalid(
            code="class C:\n    async def m(self, a):\n        assert None == a\n",
            fixed="class C:\n    async def m(self, a):\n        assert a is None\n",
            line=3,
        ),
        Invalid(
            code="ok = [v for v in vs if not (v == None)]\n",
            fixed="ok = [v for v in vs if not (v is None)]\n",
        ),
        Invalid(
            code="if x != None and flag == True:\n    pass\n",
            fixed="if x is not None and flag == True:\n    pass\n",
        ),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        return any(
            isinstance(side, ast.Constant)
            and (side.value is None or side.value is True or side.value is False)
            for c in nodes.of(ast.Compare)
            if any(isinstance(op, ast.Eq | ast.NotEq) for op in c.ops)
            for side in (c.left, *c.comparators)
        )

    def visit_Comparison(self, node: cst.Comparison) -> None:
        tested = self.is_truth_tested(node)
        left = node.left
        for target in node.comparisons:
            op, right = target.operator, target.comparator
            name = _singleton(right) or _singleton(left)
            if name is not None and isinstance(op, _Op):
                self._flag(node, target, left, name, tested)
            left = right

    def _flag(
        self,
        node: cst.Comparison,
        target: cst.ComparisonTarget,
        left: cst.BaseExpression,
        name: str,
        tested: bool,
    ) -> None:
        op = target.operator
        assert isinstance(op, _Op)
        spelled = f"{'is' if isinstance(op, cst.Equal) else 'is not'} {name}"
        message = f"Use `{spelled}` to compare with {name}"
        safe = name == "None" and tested
        safety = FixSafety.SAFE if safe else FixSafety.UNSAFE
        swap = len(node.comparisons) == 1 and _singleton(target.comparator) is None
        if swap:  # `None == x` reads as `x is None`
            flipped = cst.ComparisonTarget(operator=as_identity(op), comparator=left)
            fixed = node.with_changes(left=target.comparator, comparisons=[flipped])
            self.report(node, message, replacement=fixed, safety=safety)
        else:
            self.report(node, message, replacement=as_identity(op), replaces=op, safety=safety)
