"""DL112: ``len(x) == 0`` in a condition is a roundabout emptiness test."""

from __future__ import annotations

import ast

import libcst as cst

from ..cst_match import plain_call
from ..models import FixSafety, Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid, Rule
from ..truth_tests import TruthTestedContexts

_ARRAY_LIBRARIES = frozenset(
    {"numpy", "pandas", "polars", "torch", "tensorflow", "jax", "xarray", "dask", "cupy", "scipy"}
)
# (operator, constant) with len(x) on the left -> whether the comparison means "empty".
_MEANING = {
    (cst.Equal, "0"): True,
    (cst.LessThan, "1"): True,
    (cst.LessThanEqual, "0"): True,
    (cst.NotEqual, "0"): False,
    (cst.GreaterThan, "0"): False,
    (cst.GreaterThanEqual, "1"): False,
}
# The same comparisons written with the constant on the left.
_MIRROR = {
    cst.Equal: cst.Equal,
    cst.NotEqual: cst.NotEqual,
    cst.LessThan: cst.GreaterThan,
    cst.GreaterThan: cst.LessThan,
    cst.LessThanEqual: cst.GreaterThanEqual,
    cst.GreaterThanEqual: cst.LessThanEqual,
}
_PRIMARY = (
    cst.Name,
    cst.Attribute,
    cst.Subscript,
    cst.Call,
    cst.List,
    cst.Tuple,
    cst.Dict,
    cst.Set,
    cst.BaseSimpleComp,
    cst.DictComp,
    cst.BaseString,
)


def _emptiness(node: cst.Comparison) -> tuple[bool, cst.BaseExpression] | None:
    """(tests for empty, the sized expression) when ``node`` compares len() with 0 or 1."""
    if len(node.comparisons) != 1:
        return None
    target = node.comparisons[0]
    left, op, right = node.left, type(target.operator), target.comparator
    if isinstance(left, cst.Integer) and op in _MIRROR:
        left, op, right = right, _MIRROR[op], left
    if not isinstance(right, cst.Integer) or right.lpar or not plain_call(left, "len", 1):
        return None
    meaning = _MEANING.get((op, right.value))
    if meaning is None:
        return None
    assert isinstance(left, cst.Call)
    return meaning, left.args[0].value


def _parenthesized(expr: cst.BaseExpression) -> cst.BaseExpression:
    if expr.lpar or isinstance(expr, _PRIMARY):
        return expr
    return expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


class LenComparison(TruthTestedContexts, Rule):
    CODE = "DL112"
    NAME = "len-comparison"
    CATEGORY = "maintainability"
    MESSAGE = "Comparing len() with 0 in a condition; test the container's truthiness instead"
    RATIONALE = (
        "Empty sequences and mappings are false, so `if not items:` says the same as "
        "`if len(items) == 0:` without the call. It also works for sized objects whose length "
        "is costly or lazy, though numpy arrays and custom classes may define truth differently."
    )
    PEDANTIC = "14 findings on real code, none acted on (`len(seqs) == 0` paired with `== 1`)."
    SEVERITY = Severity.INFO
    FIX_SAFETY = FixSafety.UNSAFE
    FIX_TITLE = "Use the truthiness of the container"
    VALID = (
        "empty = len(x) == 0\n",
        "if len(x) == 2:\n    pass\n",
        "if len(x, y) == 0 or n == 0:\n    pass\n",
        "return_value = len(a) > 0 and b\n",
        "if len(x) > 0 == y:\n    pass\n",
        # An array's or a frame's truth value is ambiguous: `not arr` raises where len() works.
        "import numpy as np\n\ndef f(arr):\n    if len(arr) == 0:\n        return None\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pandas as pd\n\n"
        "def f(frame: 'pd.DataFrame'):\n    return 1 if len(frame) > 0 else 2\n",
        "def f(t: torch.Tensor):\n    import torch\n    while len(t) != 0:\n        t = t[1:]\n",
    )
    INVALID = (
        Invalid(code="if len(x) == 0:\n    pass\n", fixed="if not x:\n    pass\n"),
        Invalid(
            code=(
                "class C:\n    async def m(self):\n        while 0 < len(self.queue):  # busy\n"
                "            await self.queue.pop()\n"
            ),
            fixed=(
                "class C:\n    async def m(self):\n        while self.queue:  # busy\n"
                "            await self.queue.pop()\n"
            ),
            line=3,
        ),
        Invalid(
            code="assert ready and not (len(a or b) >= 1), 'no'\n",
            fixed="assert ready and not (a or b), 'no'\n",
        ),
        Invalid(
            code="ys = [y for y in xs if len(y) != 0]\n",
            fixed="ys = [y for y in xs if y]\n",
        ),
        Invalid(code="if not len(xs) == 0:\n    pass\n", fixed="if xs:\n    pass\n"),
        Invalid(code="flag = not len(xs) == 0\n", fixed="flag = bool(xs)\n"),
        Invalid(
            code="v = 1 if len(x) < 1 else 2\n",
            fixed="v = 1 if not x else 2\n",
        ),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        return any(
            isinstance(side, ast.Call) and isinstance(side.func, ast.Name) and side.func.id == "len"
            for c in nodes.of(ast.Compare)
            if any(
                isinstance(x, ast.Constant) and x.value in (0, 1) for x in (c.left, *c.comparators)
            )
            for side in (c.left, *c.comparators)
        )

    def visit_UnaryOperation(self, node: cst.UnaryOperation) -> None:
        operand = node.expression
        folds = isinstance(node.operator, cst.Not) and isinstance(operand, cst.Comparison)
        found = _emptiness(operand) if folds else None
        if found is None:
            TruthTestedContexts.visit_UnaryOperation(self, node)  # overridden here, not lost
            return
        # Fold the `not` in rather than leave `not not x`; outside a condition keep a bool.
        # The operand stays unmarked, so visit_Comparison does not rewrite it a second time.
        empty, sized = found
        if not empty:
            self._replace(node, cst.UnaryOperation(cst.Not(), _parenthesized(sized)))
        elif self.is_truth_tested(node):
            self._replace(node, _parenthesized(sized))
        else:
            self._replace(node, cst.Call(cst.Name("bool"), [cst.Arg(sized)]))

    def visit_Comparison(self, node: cst.Comparison) -> None:
        found = _emptiness(node) if self.is_truth_tested(node) else None
        if found is None:
            return
        empty, sized = found
        operand = _parenthesized(sized)
        self._replace(node, cst.UnaryOperation(cst.Not(), operand) if empty else operand)

    def _replace(self, node: cst.BaseExpression, new: cst.BaseExpression) -> None:
        """Where arrays or frames may be about, ``not x`` is no stand-in for ``len(x) == 0``."""
        if self.facts.imported & _ARRAY_LIBRARIES or "len" in self.facts.builtins_rebound:
            return
        if node.lpar:  # the old expression's parentheses now hold the replacement
            new = new.with_changes(lpar=node.lpar, rpar=node.rpar)
        self.report(node, replacement=new)
