"""DL117: ``isinstance(x, A) or isinstance(x, B)`` is one call with a tuple of types."""

from __future__ import annotations

import ast

import libcst as cst

from ..cst_match import comments_in, plain_call
from ..models import FixSafety, Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid, Rule

_EMPTY = cst.Module([])


def _simple(expr: cst.BaseExpression) -> bool:
    """A name, dotted name or subscript by a constant or name (``var[3]``, ``self.a[k]``)."""
    while isinstance(expr, cst.Attribute | cst.Subscript) and not expr.lpar:
        if isinstance(expr, cst.Subscript) and not _simple_index(expr):
            return False
        expr = expr.value
    return isinstance(expr, cst.Name) and not expr.lpar


def _simple_index(subscript: cst.Subscript) -> bool:
    if len(subscript.slice) != 1 or not isinstance(subscript.slice[0].slice, cst.Index):
        return False
    index = subscript.slice[0].slice.value
    return isinstance(index, cst.Integer | cst.SimpleString | cst.Name) and not index.lpar


def _subject(operand: cst.BaseExpression) -> str | None:
    """The code of ``x`` when ``operand`` is ``isinstance(x, ...)`` on a simple ``x``."""
    if not plain_call(operand, "isinstance", 2) or operand.lpar:
        return None
    assert isinstance(operand, cst.Call)
    subject = operand.args[0].value
    return _EMPTY.code_for_node(subject) if _simple(subject) else None


def _flatten(node: cst.BooleanOperation) -> tuple[list[cst.BaseExpression], list[cst.Or]]:
    """Operands and operators of an unparenthesized left-nested ``a or b or c`` chain."""
    left = node.left
    if (
        isinstance(left, cst.BooleanOperation)
        and isinstance(left.operator, cst.Or)
        and not left.lpar
    ):
        operands, ops = _flatten(left)
    else:
        operands, ops = [left], []
    assert isinstance(node.operator, cst.Or)
    return [*operands, node.right], [*ops, node.operator]


def _groups(subjects: list[str | None]) -> list[list[int]]:
    """Indexes of same-subject calls, within runs of isinstance calls only, so merging never
    moves another operand's evaluation."""
    groups: list[list[int]] = []
    by_subject: dict[str, list[int]] = {}
    for i, subject in enumerate([*subjects, None]):
        if subject is not None:
            by_subject.setdefault(subject, []).append(i)
            continue
        groups.extend(g for g in by_subject.values() if len(g) > 1)
        by_subject = {}
    return groups


def _types(call: cst.Call) -> list[cst.BaseExpression]:
    second = call.args[1].value
    if isinstance(second, cst.Tuple):
        return [e.value if isinstance(e, cst.Element) else e for e in second.elements]
    return [second]


def _merged(calls: list[cst.Call]) -> cst.Call:
    """The first call with every call's types, each once, in order."""
    unique: dict[str, cst.BaseExpression] = {}
    for call in calls:
        for t in _types(call):
            unique.setdefault(_EMPTY.code_for_node(t), t)
    types = list(unique.values())
    if not types:  # isinstance(x, ()) is always False; nothing to merge into
        return calls[0]
    second: cst.BaseExpression = types[0]
    if len(types) > 1:
        comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        elements = [t if isinstance(t, cst.StarredElement) else cst.Element(t) for t in types]
        elements = [e.with_changes(comma=comma) for e in elements[:-1]] + elements[-1:]
        second = cst.Tuple(elements)
    first = calls[0]
    return first.with_changes(args=[first.args[0], first.args[1].with_changes(value=second)])


