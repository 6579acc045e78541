"""What a branch knows from the test that chose it, for the binding flow (libcst).

``if a and b:`` tells its body that ``a`` and ``b`` held; ``if a or b:`` only that one of them
did; ``if x:`` that ``x is None`` failed. Facts are keyed by the code of a test, so two tests
agree when they read the same.
"""

from __future__ import annotations

from functools import cached_property

import libcst as cst

from .cst_scope import code_of, names_in

Fact = tuple[str, bool]
"""A test (its code) and whether it held."""


class Known:
    """What a test that held (or failed) says where it guards, worked out when first asked:
    most tests guard code where nothing needs them."""

    def __init__(self, test: cst.BaseExpression, held: bool) -> None:
        self.test, self.held = test, held

    @cached_property
    def holds(self) -> frozenset[Fact]:
        """Facts that hold here."""
        return frozenset(_holds(self.test, self.held))

    @cached_property
    def either(self) -> frozenset[Fact]:
        """At least one of these holds (the disjuncts of an ``or`` that held)."""
        return frozenset(_either(self.test, self.held))

    @cached_property
    def names(self) -> frozenset[str]:
        """The names the test reads."""
        return names_in(self.test)


def _none_test(test: cst.BaseExpression) -> tuple[str, bool] | None:
    """(``x``'s code, whether it says "is None") for ``x is None``, ``x != None``..."""
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return None
    target = test.comparisons[0]
    if not (isinstance(target.comparator, cst.Name) and target.comparator.value == "None"):
        return None
    if isinstance(target.operator, cst.Is | cst.Equal):
        return code_of(test.left), True
    if isinstance(target.operator, cst.IsNot | cst.NotEqual):
        return code_of(test.left), False
    return None


# Each comparison and its negation share one key: `a <= b` failing is `a > b` holding.
_NEGATED: dict[type[cst.BaseCompOp], tuple[str, bool]] = {
    cst.LessThan: ("<", True),
    cst.GreaterThanEqual: ("<", False),
    cst.GreaterThan: (">", True),
    cst.LessThanEqual: (">", False),
    cst.Equal: ("==", True),
    cst.NotEqual: ("==", False),
    cst.In: ("in", True),
    cst.NotIn: ("in", False),
    cst.Is: ("is", True),
    cst.IsNot: ("is", False),
}


def _comparison(test: cst.BaseExpression, held: bool) -> Fact | None:
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return None
    target = test.comparisons[0]
    operator, positive = _NEGATED[type(target.operator)]
    return f"{code_of(test.left)} {operator} {code_of(target.comparator)}", held == positive


def _operands(test: cst.BooleanOperation) -> list[cst.BaseExpression]:
    found = []
    for side in (test.left, test.right):
        same = isinstance(side, cst.BooleanOperation) and type(side.operator) is type(test.operator)
        found.extend(_operands(side) if same and not side.lpar else [side])  # type: ignore[arg-type]
    return found


def _holds(test: cst.BaseExpression, held: bool) -> set[Fact]:
    none_test = _none_test(test)
    if none_test is not None:
        return {(f"{none_test[0]} is None", none_test[1] == held)}
    comparison = _comparison(test, held)
    facts = {comparison if comparison is not None else (code_of(test), held)}
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        facts |= _holds(test.expression, not held)
    elif isinstance(test, cst.BooleanOperation) and not test.lpar:
        if isinstance(test.operator, cst.And if held else cst.Or):
            for operand in _operands(test):
                facts |= _holds(operand, held)
    elif held and isinstance(test, cst.Name | cst.Attribute):
        facts.add((f"{code_of(test)} is None", False))  # truthy: not None
    return facts


def _either(test: cst.BaseExpression, held: bool) -> set[Fact]:
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return _either(test.expression, not held)
    splits = cst.Or if held else cst.And
    if not isinstance(test, cst.BooleanOperation) or test.lpar:
        return set()
    if not isinstance(test.operator, splits):
        return set()
    return {fact for operand in _operands(test) for fact in _holds(operand, held)}


def known(test: cst.BaseExpression, held: bool) -> Known:
    return Known(test, held)
