"""DL113: ``for k in d.keys()`` and ``k in d.keys()`` build a keys view for nothing."""

from __future__ import annotations

import ast

import libcst as cst

from ..models import FixSafety, Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid, Rule

_DICT_TYPES = frozenset({"dict", "Dict", "defaultdict", "DefaultDict", "OrderedDict", "Counter"})


def _dict_type(annotation: cst.BaseExpression) -> bool:
    """``dict``, ``dict[str, int]``, ``typing.Dict[...]``, ``collections.OrderedDict``."""
    if isinstance(annotation, cst.Subscript):
        annotation = annotation.value
    if isinstance(annotation, cst.Attribute):
        annotation = annotation.attr
    return isinstance(annotation, cst.Name) and annotation.value in _DICT_TYPES


def _dict_value(value: cst.BaseExpression) -> bool:
    """An expression that builds a dict: a literal, a comprehension, ``dict(...)``."""
    if isinstance(value, cst.Dict | cst.DictComp):
        return True
    return (
        isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and _dict_type(value.func)
    )


class IterateDictKeys(Rule):
    CODE = "DL113"
    NAME = "iterate-dict-keys"
    CATEGORY = "performance"
    MESSAGE = "Unnecessary .keys(): iterating or testing membership of a dict uses its keys"
    RATIONALE = (
        "A dict iterates over its keys and `in` tests its keys, so `.keys()` only adds a call "
        "and a view object. Dropping it is the idiomatic spelling and is slightly faster."
    )
    PEDANTIC = "4 findings on real code, a clean-up with no behaviour change."
    SEVERITY = Severity.INFO
    # Safe only on a receiver known to be a dict: ``"a" in row.keys()`` on a ``sqlite3.Row``
    # is True, ``"a" in row`` tests its values and is False.
    FIX_SAFETY = FixSafety.SAFE
    CONFIDENCE = 0.9  # a non-dict may define keys() differently from its iteration
    FIX_TITLE = "Remove .keys()"
    VALID = (
        "for k in d:\n    pass\n",
        "for k in d.keys(pattern):\n    pass\n",
        "keys = d.keys()\nboth = d.keys() & e.keys()\n",
        "for k in sorted(d.keys()):\n    pass\n",
        "async def f(d):\n    async for k in d.keys():\n        pass\n",
    )
    INVALID = (
        Invalid(
            code="def f(d: dict[str, int]):\n    for k in d.keys():  # all\n        print(k)\n",
            fixed="def f(d: dict[str, int]):\n    for k in d:  # all\n        print(k)\n",
            line=2,
        ),
        Invalid(
            code="for k in d.keys():\n    print(k)\n",
            fixed="for k in d:\n    print(k)\n",
            safety=FixSafety.UNSAFE,
        ),
        Invalid(  # sqlite3.Row: `in row.keys()` tests column names, `in row` tests values
            code="def has(row: sqlite3.Row) -> bool:\n    return 'name' in row.keys()\n",
            fixed="def has(row: sqlite3.Row) -> bool:\n    return 'name' in row\n",
            line=2,
            safety=FixSafety.UNSAFE,
        ),
        Invalid(
            code=(
                "class C:\n    async def m(self, k):\n"
                "        return k in self.new or k not in (self.cache.keys())\n"
            ),
            fixed="class C:\n    async def m(self, k):\n        return k in self.new or k not in (self.cache)\n",
            line=3,
            safety=FixSafety.UNSAFE,
        ),
        Invalid(
            code="seen = {}\npairs = {k: v for k in {1: 2}.keys() for v in dict(b).keys()}\n",
            fixed="seen = {}\npairs = {k: v for k in {1: 2} for v in dict(b).keys()}\n",
            line=2,
        ),
        Invalid(
            code="def f(d: dict):\n    d = load()\n    return 1 in d.keys()\n",
            fixed="def f(d: dict):\n    d = load()\n    return 1 in d\n",
            line=3,
            safety=FixSafety.UNSAFE,
        ),
        Invalid(
            code="x = [k for k in get().keys() if k in (a or b).keys()]\n",
            fixed="x = [k for k in get() if k in (a or b).keys()]\n",
            safety=FixSafety.UNSAFE,
        ),
        Invalid(
            code="def f():\n    counts: Counter[str] = Counter()\n    return 'a' in counts.keys()\n",
            fixed="def f():\n    counts: Counter[str] = Counter()\n    return 'a' in counts\n",
            line=3,
        ),
    )

    def __init__(self) -> None:
        super().__init__()
        self._dicts: set[str] = set()
        self._others: set[str] = set()
        self._pending: list[tuple[cst.Call, cst.BaseExpression]] = []

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        return any(
            isinstance(c.func, ast.Attribute) and c.func.attr == "keys" and not c.args
            for c in nodes.of(ast.Call)
        )

    def visit_Param(self, node: cst.Param) -> None:
        typed = node.annotation is not None and _dict_type(node.annotation.annotation)
        (self._dicts if typed else self._others).add(node.name.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if isinstance(node.target, cst.Name) and _dict_type(node.annotation.annotation):
            self._dicts.add(node.target.value)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        if isinstance(node.target, cst.Name):
            self._others.add(node.target.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        if _dict_value(node.value):
            self._dicts.update(
                t.target.value for t in node.targets if isinstance(t.target, cst.Name)
            )

    def _known_dict(self, owner: cst.BaseExpression) -> bool:
        if _dict_value(owner):
            return "dict" not in self.facts.builtins_rebound or not isinstance(owner, cst.Call)
        if isinstance(owner, cst.Name):
            return owner.value in self._dicts and owner.value not in self._others
        return False

    def _check(self, call: cst.BaseExpression) -> None:
        if not (
            isinstance(call, cst.Call)
            and isinstance(call.func, cst.Attribute)
            and call.func.attr.value == "keys"
            and not call.args
        ):
            return
        assert isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
        owner = call.func.value
        if call.lpar:
            owner = owner.with_changes(
                lpar=[*call.lpar, *owner.lpar], rpar=[*owner.rpar, *call.rpar]
            )
        self._pending.append((call, owner))

    def leave_Module(self, original_node: cst.Module) -> None:
        """Every binding in the part is seen by now: the fix is safe on a known dict only."""
        for call, owner in self._pending:
            safety = FixSafety.SAFE if self._known_dict(owner) else FixSafety.UNSAFE
            self.report(call, replacement=owner, safety=safety)

    def visit_For(self, node: cst.For) -> None:
        if node.asynchronous is None:
            self._check(node.iter)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        if node.asynchronous is None:
            self._check(node.iter)

    def visit_ComparisonTarget(self, node: cst.ComparisonTarget) -> None:
        if isinstance(node.operator, cst.In | cst.NotIn):
            self._check(node.comparator)
