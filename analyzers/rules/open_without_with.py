"""DL105: a file opened outside ``with`` stays open if anything raises before ``close()``."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from ..models import Severity
from ..rule import Invalid, Rule

_OPEN = m.Call(func=m.Name("open"))
# Calls that take ownership of a context manager passed to them.
_MANAGERS = m.Call(func=m.Attribute(attr=m.Name("enter_context")) | m.Name("closing"))
_Scope = cst.Module | cst.FunctionDef


def _closed_later(scope: cst.CSTNode, name: str) -> bool:
    """``f = open(p)`` is fine when ``f`` is closed in a ``finally`` or entered with ``with``."""
    close = m.Call(func=m.Attribute(value=m.Name(name), attr=m.Name("close")))
    for final in m.findall(scope, m.Finally()):
        if m.findall(final, close):
            return True
    return bool(m.findall(scope, m.WithItem(item=m.Name(name))))


class OpenWithoutWith(Rule):
    CODE = "DL105"
    NAME = "open-without-with"
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

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._owned.add(id(node.body))

    def visit_WithItem(self, node: cst.WithItem) -> None:
        self._owned.add(id(node.item))

    def visit_Return(self, node: cst.Return) -> None:
        if node.value is not None:
            self._owned.add(id(node.value))

    def visit_Yield(self, node: cst.Yield) -> None:
        if isinstance(node.value, cst.BaseExpression):
            self._owned.add(id(node.value))

    def visit_Assign(self, node: cst.Assign) -> None:
        self._assigned(node.value, [t.target for t in node.targets])

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._assigned(node.value, [node.target])

    def _assigned(self, value: cst.BaseExpression, targets: list[cst.BaseExpression]) -> None:
        # Stored on an object or in a container: a long-lived resource, closed elsewhere.
        stored = all(isinstance(t, cst.Attribute | cst.Subscript) for t in targets)
        name = targets[0] if len(targets) == 1 else None
        closed = (
            isinstance(name, cst.Name)
            and m.matches(value, _OPEN)
            and _closed_later(self._scopes[-1], name.value)
        )
        if stored or closed:
            self._owned.add(id(value))

    def visit_Call(self, node: cst.Call) -> None:
        if m.matches(node, _MANAGERS):
            self._owned.update(id(a.value) for a in node.args)
        elif m.matches(node, _OPEN) and id(node) not in self._owned:
            self.report(node)
