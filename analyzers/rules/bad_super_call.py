"""DL124: ``super(X, self)`` where ``X`` is neither the enclosing class nor one of its bases.

Nearest ruff rule: UP008 (stable) rewrites ``super(Enclosing, self)`` to ``super()`` but says
nothing when the class named is a different one. pylint: ``bad-super-call`` (E1003).
"""

from __future__ import annotations

import ast

import libcst as cst

from ..class_lookup import lineage
from ..cst_scope import ScopedRule
from ..models import Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid


def _dynamic_class(arg: cst.BaseExpression, instance: str) -> bool:
    """``type(self)`` or ``self.__class__``: the *runtime* class, a subclass's in a subclass."""
    if isinstance(arg, cst.Attribute):
        value = arg.value
        return (
            arg.attr.value == "__class__"
            and isinstance(value, cst.Name)
            and value.value == instance
        )
    if isinstance(arg, cst.Call) and isinstance(arg.func, cst.Name) and arg.func.value == "type":
        args = arg.args
        return (
            len(args) == 1
            and isinstance(args[0].value, cst.Name)
            and args[0].value.value == instance
        )
    return False


class BadSuperCall(ScopedRule):
    CODE = "DL124"
    NAME = "bad-super-call"
    CATEGORY = "bug"
    MESSAGE = "`super()` is given a class that is not the enclosing class or one of its bases"
    RATIONALE = (
        "`super(X, self)` starts the method lookup after X in the instance's MRO. When X is not "
        "the enclosing class or one of its bases, the call raises TypeError (or skips the "
        "wrong classes), typically after a class was renamed or code was copied. "
        "`super(type(self), self)` recurses forever as soon as the class is subclassed. Use "
        "`super()`. pylint reports this as bad-super-call."
    )
    SEVERITY = Severity.ERROR
    CONFIDENCE = 0.95
    VALID = (
        "class A(B):\n    def __init__(self):\n        super(A, self).__init__()\n",
        "class A(B):\n    def __init__(self):\n        super().__init__()\n",
        # skipping a level on purpose: the class named is a base
        "class Base:\n    def m(self):\n        pass\n\nclass Child(Base):\n    def m(self):\n"
        "        pass\n\nclass GrandChild(Child):\n    def m(self):\n"
        "        super(Child, self).m()\n",
        # a class this module does not define may be a base through an import
        "from lib import Mixin\n\nclass A(Other):\n    def m(self):\n        super(Mixin, self).m()\n",
        "class A:\n    @classmethod\n    def make(cls):\n        return super(A, cls).make()\n",
        "def super(*a):\n    pass\n\nclass A:\n    def m(self):\n        super(B, self).m()\n",
    )
    INVALID = (
        Invalid(
            code="class Aaaa:\n    pass\n\nclass NewAaaa(Aaaa):\n    pass\n\n"
            "class Other(Aaaa):\n    def __init__(self):\n        super(NewAaaa, self).__init__()\n",
            line=9,
        ),
        Invalid(
            code="class Reader(io.Base):\n    def read(self):\n"
            "        return super(type(self), self).read()\n",
            line=3,
        ),
        Invalid(
            code="class Reader(io.Base):\n    async def read(self):\n"
            "        def inner():\n            return super(self.__class__, self).read()\n"
            "        return inner\n",
            line=4,
        ),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        return any(
            isinstance(c.func, ast.Name) and c.func.id == "super" and c.args
            for c in nodes.of(ast.Call)
        )

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Name) and func.value == "super") or not node.args:
            return
        if "super" in self.facts.builtins_rebound:
            return
        context = self.method_context()
        first = node.args[0]
        if context is None or first.keyword is not None or first.star:
            return
        if _dynamic_class(first.value, context.instance):
            self.report(
                node,
                "`super()` given the instance's runtime class recurses forever in a subclass; "
                "name the enclosing class, or use `super()`",
            )
            return
        named = first.value
        if not isinstance(named, cst.Name) or named.value == context.class_name:
            return
        line = lineage(self.facts, context.class_name)
        if self.facts.klass(named.value) is None or line is None:
            return
        if named.value not in line.names():
            self.report(
                node,
                f"`super({named.value}, ...)` in `{context.class_name}`: `{named.value}` is not "
                f"`{context.class_name}` or one of its bases",
            )
