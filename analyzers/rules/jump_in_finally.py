"""DL107: ``return``/``break``/``continue`` in ``finally`` discards the exception in flight."""

from __future__ import annotations

import ast
from typing import Literal

import libcst as cst

from ..models import Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid, Rule

_Frame = Literal["finally", "loop", "scope"]


class JumpInFinally(Rule):
    CODE = "DL107"
    NAME = "jump-in-finally"
    CATEGORY = "bug"
    MESSAGE = "`return`/`break`/`continue` in `finally` discards the exception in flight"
    RATIONALE = (
        "Leaving a finally block with return, break or continue cancels the exception that was "
        "propagating, so errors vanish without a trace (PEP 765 makes it a SyntaxWarning). "
        "Move the jump after the try statement, or handle the exception explicitly."
    )
    SEVERITY = Severity.WARNING
    VALID = (
        "def f():\n    try:\n        return g()\n    finally:\n        cleanup()\n",
        "def f():\n    try:\n        g()\n    finally:\n        for x in xs:\n"
        "            if x:\n                break\n            continue\n",
        "def f():\n    try:\n        g()\n    finally:\n        def cb():\n"
        "            return 1\n        register(cb)\n",
        "for x in xs:\n    try:\n        g()\n    finally:\n        h()\n    continue\n",
        "def f():\n    try:\n        g()\n    finally:\n        register(lambda: 1)\n"
        "        class C:\n            def m(self):\n                return 2\n",
    )
    INVALID = (
        Invalid(
            code="def f():\n    try:\n        g()\n    finally:\n        return 1  # done\n",
            line=5,
        ),
        Invalid(
            code=(
                "class C:\n    async def m(self):\n        try:\n            await g()\n"
                "        finally:\n            if self.closed:\n                return\n"
            ),
            line=7,
        ),
        Invalid(
            code="for x in xs:\n    try:\n        g(x)\n    finally:\n        continue\n",
            line=5,
        ),
        Invalid(
            code=(
                "while True:\n    try:\n        g()\n    finally:\n        for y in ys:\n"
                "            pass\n        else:\n            break\n"
            ),
            line=8,
        ),
        Invalid(
            code=(
                "def f():\n    try:\n        g()\n    finally:\n        for y in ys:\n"
                "            return y\n"
            ),
            line=6,
        ),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        jumps = (ast.Return, ast.Break, ast.Continue)
        tries = (*nodes.of(ast.Try), *nodes.of(ast.TryStar))
        return any(isinstance(n, jumps) for t in tries for s in t.finalbody for n in ast.walk(s))

    def __init__(self) -> None:
        super().__init__()
        self._frames: list[_Frame] = []

    def _enter_finally(self, node: cst.Finally) -> None:
        self._frames.append("finally")

    def _enter_loop(self, node: cst.For | cst.While) -> None:
        self._frames.append("loop")

    def _enter_scope(self, node: cst.FunctionDef | cst.ClassDef) -> None:
        self._frames.append("scope")

    def _leave(self, original_node: cst.CSTNode) -> None:
        self._frames.pop()

    visit_Finally = _enter_finally
    # A loop's body owns break/continue; its `else:` clause does not.
    visit_For_body = visit_While_body = _enter_loop
    visit_FunctionDef = visit_ClassDef = _enter_scope
    leave_Finally = leave_For_body = leave_While_body = leave_FunctionDef = leave_ClassDef = _leave

    def visit_Return(self, node: cst.Return) -> None:
        self._check(node, "return", stops=("scope",))

    def visit_Break(self, node: cst.Break) -> None:
        self._check(node, "break", stops=("scope", "loop"))

    def visit_Continue(self, node: cst.Continue) -> None:
        self._check(node, "continue", stops=("scope", "loop"))

    def _check(self, node: cst.CSTNode, keyword: str, stops: tuple[_Frame, ...]) -> None:
        for frame in reversed(self._frames):
            if frame in stops:
                return
            if frame == "finally":
                self.report(node, f"`{keyword}` in `finally` discards the exception in flight")
                return