class MergeableIsinstance(Rule):
    CODE = "DL117"
    NAME = "mergeable-isinstance"
    CATEGORY = "maintainability"
    MESSAGE = "isinstance calls on the same object can be merged into one with a tuple"
    RATIONALE = (
        "`isinstance` accepts a tuple of types, so a chain of `or`-ed calls on the same object "
        "repeats the subject and hides the set of accepted types. One call is shorter, lists "
        "the types in one place and checks them in a single pass."
    )
    PEDANTIC = "1 finding on real code, style only."
    SEVERITY = Severity.INFO
    FIX_SAFETY = FixSafety.SAFE
    FIX_TITLE = "Merge into one isinstance call"
    VALID = (
        "ok = isinstance(x, A) or isinstance(y, B)\n",
        "ok = isinstance(x, A) and isinstance(x, B)\n",
        "ok = isinstance(f(), A) or isinstance(f(), B)\n",
        "ok = isinstance(x, A) or g() or isinstance(x, B)\n",
        "ok = isinstance(x[f()], A) or isinstance(x[f()], B)\n",
        # Fixit's own VALID example: a local isinstance is not the builtin
        "def foo():\n    def isinstance(x, y):\n        return _foo_bar(x, y)\n"
        "    if isinstance(x, y) or isinstance(x, z):\n        print('foo')\n",
        "from compat import isinstance\n\nok = isinstance(x, A) or isinstance(x, B)\n",
        "def f(isinstance):\n    return isinstance(x, A) or isinstance(x, B)\n",
    )
    INVALID = (
        Invalid(
            code="if isinstance(x, int) or isinstance(x, float):  # num\n    pass\n",
            fixed="if isinstance(x, (int, float)):  # num\n    pass\n",
        ),
        Invalid(
            code=(
                "class C:\n    async def m(self):\n        return a or isinstance(self.v, (A, B))"
                " or isinstance(y, D) or isinstance(self.v, C) or b\n"
            ),
            fixed=(
                "class C:\n    async def m(self):\n"
                "        return a or isinstance(self.v, (A, B, C)) or isinstance(y, D) or b\n"
            ),
            line=3,
        ),
        Invalid(
            code="ok = (isinstance(x, A) or isinstance(x, (B,)) or isinstance(x, A))\n",
            fixed="ok = (isinstance(x, (A, B)))\n",
        ),
        Invalid(
            code="if isinstance(var[3], int) or isinstance(var[3], float):\n    pass\n",
            fixed="if isinstance(var[3], (int, float)):\n    pass\n",
        ),
        Invalid(
            code="ok = isinstance(self.a['k'], A) or isinstance(self.a['k'], B)\n",
            fixed="ok = isinstance(self.a['k'], (A, B))\n",
        ),
        Invalid(
            code="ok = (\n    isinstance(x, A)  # a\n    or isinstance(x, B)\n)\n",
            fixed=None,
            line=2,
        ),
    )

    def __init__(self) -> None:
        super().__init__()
        self._inner: set[int] = set()

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        return any(
            sum(
                isinstance(v, ast.Call)
                and isinstance(v.func, ast.Name)
                and v.func.id == "isinstance"
                for v in b.values
            )
            > 1
            for b in nodes.of(ast.BoolOp)
            if isinstance(b.op, ast.Or)
        )

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> None:
        if id(node) in self._inner or not isinstance(node.operator, cst.Or):
            return
        if "isinstance" in self.facts.builtins_rebound:
            return
        operands, ops = _flatten(node)
        left = node.left
        while isinstance(left, cst.BooleanOperation) and id(left) not in self._inner:
            if not isinstance(left.operator, cst.Or) or left.lpar:
                break
            self._inner.add(id(left))
            left = left.left
        subjects = [_subject(o) for o in operands]
        groups = _groups(subjects)
        if not groups:
            return
        dropped = {j for g in groups for j in g[1:]}
        calls = {j: o for j, o in enumerate(operands) if isinstance(o, cst.Call)}
        changed = {g[0]: _merged([calls[j] for j in g]) for g in groups}
        keep = [i for i in range(len(operands)) if i not in dropped]
        # A comment inside a merged call, or on an operator that goes away, would be lost.
        touched: list[cst.CSTNode] = [operands[j] for g in groups for j in g]
        touched += [ops[j - 1] for j in dropped]
        names = ", ".join(f"`{subjects[g[0]]}`" for g in groups)
        message = f"isinstance calls on {names} can be merged into one call with a tuple"
        if any(comments_in(n) for n in touched):
            self.report(node, message)
            return
        result: cst.BaseExpression = changed.get(keep[0], operands[keep[0]])
        for i in keep[1:]:
            result = cst.BooleanOperation(
                left=result, operator=ops[i - 1], right=changed.get(i, operands[i])
            )
        self.report(node, message, replacement=result.with_changes(lpar=node.lpar, rpar=node.rpar))
