"""DL127: calling an ``async def`` of the module as a statement, without ``await``.

Nearest ruff rule: none stable (RUF006 is about ``asyncio.create_task`` results, ASYNC105 about
trio's functions). pylint: none. mypy's ``unused-coroutine`` and pyright's
``reportUnusedCoroutine`` report it with types.
"""

from __future__ import annotations

import ast

import libcst as cst

from ..call_precheck import may_call_into
from ..callee import callee
from ..class_lookup import completed_elsewhere
from ..cst_scope import ScopedRule
from ..models import Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid


class UnawaitedCoroutine(ScopedRule):
    CODE = "DL127"
    NAME = "unawaited-coroutine"
    CATEGORY = "bug"
    MESSAGE = "Coroutine function called without `await`: the call does nothing"
    RATIONALE = (
        "Calling an `async def` function only creates a coroutine object; its body runs when "
        "the coroutine is awaited or scheduled. As a bare statement the coroutine is dropped, "
        "the work silently never happens, and Python warns 'coroutine ... was never awaited' "
        "at garbage collection. Add `await`, or schedule it (`asyncio.create_task`)."
    )
    SEVERITY = Severity.ERROR
    CONFIDENCE = 0.95
    VALID = (
        "async def fetch(url):\n    pass\n\nasync def main():\n    await fetch('a')\n"
        "    task = fetch('b')\n    await task\n    asyncio.run(fetch('c'))\n",
        "def fetch(url):\n    pass\n\nasync def main():\n    fetch('a')\n",
        # decorated or shadowed: may not be a coroutine function any more
        "@sync\nasync def fetch(url):\n    pass\n\ndef main():\n    fetch('a')\n",
        "async def fetch(url):\n    pass\n\ndef main(fetch):\n    fetch('a')\n",
        "class C:\n    async def close(self):\n        pass\n\nclass D(C):\n    def close(self):\n"
        "        pass\n\n    def run(self):\n        self.close()\n",
    )
    INVALID = (
        Invalid(
            code="async def notify(user):\n    pass\n\nasync def main(user):\n    notify(user)\n",
            line=5,
        ),
        Invalid(
            code="class Client:\n    async def close(self):\n        pass\n\n"
            "    def __del__(self):\n        self.close()\n",
            line=6,
        ),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts | None = None) -> bool:
        if not any(isinstance(e.value, ast.Call) for e in nodes.of(ast.Expr)):
            return False
        return may_call_into(nodes, facts, lambda signature: signature.is_async)

    def visit_Expr(self, node: cst.Expr) -> None:
        call = node.value
        if not isinstance(call, cst.Call):
            return
        target = callee(self, call.func)
        if target is None or target.signature is None or not target.signature.is_async:
            return
        if target.line is not None and completed_elsewhere(self.facts, target.line.name):
            return  # a subclass may override it with a plain method
        self.report(
            call,
            f"`{target.name}()` is a coroutine function: without `await` the call does nothing",
        )
