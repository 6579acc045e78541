"""DL122: a call that cannot bind to the function, method or class the module defines.

Nearest ruff rule: none, stable or preview (ruff does not resolve calls). pylint:
``no-value-for-parameter`` (E1120), ``too-many-function-args`` (E1121),
``unexpected-keyword-arg`` (E1123), ``redundant-keyword-arg`` (E1124).
"""

from __future__ import annotations

import ast

import libcst as cst

from ..call_arguments import CallShape, call_mismatch
from ..call_precheck import may_call_into
from ..callee import Callee, callee
from ..class_lookup import Lineage, completed_elsewhere, lineage
from ..cst_scope import ScopedRule
from ..models import Severity
from ..module_facts import AstIndex, ModuleFacts, Signature
from ..rule import Invalid


def _constructor(line: Lineage) -> Signature | None:
    """``__init__``'s signature when ``Class(...)`` surely runs it with the call's arguments:
    no metaclass, decorator or unknown base, and no ``__new__`` of the module's."""
    if line.opaque or not line.closed:
        return None
    if any("__new__" in klass.members for _, klass in line.classes):
        return None
    return line.method("__init__")


def _may_mismatch(call: ast.Call, facts: ModuleFacts) -> bool:
    """Whether some signature the call may reach cannot bind its arguments: the module
    function or class it names, or any module method of the name it calls on an object."""
    func = call.func
    if isinstance(func, ast.Name):
        signature = facts.function(func.id)
        if signature is None and (line := lineage(facts, func.id)) is not None:
            signature = _constructor(line)
        candidates = [signature] if signature is not None else []
    elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        candidates = [
            s
            for _, klass in facts.classes
            for name, s in (*klass.methods, *klass.class_methods)
            if name == func.attr
        ]
    else:
        return False
    shape = CallShape.of_ast(call)
    return any(call_mismatch(s, shape, "") is not None for s in candidates)


class CallSignatureMismatch(ScopedRule):
    CODE = "DL122"
    NAME = "call-signature-mismatch"
    CATEGORY = "bug"
    MESSAGE = "Call arguments do not match the function's parameters"
    RATIONALE = (
        "The function, method or class is defined in this module, and the call passes too "
        "many or too few positional arguments, a keyword it does not take, or a value twice: "
        "the call raises TypeError when it runs. pylint reports these as "
        "no-value-for-parameter, too-many-function-args and unexpected-keyword-arg; ruff does "
        "not resolve calls."
    )
    SEVERITY = Severity.ERROR
    CONFIDENCE = 0.9
    VALID = (
        "def f(a, b=1, *, c=2):\n    pass\n\nf(1)\nf(1, 2, c=3)\nf(b=2, a=1)\n",
        "def f(a, *args, **kwargs):\n    pass\n\nf(1, 2, 3, x=4)\n",
        "def f(a, b):\n    pass\n\nf(*pair)\nf(**both)\nf(1, *rest)\n",
        "def f(a, /, **kw):\n    pass\n\nf(1, a=2)\n",
        # redefined, decorated or shadowed functions may take anything
        "def f(a):\n    pass\n\ndef f(a, b):\n    pass\n\nf(1, 2)\n",
        "@cache\ndef f(a):\n    pass\n\nf(1, 2)\n",
        "def f(a):\n    pass\n\ndef g(f):\n    return f(1, 2)\n",
        "def f(a):\n    pass\n\ndef g():\n    f = make()\n    return f(1, 2)\n",
        # a method a subclass may override is checked against the class's own definition only
        "class A:\n    def m(self, a):\n        pass\n\n    @staticmethod\n    def s(a, b):\n"
        "        pass\n\n    def n(self):\n        self.m(1)\n        self.s(1, 2)\n",
        # constructors: a metaclass, __new__ or an unknown base may take other arguments
        "class P(tuple):\n    def __new__(cls, a, b):\n        return super().__new__(cls, (a, b))\n"
        "\n    def __init__(self, a, b):\n        pass\n\nP(1, 2, 3)\n",
        "class E(Enum):\n    A = (1, 2)\n\n    def __init__(self, a, b):\n        pass\n\nE(1)\n",
        "@dataclass\nclass D:\n    x: int\n\nD(1)\n",
        "class B:\n    def __init__(self, a):\n        pass\n\nclass C(dict, B):\n    pass\n\nC()\n",
        "class C:\n    pass\n\nC()\n",
        # a base's placeholder may differ from what its subclasses define (multiprocessing)
        "class BaseProcess:\n    def _Popen(self):\n        raise NotImplementedError\n\n"
        "    def start(self):\n        self._popen = self._Popen(self)\n",
    )
    INVALID = (
        Invalid(code="def f(a, b):\n    pass\n\nf(1)\n", line=4),
        Invalid(code="def f(a, b=2):\n    pass\n\nf(1, 2, 3)\n", line=4),
        Invalid(code="def f(a, *, key=None):\n    pass\n\nf(1, kee=2)\n", line=4),
        Invalid(code="def f(a, b):\n    pass\n\nf(1, a=2)\n", line=4),
        Invalid(code="def f(a, /, b):\n    pass\n\nf(a=1, b=2)\n", line=4),
        Invalid(code="def f(a, *, key):\n    pass\n\nx = [f(i, *rest) for i in y]\n", line=4),
        Invalid(
            code="class C:\n    def m(self, a, b=1):\n        pass\n\n"
            "    async def n(self):\n        return self.m()\n",
            line=6,
        ),
        Invalid(
            code="class Net:\n    @staticmethod\n    def parse(text, strict):\n        pass\n\n"
            "    @classmethod\n    def make(cls, text):\n        return cls.parse(text)\n",
            line=8,
        ),
        Invalid(
            code="class Base:\n    def __init__(self, name):\n        self.name = name\n\n"
            "class Child(Base):\n    pass\n\nc = Child()\n",
            line=8,
        ),
        Invalid(
            code="class Error(Exception):\n    def __init__(self, msg, code):\n"
            "        super().__init__(msg)\n\ndef f():\n    raise Error('bad')\n",
            line=6,
        ),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts | None = None) -> bool:
        if facts is None:
            return may_call_into(nodes, facts, classes=True)
        return any(_may_mismatch(call, facts) for call in nodes.of(ast.Call))

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        target = callee(self, func)
        if target is None and isinstance(func, cst.Name):
            line = lineage(self.facts, func.value)
            if line is not None and not self.is_local(func.value):
                target = Callee(func.value, _constructor(line))
        if target is None or target.signature is None:
            return
        if target.line is not None and completed_elsewhere(self.facts, target.line.name):
            return  # a base (subclassed here, or named so) is called with its overrides' arguments
        problem = call_mismatch(target.signature, CallShape.of_cst(node), target.name)
        if problem is not None:
            self.report(node, problem)
