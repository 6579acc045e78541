"""DL128: ``x = f()`` where the module's ``f`` never returns a value, so ``x`` is always None.

Nearest ruff rule: none, stable or preview. pylint: ``assignment-from-no-return`` (E1111) and
``assignment-from-none`` (E1128).
"""

from __future__ import annotations

import ast

import libcst as cst

from ..callee import callee
from ..class_lookup import stands_alone
from ..cst_scope import ScopedRule
from ..models import Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid


class AssignmentFromNone(ScopedRule):
    CODE = "DL128"
    NAME = "assignment-from-none"
    CATEGORY = "bug"
    MESSAGE = "Assigning the result of a function that never returns a value"
    RATIONALE = (
        "The function defined in this module has no `return <value>` (and is not a generator, "
        "a coroutine or a stub), so the call always gives None: the assignment is a mistake, "
        "often a function that mutates in place (like `list.sort`) used as if it returned the "
        "result, or a forgotten `return`. pylint reports assignment-from-no-return and "
        "assignment-from-none; ruff has no equivalent."
    )
    SEVERITY = Severity.WARNING
    CONFIDENCE = 0.85
    VALID = (
        "def f(x):\n    return x * 2\n\ny = f(1)\n",
        "def f(x):\n    if x:\n        return x\n\ny = f(1)\n",
        "def f(x):\n    yield x\n\ny = f(1)\n",
        "async def f(x):\n    print(x)\n\ny = f(1)\n",
        # stubs and functions that only raise are meant to be replaced
        "def f(x):\n    '''Subclasses return the value.'''\n\ny = f(1)\n",
        "def f(x):\n    raise NotImplementedError\n\ny = f(1)\n",
        # a hook's default (pickle's persistent_id), and a method an instance may replace
        "class Pickler:\n    def persistent_id(self, obj):\n        return None\n\n"
        "    def save(self, obj):\n        pid = self.persistent_id(obj)\n\nP = Pickler()\n",
        "class Condition:\n    def __init__(self, lock):\n        try:\n"
        "            self._release_save = lock._release_save\n        except AttributeError:\n"
        "            pass\n\n    def _release_save(self):\n        self._lock.release()\n\n"
        "    def wait(self):\n        saved = self._release_save()\n\nC = Condition(lock)\n",
        "@register\ndef f(x):\n    print(x)\n\ny = f(1)\n",
        "def f(x):\n    print(x)\n\ndef g(f):\n    y = f(1)\n",
        "def f(x):\n    print(x)\n\nf(1)\n",
        # a platform stub beside a real import (click's _get_windows_console_stream)
        "if WIN:\n    from ._winconsole import get_stream\nelse:\n\n    def get_stream(f):\n"
        "        return None\n\ndef stdin():\n    rv = get_stream(sys.stdin)\n",
        # a subclass may override a hook to return something
        "class Base:\n    def hook(self):\n        log('base')\n\n    def run(self):\n"
        "        result = self.hook()\n\nclass Impl(Base):\n    def hook(self):\n        return 1\n",
    )
    INVALID = (
        Invalid(
            code="def normalise(items):\n    items.sort()\n\nclean = normalise(data)\n",
            line=4,
        ),
        Invalid(
            code="def f(x):\n    if x:\n        return None\n    print(x)\n\n"
            "def g():\n    value: int = f(2)\n",
            line=7,
        ),
        Invalid(
            code="class Cache:\n    def store(self, key, value):\n        self.data[key] = value\n\n"
            "    async def get(self, key):\n        saved = self.store(key, 1)\n\nCACHE = Cache()\n",
            line=6,
        ),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts | None = None) -> bool:
        assigned = [*nodes.of(ast.Assign), *nodes.of(ast.AnnAssign)]
        calls = [a.value for a in assigned if isinstance(a.value, ast.Call)]
        if not calls or facts is None:
            return bool(calls)
        functions = {name for name, s in facts.functions if s.returns_none}
        methods = {
            name
            for _, klass in facts.classes
            for name, s in (*klass.methods, *klass.class_methods)
            if s.returns_none
        }
        return any(
            (isinstance(f, ast.Name) and f.id in functions)
            or (isinstance(f, ast.Attribute) and f.attr in methods)
            for f in (call.func for call in calls)
        )

    def visit_Assign(self, node: cst.Assign) -> None:
        self._check(node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._check(node.value)

    def _check(self, value: cst.BaseExpression) -> None:
        if not isinstance(value, cst.Call):
            return
        target = callee(self, value.func)
        if target is None or target.signature is None or not target.signature.returns_none:
            return
        line = target.line
        if line is not None and (not line.closed or not stands_alone(self.facts, line.name)):
            return  # a subclass may override the method to return something
        self.report(value, f"`{target.name}()` never returns a value: this assigns None")
