"""DL115: binding a name like ``list`` or ``id`` hides the builtin for the rest of the scope."""

from __future__ import annotations

import ast
import builtins

import libcst as cst

from ..models import FixSafety, Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid, Rule

# Builtins that code calls often enough for a local of the same name to break it (not `help`,
# `copyright` and the like, which only matter at the interactive prompt).
_CURATED = (
    "abs all any bin bool bytearray bytes callable chr compile dict dir divmod enumerate eval "
    "exec filter float format frozenset getattr globals hasattr hash id input int "
    "isinstance issubclass iter len list locals map max min next object open ord pow print "
    "property range repr reversed round set setattr slice sorted str sum super tuple type vars zip"
)
_RISKY = frozenset(name for name in _CURATED.split() if hasattr(builtins, name))


def _names(target: cst.BaseExpression) -> list[cst.Name]:
    """The plain names bound by an assignment target (attributes and subscripts bind none)."""
    if isinstance(target, cst.Name):
        return [target]
    if isinstance(target, cst.Tuple | cst.List):
        return [n for e in target.elements for n in _names(e.value)]
    if isinstance(target, cst.StarredElement):
        return _names(target.value)
    return []


class ShadowedBuiltin(Rule):
    CODE = "DL115"
    NAME = "shadowed-builtin"
    CATEGORY = "design"
    MESSAGE = "Name shadows a Python builtin"
    RATIONALE = (
        "After `list = ...` or `def f(id):` the builtin is unreachable by that name in the "
        "scope, so a later `list(x)` or `id(obj)` calls the wrong object and fails far from the "
        "cause. A different name avoids the trap and keeps the code readable."
    )
    PEDANTIC = (
        "100 findings on real code, none a bug: public parameters named `type` or `id` that"
        " cannot be renamed; attrs and others ignore ruff's A001-A003 for this reason."
    )
    SEVERITY = Severity.WARNING
    FIX_SAFETY = FixSafety.SUGGESTION
    CONFIDENCE = 0.8
    VALID = (
        "class Item:\n    id: int = 0\n    type = 'x'\n\n    def filter(self, input_=None):\n"
        "        self.id = 1\n        return self.id\n",
        "items = dict(list=1)\nf(type=2)\n",
        "for _ in range(3):\n    pass\n__doc__ = 'x'\nfile = open('p')\n",
        "from os import path as os_path\nimport json\n",
        "def f(help=None, copyright=0):\n    squares = [list for list in range(3)]\n",
        # compatibility aliases keep the builtin under its own name
        "str = str\nmap = map\n",
        "try:\n    from future_builtins import map\nexcept ImportError:\n    map = map\n",
        # a lambda's parameters live for one expression; toolz's signature tables use them as data
        "sigs = {'int': [lambda x: None, lambda x, base=10: None], 'abs': lambda int: None}\n",
        "f = lambda str: str\n",
    )
    INVALID = (
        Invalid(code="list = [1, 2]\n"),
        Invalid(code="def f(a, /, id, *, type=None):\n    return id\n"),
        Invalid(
            code="class C:\n    async def m(self, rows):\n        for i, (max, *sum) in rows:\n"
            "            pass\n",
            line=3,
        ),
        Invalid(code="with open(p) as input:\n    pass\n"),
        Invalid(code="from itertools import chain as iter\n"),
        Invalid(code="def outer():\n    def hash(x):\n        return 0\n", line=2),
        Invalid(code="def f(rows):\n    for id in rows:\n        id = id.strip()\n", line=2),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        bound = [n.id for n in nodes.of(ast.Name) if isinstance(n.ctx, ast.Store)]
        bound += [a.arg for a in nodes.of(ast.arg)]
        bound += [h.name for h in nodes.of(ast.ExceptHandler) if h.name]
        bound += [a.asname for a in nodes.of(ast.alias) if a.asname]
        for kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
            bound += [d.name for d in nodes.of(kind)]
        return not _RISKY.isdisjoint(bound)

    def __init__(self) -> None:
        super().__init__()
        # Per scope: whether it is a class body (its names are attributes) and names reported.
        self._scopes: list[tuple[bool, set[str]]] = [(False, set())]
        self._lambdas = 0

    def _check(self, names: list[cst.Name]) -> None:
        in_class, reported = self._scopes[-1]
        for name in names:
            if name.value in _RISKY and not in_class and name.value not in reported:
                reported.add(name.value)  # the first binding in a scope is enough to fix
                self.report(name, f"`{name.value}` shadows the builtin `{name.value}`")

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._check([node.name])
        self._scopes.append((True, set()))

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._scopes.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._check([node.name])
        self._scopes.append((False, set()))

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._scopes.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._lambdas += 1

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self._lambdas -= 1

    @property
    def _in_lambda(self) -> bool:
        return self._lambdas > 0

    def visit_Param(self, node: cst.Param) -> None:
        if not self._in_lambda:
            self._check([node.name])

    def visit_Assign(self, node: cst.Assign) -> None:
        value = node.value
        for target in node.targets:
            names = _names(target.target)
            if not (isinstance(value, cst.Name) and [n.value for n in names] == [value.value]):
                self._check(names)  # `str = str` is an alias that keeps the builtin

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._check(_names(node.target))

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._check(_names(node.target))

    def visit_For(self, node: cst.For) -> None:
        self._check(_names(node.target))

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._check(_names(node.asname.name))

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._check(_names(node.name.name))

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        if node.asname is not None:
            self._check(_names(node.asname.name))
