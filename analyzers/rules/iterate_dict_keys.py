"""DL113: ``for k in d.keys()`` and ``k in d.keys()`` build a keys view for nothing."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from ..models import FixSafety, Severity
from ..rule import Invalid, Rule

_KEYS = m.Call(func=m.Attribute(attr=m.Name("keys")), args=[])


class IterateDictKeys(Rule):
    CODE = "DL113"
    NAME = "iterate-dict-keys"
    CATEGORY = "performance"
    MESSAGE = "Unnecessary .keys(): iterating or testing membership of a dict uses its keys"
    RATIONALE = (
        "A dict iterates over its keys and `in` tests its keys, so `.keys()` only adds a call "
        "and a view object. Dropping it is the idiomatic spelling and is slightly faster."
    )
    SEVERITY = Severity.INFO
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
            code="for k in d.keys():  # all\n    print(k)\n",
            fixed="for k in d:  # all\n    print(k)\n",
        ),
        Invalid(
            code=(
                "class C:\n    async def m(self, k):\n"
                "        return k in self.new or k not in (self.cache.keys())\n"
            ),
            fixed="class C:\n    async def m(self, k):\n        return k in self.new or k not in (self.cache)\n",
            line=3,
        ),
        Invalid(
            code="pairs = {k: v for k in a.keys() for v in b[k].keys()}\n",
            fixed="pairs = {k: v for k in a for v in b[k].keys()}\n",
        ),
        Invalid(
            code="x = [k for k in get().keys() if k in (a or b).keys()]\n",
            fixed="x = [k for k in get() if k in (a or b).keys()]\n",
        ),
    )

    def _check(self, call: cst.BaseExpression) -> None:
        if not m.matches(call, _KEYS):
            return
        assert isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
        owner = call.func.value
        if call.lpar:
            owner = owner.with_changes(
                lpar=[*call.lpar, *owner.lpar], rpar=[*owner.rpar, *call.rpar]
            )
        self.report(call, replacement=owner)

    def visit_For(self, node: cst.For) -> None:
        if node.asynchronous is None:
            self._check(node.iter)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        if node.asynchronous is None:
            self._check(node.iter)

    def visit_ComparisonTarget(self, node: cst.ComparisonTarget) -> None:
        if isinstance(node.operator, cst.In | cst.NotIn):
            self._check(node.comparator)
