"""DL123: ``self.name()`` where neither the class nor any of its bases defines ``name``.

Nearest ruff rule: none, stable or preview (ruff does not resolve attributes). pylint:
``no-member`` (E1101) on ``self``.
"""

from __future__ import annotations

import ast
import difflib

import libcst as cst

from ..class_lookup import completed_elsewhere, lineage, stands_alone
from ..cst_scope import ScopedRule
from ..models import Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid


def _calls_outside_own_members(klass: ast.ClassDef, facts: ModuleFacts) -> bool:
    """Whether a method calls ``self.name()`` for a name the class itself does not define
    (its bases are left to the rule)."""
    known = facts.klass(klass.name)
    if known is None or known.opaque:
        return False
    for method in klass.body:
        if not isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef) or not method.args.args:
            continue
        instance = method.args.args[0].arg
        for node in ast.walk(method):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == instance
                and node.func.attr not in known.members
            ):
                return True
    return False


class UndefinedMethod(ScopedRule):
    CODE = "DL123"
    NAME = "undefined-method"
    CATEGORY = "bug"
    MESSAGE = "Method called on `self` is defined neither by the class nor by its bases"
    RATIONALE = (
        "Every base of the class is visible (defined in this module, or a builtin class), none "
        "of them and nothing in the module adds this attribute, so the call raises "
        "AttributeError: usually a typo or a method that was renamed. pylint reports it as "
        "no-member; ruff does not resolve attributes. Classes subclassed in the module, mixins "
        "and classes with unknown bases or dynamic attributes are left alone."
    )
    SEVERITY = Severity.ERROR
    CONFIDENCE = 0.85
    VALID = (
        "class A:\n    def run(self):\n        return self.step()\n\n"
        "    def step(self):\n        return 1\n",
        "class A:\n    def __init__(self, f):\n        self.callback = f\n\n"
        "    def run(self):\n        return self.callback()\n",
        "class Base:\n    def helper(self):\n        pass\n\nclass A(Base):\n"
        "    def run(self):\n        self.helper()\n        return self.__repr__()\n",
        "class E(KeyError):\n    def run(self):\n        return self.with_traceback(None)\n",
        # a subclass may supply it (template method), or an unknown base may
        "class Command:\n    def run(self):\n        return self.handle()\n\n"
        "class Hello(Command):\n    def handle(self):\n        return 'hi'\n",
        "class View(generic.View):\n    def get(self):\n        return self.render()\n",
        "class JSONMixin:\n    def dump(self):\n        return self.to_dict()\n",
        # members that come from somewhere the class body does not show
        "class A:\n    def __getattr__(self, name):\n        return name\n\n"
        "    def run(self):\n        return self.anything()\n",
        "class A:\n    def __init__(self, **kw):\n        for k, v in kw.items():\n"
        "            setattr(self, k, v)\n\n    def run(self):\n        return self.hook()\n",
        "class A:\n    def run(self):\n        return self.extra()\n\nA.extra = lambda self: 1\n",
        "@attr.s\nclass A:\n    def run(self):\n        return self.evolve()\n",
        # a class the module never instantiates is a base for other modules' subclasses
        # (pygments' Formatter.format_unencoded, SQLAlchemy's AssertsExecutionResults)
        "class Formatter:\n    def format(self, tokens, out):\n"
        "        return self.format_unencoded(tokens, out)\n",
        # a short name near a longer one is no typo (SQLAlchemy's assert_ beside assert_sql)
        "class Checks:\n    def assert_sql(self, db, stmt):\n        pass\n\n"
        "    def run(self, rows):\n        self.assert_(rows)\n",
        # a metaclass's instances are classes: their members are not the metaclass's
        "class Meta(type):\n    def __setattr__(cls, key, value):\n"
        "        cls._update_proxies(key)\n\nclass A(metaclass=Meta):\n    pass\n",
        # not the instance
        "class A:\n    @staticmethod\n    def run(self):\n        return self.anything()\n\n"
        "    def go(self, other):\n        self = other\n        return self.anything()\n",
    )
    INVALID = (
        Invalid(
            code="class Parser:\n    def parse(self, text):\n        return self.tokenise(text)\n\n"
            "    def tokenize(self, text):\n        return text.split()\n",
            line=3,
        ),
        Invalid(
            code="class Base:\n    def a(self):\n        pass\n\nclass Impl(Base):\n"
            "    async def run(self):\n        def inner():\n            return self.b()\n"
            "        return inner\n\nIMPL = Impl()\n",
            line=8,
        ),
        Invalid(
            code="class Error(ValueError):\n    def describe(self):\n"
            "        return self.message()\n\ndef fail():\n    raise Error('bad')\n",
            line=3,
        ),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts | None = None) -> bool:
        if facts is None:
            calls = nodes.of(ast.Call)
            return any(
                isinstance(c.func, ast.Attribute) and isinstance(c.func.value, ast.Name)
                for c in calls
            )
        return any(_calls_outside_own_members(k, facts) for k in nodes.of(ast.ClassDef))

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute) or not isinstance(func.value, cst.Name):
            return
        context = self.method_context()
        if context is None or context.on_class or func.value.value != context.instance:
            return
        name, attribute = context.class_name, func.attr.value
        line = lineage(self.facts, name)
        if line is None or not line.closed or line.opaque or type in line.builtin_bases:
            return  # unknown bases, dynamic members, or a metaclass (its instances are classes)
        if completed_elsewhere(self.facts, name) or line.has_member(attribute):
            return
        near = [m for m in line.members() if abs(len(m) - len(attribute)) <= 2]
        close = difflib.get_close_matches(attribute, sorted(near), n=1, cutoff=0.85)
        if not close and not stands_alone(self.facts, name):
            return  # a base the module never instantiates: subclasses elsewhere may define it
        hint = f"; did you mean `{close[0]}`?" if close else ""
        self.report(
            node,
            f"`{func.value.value}.{attribute}()`: `{name}` and its bases define no "
            f"`{attribute}`{hint}",
        )
