"""DL105: a file opened outside ``with`` stays open if anything raises before ``close()``."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from ..models import Severity
from ..rule import Invalid, Rule

_BUILTIN_KEYWORDS = frozenset(
    {"file", "mode", "buffering", "encoding", "errors", "newline", "closefd", "opener"}
)
_OS_FLAG = m.Name(m.MatchIfTrue(lambda v: v.startswith("O_")))  # `open(p, O_RDONLY)`: os.open
_OPEN = m.Call(func=m.Name("open"))
_Scope = cst.Module | cst.FunctionDef
# Calls that take over a file passed to them: it is closed with the stack, list or wrapper.
_KEEPERS = m.Call(
    func=m.Attribute(attr=m.OneOf(*map(m.Name, ("enter_context", "callback", "append", "add"))))
    | m.Name("closing")
)
_STORED = m.AssignTarget(target=m.Attribute() | m.Subscript())
_HOLDERS = (
    m.Return()
    | m.Yield()
    | m.WithItem()
    | m.Finally()
    | _KEEPERS
    | m.Assign(targets=[m.ZeroOrMore(), _STORED, m.ZeroOrMore()])
)


def _is_builtin_open(call: cst.Call) -> bool:
    """Other ``open`` functions (``os.open`` star-imported, ``tarfile.open``) differ in args."""
    keywords = {a.keyword.value for a in call.args if a.keyword is not None}
    return keywords <= _BUILTIN_KEYWORDS and not any(
        m.findall(a.value, _OS_FLAG) for a in call.args
    )


def _handed_on(scope: cst.CSTNode, name: str) -> bool:
    """``f = open(p)`` is fine when a ``finally`` closes ``f``, or an owner takes it over."""
    ref = m.Name(name)
    return any(m.findall(holder, ref) for holder in m.findall(scope, _HOLDERS))


def _parts(value: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The expressions whose value ``value`` may be: ``a, b`` and ``a if c else b``."""
    if isinstance(value, cst.Tuple):
        return [p for e in value.elements for p in _parts(e.value)]
    if isinstance(value, cst.IfExp):
        return [*_parts(value.body), *_parts(value.orelse)]
    return [value]


class OpenWithoutWith(Rule):
    CODE = "DL105"
    NAME = "open-without-with"
    CATEGORY = "bug"
    MESSAGE = "File opened without `with`; it leaks if an exception is raised"
    RATIONALE = (
        "A file object that is not closed in a `with` block stays open until the garbage "
        "collector finds it, or forever if an exception skips close(). Leaked handles exhaust "
        "descriptors, keep writes unflushed and lock files on Windows."
    )
    SEVERITY = Severity.WARNING
    CONFIDENCE = 0.9
    VALID = (
        "with open(p) as f:\n    data = f.read()\n",
        "async def f(a, b):\n    with open(a) as f, open(b) as g:\n        return f.read()\n",
        "def f(p):\n    return open(p, 'rb')\n",
        "class C:\n    def __init__(self, p):\n        self.f = open(p)\n",
        "fd = os.open(p, os.O_RDONLY)\nimg = Image.open(p)\n",
        "with ExitStack() as stack:\n    f = stack.enter_context(open(p))\n",
        "def f(p):\n    h = open(p)\n    try:\n        return h.read()\n    finally:\n"
        "        h.close()\n",
        "def f(p):\n    try:\n        h = open(p, 'rb')\n    except OSError:\n"
        "        raise KeyError(p)\n    return Proxy(h)\n",
        "def f(name):\n    return name, open(name)\n",
    )
    INVALID = (
        Invalid(code="f = open(p)\ndata = f.read()\n"),
        Invalid(code="def load(p):\n    return json.load(open(p))  # quick\n", line=2),
        Invalid(
            code="class C:\n    async def m(self, p):\n        return open(p).read()\n", line=3
        ),
        Invalid(code="for line in open(p):\n    print(line)\n"),
        Invalid(
            code="def f(p):\n    with lock:\n        h = open(p, 'w')\n        h.write(s)\n",
            line=3,
        ),
    )

    def __init__(self) -> None:
        super().__init__()
        self._owned: set[int] = set()  # ids of expressions whose value is managed or handed on
        self._scopes: list[_Scope] = []

    def visit_Module(self, node: cst.Module) -> None:
        self._scopes.append(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._scopes.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._scopes.pop()

    def _own(self, value: cst.BaseExpression | None) -> None:
        if value is not None:
            self._owned.update(id(p) for p in _parts(value))

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._own(node.body)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        self._own(node.item)

    def visit_Return(self, node: cst.Return) -> None:
        self._own(node.value)

    def visit_Yield(self, node: cst.Yield) -> None:
        if not isinstance(node.value, cst.From):
            self._own(node.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        self._assigned(node.value, [t.target for t in node.targets])

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._assigned(node.value, [node.target])

    def _assigned(self, value: cst.BaseExpression, targets: list[cst.BaseExpression]) -> None:
        # Stored on an object or in a container: a long-lived resource, closed elsewhere.
        if any(isinstance(t, cst.Attribute | cst.Subscript) for t in targets):
            self._own(value)
        names = [t.value for t in targets if isinstance(t, cst.Name)]
        if m.matches(value, _OPEN) and any(_handed_on(self._scopes[-1], n) for n in names):
            self._own(value)

    def visit_Call(self, node: cst.Call) -> None:
        if m.matches(node, _KEEPERS):
            self._owned.update(id(a.value) for a in node.args)
        elif m.matches(node, _OPEN) and id(node) not in self._owned and _is_builtin_open(node):
            self.report(node)
