"""DL109: raising a new exception in an ``except`` block without ``from`` hides the cause."""

from __future__ import annotations

import ast

import libcst as cst

from ..models import FixSafety, Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid, Rule

_Handler = cst.ExceptHandler | cst.ExceptStarHandler


def _root(node: cst.BaseExpression) -> cst.BaseExpression:
    """``err`` for ``err``, ``err.with_traceback(tb)`` and similar re-raises."""
    while isinstance(node, cst.Attribute | cst.Call | cst.Subscript):
        node = node.value if isinstance(node, cst.Attribute | cst.Subscript) else node.func
    return node


class RaiseWithoutFrom(Rule):
    CODE = "DL109"
    NAME = "raise-without-from"
    CATEGORY = "design"
    MESSAGE = "Exception raised in `except` without `from`; the original cause is obscured"
    RATIONALE = (
        "Without `from`, the traceback presents the new exception as a second failure that "
        "happened while handling the first, not as its consequence. `raise ... from err` "
        "records the cause explicitly, and `from None` states that it is deliberately hidden."
    )
    SEVERITY = Severity.WARNING
    FIX_SAFETY = FixSafety.UNSAFE
    FIX_TITLE = "Chain the exception with `from`"
    CONFIDENCE = 0.9
    VALID = (
        "try:\n    f()\nexcept KeyError as err:\n    raise LookupError(k) from err\n",
        "try:\n    f()\nexcept KeyError:\n    raise\n",
        "try:\n    f()\nexcept KeyError as err:\n    log(err)\n    raise err\n",
        "try:\n    f()\nexcept KeyError as err:\n    raise ValueError() from None\n",
        "try:\n    f()\nexcept KeyError as err:\n    def g():\n        raise ValueError()\n"
        "    handlers.append(g)\n",
        "try:\n    f()\nexcept OSError as err:\n    raise err.with_traceback(tb)\n",
        "def f():\n    raise ValueError('not in a handler')\n",
    )
    INVALID = (
        Invalid(
            code="try:\n    f()\nexcept KeyError as err:\n    raise LookupError('missing')\n",
            fixed=(
                "try:\n    f()\nexcept KeyError as err:\n"
                "    raise LookupError('missing') from err\n"
            ),
            line=4,
        ),
        Invalid(
            code=(
                "class C:\n    async def m(self):\n        try:\n            await f()\n"
                "        except (OSError, ValueError) as exc:\n            if retry:\n"
                "                raise RetryError(\n                    'again'\n"
                "                )  # retry\n"
            ),
            fixed=(
                "class C:\n    async def m(self):\n        try:\n            await f()\n"
                "        except (OSError, ValueError) as exc:\n            if retry:\n"
                "                raise RetryError(\n                    'again'\n"
                "                ) from exc  # retry\n"
            ),
            line=7,
        ),
        Invalid(
            code=(
                "try:\n    f()\nexcept KeyError as outer:\n    try:\n        g()\n"
                "    except ValueError as inner:\n        raise errors.Bad; cleanup()\n"
            ),
            fixed=(
                "try:\n    f()\nexcept KeyError as outer:\n    try:\n        g()\n"
                "    except ValueError as inner:\n        raise errors.Bad from inner; cleanup()\n"
            ),
            line=7,
        ),
        Invalid(code="try:\n    f()\nexcept KeyError:\n    raise ValueError('bad key')\n", line=4),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        return any(
            isinstance(n, ast.Raise) and n.exc is not None and n.cause is None
            for h in nodes.of(ast.ExceptHandler)
            for s in h.body
            for n in ast.walk(s)
        )

    def __init__(self) -> None:
        super().__init__()
        # The innermost handler's bound name ("" when it has none); None marks a new scope.
        self._handlers: list[str | None] = []

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        self._enter(node)

    def leave_ExceptHandler(self, original_node: cst.ExceptHandler) -> None:
        self._handlers.pop()

    def visit_ExceptStarHandler(self, node: cst.ExceptStarHandler) -> None:
        self._enter(node)

    def leave_ExceptStarHandler(self, original_node: cst.ExceptStarHandler) -> None:
        self._handlers.pop()

    def _enter(self, node: _Handler) -> None:
        name = node.name.name if node.name is not None else None
        self._handlers.append(name.value if isinstance(name, cst.Name) else "")

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._handlers.append(None)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._handlers.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._handlers.append(None)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._handlers.pop()

    def visit_Raise(self, node: cst.Raise) -> None:
        if not self._handlers or self._handlers[-1] is None:
            return
        if node.exc is None or node.cause is not None:
            return
        bound = {name for name in self._handlers if name}
        root = _root(node.exc)
        if isinstance(root, cst.Name) and root.value in bound:
            return  # re-raising a caught exception keeps its traceback
        name = self._handlers[-1]
        fixed = node.with_changes(cause=cst.From(item=cst.Name(name))) if name else None
        self.report(node, replacement=fixed)
