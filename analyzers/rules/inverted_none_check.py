"""DL125: ``x is None and x.attr`` / ``x is not None or x.attr``: the None check guards the
wrong way, so ``x.attr`` runs exactly when ``x`` is None.

Nearest ruff rule: none, stable or preview (E711 and FURB168/169 are about how None is
compared, not what the comparison guards). pylint: none either; mypy/pyright report
``None has no attribute`` with types.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

import libcst as cst

from ..cst_scope import code_of
from ..models import Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid, Rule

_ORDERING = cst.LessThan | cst.LessThanEqual | cst.GreaterThan | cst.GreaterThanEqual


def _subject(node: cst.BaseExpression) -> str | None:
    """``x`` (a name or dotted name) when ``node`` is ``x`` itself."""
    expr = node
    while isinstance(expr, cst.Attribute):
        expr = expr.value
    return code_of(node) if isinstance(expr, cst.Name) else None


def _none_test(node: cst.BaseExpression) -> tuple[str, bool] | None:
    """(the subject, whether the test holds when it is None) for ``x is None``,
    ``x is not None``, ``x == None``, ``x != None``."""
    if not isinstance(node, cst.Comparison) or len(node.comparisons) != 1:
        return None
    target = node.comparisons[0]
    if not (isinstance(target.comparator, cst.Name) and target.comparator.value == "None"):
        return None
    subject = _subject(node.left)
    if subject is None:
        return None
    if isinstance(target.operator, cst.Is | cst.Equal):
        return subject, True
    if isinstance(target.operator, cst.IsNot | cst.NotEqual):
        return subject, False
    return None


def _chain(node: cst.BooleanOperation, inner: set[int]) -> list[cst.BaseExpression]:
    """The operands of ``a and b and c`` (or ``or``), unparenthesized nesting flattened; the
    nested operations are added to ``inner``."""
    operands: list[cst.BaseExpression] = []
    for side in (node.left, node.right):
        same = isinstance(side, cst.BooleanOperation) and type(side.operator) is type(node.operator)
        if same and not side.lpar:
            inner.add(id(side))
            operands.extend(_chain(side, inner))  # type: ignore[arg-type]
        else:
            operands.append(side)
    return operands


def _uses(node: cst.CSTNode, subject: str) -> Iterator[cst.CSTNode]:
    """Where ``node`` surely evaluates something None does not support on ``subject``: an
    attribute, an index, a call, an ordering or ``in``. Only what runs every time counts."""
    if isinstance(node, cst.Lambda | cst.ListComp | cst.SetComp | cst.DictComp | cst.GeneratorExp):
        return
    if isinstance(node, cst.BooleanOperation):
        yield from _uses(node.left, subject)
        return
    if isinstance(node, cst.IfExp):
        yield from _uses(node.test, subject)
        return
    if isinstance(node, cst.Attribute) and not node.attr.value.startswith("__"):
        if code_of(node.value) == subject:
            yield node
    elif isinstance(node, cst.Subscript | cst.Call):
        inner = node.value if isinstance(node, cst.Subscript) else node.func
        if code_of(inner) == subject:
            yield node
    elif isinstance(node, cst.Comparison):
        for left, target in zip(
            [node.left, *(c.comparator for c in node.comparisons)], node.comparisons, strict=False
        ):
            operator = target.operator
            ordering = isinstance(operator, _ORDERING)
            sides = [left, target.comparator] if ordering else [target.comparator]
            checked = ordering or isinstance(operator, cst.In | cst.NotIn)
            if checked and any(code_of(side) == subject for side in sides):
                yield node
    for child in node.children:
        yield from _uses(child, subject)


def _walrus(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.NamedExpr) or any(_walrus(c) for c in node.children)


def _none_compare(node: ast.expr, ops: tuple[type[ast.cmpop], ...]) -> bool:
    """``x is None`` (or another of ``ops``) on ``ast``: the shape ``_none_test`` reads."""
    if not isinstance(node, ast.Compare) or len(node.ops) != 1:
        return False
    [comparator] = node.comparators
    return (
        isinstance(node.ops[0], ops)
        and isinstance(comparator, ast.Constant)
        and comparator.value is None
    )


class InvertedNoneCheck(Rule):
    CODE = "DL125"
    NAME = "inverted-none-check"
    CATEGORY = "bug"
    MESSAGE = "The None check guards the wrong way: this runs only when the value is None"
    RATIONALE = (
        "In `x is None and x.attr` the right side runs only when `x` is None, so it raises "
        "AttributeError every time it runs; `x is not None or x.attr` is the same mistake "
        "with `or`. The intended test is almost always the opposite one (`is not None` with "
        "`and`, `is None` with `or`)."
    )
    SEVERITY = Severity.ERROR
    CONFIDENCE = 0.9
    VALID = (
        "ok = x is not None and x.ready\n",
        "ok = x is None or x.ready\n",
        "v = x.value if x is not None else default\n",
        "ok = x is None and y.ready\n",
        "ok = x is None and (flag or x.ready)\n",
        "ok = x is None and x.__class__ is not None\n",
        "ok = x is None and (x := load()) and x.ready\n",
        "ok = x is None and [x.a for x in xs]\n",
        "ok = x is None or x > 3\n",
    )
    INVALID = (
        Invalid(code="if node is None and node.children:\n    pass\n"),
        Invalid(code="ok = self.conn is not None or self.conn.closed\n"),
        Invalid(
            code="class C:\n    async def m(self, item):\n"
            "        return item == None and len(item['k']) > 0\n",
            line=3,
        ),
        Invalid(code="name = user.name if user is None else 'anonymous'\n"),
        Invalid(code="ok = a and limit is None and count < limit\n"),
        Invalid(code="if value is None and value():\n    pass\n"),
        Invalid(code="ok = x is None and x.a and x.b\n"),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        tests_when_none = {ast.And: (ast.Is, ast.Eq), ast.Or: (ast.IsNot, ast.NotEq)}
        for node in nodes.of(ast.BoolOp):
            wanted = tests_when_none[type(node.op)]
            if any(_none_compare(v, wanted) for v in node.values):
                return True
        either = (ast.Is, ast.Eq, ast.IsNot, ast.NotEq)
        return any(_none_compare(node.test, either) for node in nodes.of(ast.IfExp))

    def __init__(self) -> None:
        super().__init__()
        self._inner: set[int] = set()

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> None:
        if id(node) in self._inner:
            return
        operands = _chain(node, self._inner)
        if _walrus(node):
            return
        when_none = isinstance(node.operator, cst.And)  # `and` goes on while its tests hold
        for i, operand in enumerate(operands[:-1]):
            test = _none_test(operand)
            if test is None or test[1] != when_none:
                continue
            for later in operands[i + 1 :]:
                for use in _uses(later, test[0]):
                    self._flag(use, test[0])
                    return

    def visit_IfExp(self, node: cst.IfExp) -> None:
        test = _none_test(node.test)
        if test is None or _walrus(node):
            return
        subject, when_none = test
        for use in _uses(node.body if when_none else node.orelse, subject):
            self._flag(use, subject)
            return

    def _flag(self, use: cst.CSTNode, subject: str) -> None:
        self.report(
            use,
            f"`{code_of(use)}` runs only when `{subject}` is None: the None check is inverted",
        )
