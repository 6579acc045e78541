"""Where an expression's value is used only for its truth.

Rewrites such as ``x == None`` -> ``x is None`` or ``len(x) == 0`` -> ``not x`` keep an
expression's truth but not its value, so they are exact only where nothing else is used.
This module lives outside ``rules`` so that rule discovery does not take the mixin for a rule.
"""

from __future__ import annotations

import libcst as cst


class TruthTestedContexts:
    """Mixin for a ``Rule``: notes, on the way down, which expressions are only truth-tested.

    Parents are visited before their children, so a rule's ``visit_Comparison`` etc. can ask
    :meth:`is_truth_tested`. A rule that defines one of the ``visit_*`` methods below itself
    must call this class's method explicitly, or those contexts go unmarked.
    """

    def __init__(self) -> None:
        super().__init__()
        self._truth_tested: set[int] = set()  # ids of nodes of the tree being visited

    def is_truth_tested(self, node: cst.CSTNode) -> bool:
        return id(node) in self._truth_tested

    def mark_truth_tested(self, expr: cst.BaseExpression | None) -> None:
        """Mark ``expr`` and the `and`/`or` operands inside it.

        Operands count only inside a tested `and`/`or`: in ``v = a or b`` the value of ``a``
        may become ``v``.
        """
        while expr is not None:
            self._truth_tested.add(id(expr))
            if not isinstance(expr, cst.BooleanOperation):
                return
            self.mark_truth_tested(expr.left)
            expr = expr.right

    def _mark_test(self, node: cst.If | cst.While | cst.Assert | cst.IfExp | cst.CompIf) -> None:
        """Their ``test`` is used for nothing but its truth."""
        self.mark_truth_tested(node.test)

    visit_If = visit_While = visit_Assert = visit_IfExp = visit_CompIf = _mark_test

    def visit_MatchCase(self, node: cst.MatchCase) -> None:
        self.mark_truth_tested(node.guard)

    def visit_UnaryOperation(self, node: cst.UnaryOperation) -> None:
        if isinstance(node.operator, cst.Not):
            self.mark_truth_tested(node.expression)
