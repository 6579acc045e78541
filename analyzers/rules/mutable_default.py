"""DL101: a mutable default argument is shared between calls."""

from __future__ import annotations

import ast

import libcst as cst

from ..models import FixSafety, Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid, Place, Rule

_MUTABLE_CALLS = frozenset(
    {"list", "dict", "set", "bytearray", "defaultdict", "deque", "OrderedDict", "Counter"}
    | {"ChainMap", "UserDict", "UserList", "WeakSet", "WeakKeyDictionary", "WeakValueDictionary"}
    | {"Queue", "SimpleQueue", "LifoQueue", "PriorityQueue", "array"}
)


def _is_mutable(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.List | cst.Dict | cst.Set | cst.ListComp | cst.DictComp | cst.SetComp):
        return True
    if isinstance(node, cst.Call):
        func = node.func
        name = func.value if isinstance(func, cst.Name) else None
        if isinstance(func, cst.Attribute):
            name = func.attr.value
        return name in _MUTABLE_CALLS
    return False


def _may_be_mutable(default: ast.expr | None) -> bool:
    if isinstance(default, ast.Call):
        func = default.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        return name in _MUTABLE_CALLS
    return isinstance(
        default, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp | ast.SetComp
    )


def _has_docstring(body: cst.BaseSuite) -> bool:
    if not isinstance(body, cst.IndentedBlock) or not body.body:
        return False
    first = body.body[0]
    return (
        isinstance(first, cst.SimpleStatementLine)
        and len(first.body) == 1
        and isinstance(first.body[0], cst.Expr)
        and isinstance(first.body[0].value, cst.SimpleString | cst.ConcatenatedString)
    )


class MutableDefaultArgument(Rule):
    CODE = "DL101"
    NAME = "mutable-default-argument"
    CATEGORY = "bug"
    MESSAGE = "Mutable default argument is created once and shared by every call"
    RATIONALE = (
        "Default values are evaluated once, when the function is defined. A list, dict or set "
        "default that the function mutates leaks state from one call into the next."
    )
    SEVERITY = Severity.WARNING
    FIX_SAFETY = FixSafety.UNSAFE
    FIX_TITLE = "Default to None and create the value inside the function"
    VALID = (
        "def f(x=None):\n    return x or []\n",
        "def f(x=()):\n    return x\n",
        "def f(x=frozenset()):\n    return x\n",
        "lambda x=1: x\n",
    )
    INVALID = (
        Invalid(
            code="def f(items=[]):\n    items.append(1)\n    return items\n",
            fixed=(
                "def f(items=None):\n    if items is None:\n        items = []\n"
                "    items.append(1)\n    return items\n"
            ),
        ),
        Invalid(
            code='def f(a, *, cache={}):\n    """Doc."""\n    return cache\n',
            fixed=(
                'def f(a, *, cache=None):\n    """Doc."""\n    if cache is None:\n'
                "        cache = {}\n    return cache\n"
            ),
        ),
        Invalid(
            code="class C:\n    def m(self, seen=set()):\n        return seen\n",
            fixed=(
                "class C:\n    def m(self, seen=None):\n        if seen is None:\n"
                "            seen = set()\n        return seen\n"
            ),
            line=2,
        ),
        Invalid(code="def f(x=[]): return x\n", fixed=None),
        Invalid(
            code="def count(words, seen=collections.Counter()):\n    seen.update(words)\n",
            fixed=(
                "def count(words, seen=None):\n    if seen is None:\n"
                "        seen = collections.Counter()\n    seen.update(words)\n"
            ),
        ),
        Invalid(code="def f(env=ChainMap(), q=queue.Queue()): pass\n", fixed=None),
        Invalid(code="def f(refs=weakref.WeakValueDictionary()): pass\n", fixed=None),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        return any(
            _may_be_mutable(default)
            for kind in (ast.FunctionDef, ast.AsyncFunctionDef)
            for node in nodes.of(kind)
            for default in (*node.args.defaults, *node.args.kw_defaults)
        )

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        params = [*node.params.posonly_params, *node.params.params, *node.params.kwonly_params]
        mutable = [p for p in params if p.default is not None and _is_mutable(p.default)]
        if not mutable:
            return
        fix = _guarded(node, mutable) if isinstance(node.body, cst.IndentedBlock) else None
        for i, param in enumerate(mutable):
            # One fix repairs every mutable default of the function; it rides on the first report.
            self.report(
                param,
                replacement=fix if i == 0 else None,
                replaces=node,
                # libcst's range for a Param is its name alone; the finding covers name=default.
                place=Place(param.name, end=param.default),
            )


def _guarded(node: cst.FunctionDef, mutable: list[cst.Param]) -> cst.FunctionDef:
    """The function with each mutable default set to None and created in the body instead."""
    targets = {id(p) for p in mutable}
    empty = cst.Module([])

    def swap(params: tuple[cst.Param, ...]) -> tuple[cst.Param, ...]:
        return tuple(
            p.with_changes(default=cst.Name("None")) if id(p) in targets else p for p in params
        )

    guards = [
        cst.parse_statement(
            f"if {p.name.value} is None:\n    {p.name.value} = {empty.code_for_node(p.default)}\n"  # type: ignore[arg-type]
        )
        for p in mutable
    ]
    body = node.body
    assert isinstance(body, cst.IndentedBlock)
    at = 1 if _has_docstring(body) else 0
    new_body = body.with_changes(body=[*body.body[:at], *guards, *body.body[at:]])
    new_params = node.params.with_changes(
        params=swap(node.params.params),
        kwonly_params=swap(node.params.kwonly_params),
        posonly_params=swap(node.params.posonly_params),
    )
    return node.with_changes(params=new_params, body=new_body)
