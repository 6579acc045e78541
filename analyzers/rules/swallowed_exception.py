"""DL103: a broad ``except`` whose body is only ``pass`` hides every failure."""

from __future__ import annotations

import ast

import libcst as cst

from ..models import Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid, Place, Rule

_BROAD = frozenset({"Exception", "BaseException"})


def _is_broad(node: cst.BaseExpression | None) -> bool:
    if node is None:
        return True
    if isinstance(node, cst.Tuple):
        return any(_is_broad(e.value) for e in node.elements)
    if (
        isinstance(node, cst.Attribute)
        and isinstance(node.value, cst.Name)
        and node.value.value == "builtins"
    ):
        node = node.attr
    return isinstance(node, cst.Name) and node.value in _BROAD


def _does_nothing(body: cst.BaseSuite) -> bool:
    if isinstance(body, cst.SimpleStatementSuite):
        small: list[cst.BaseSmallStatement] = list(body.body)
    else:
        small = []
        for line in body.body:
            if not isinstance(line, cst.SimpleStatementLine):
                return False
            small.extend(line.body)
    return all(
        isinstance(s, cst.Pass) or (isinstance(s, cst.Expr) and isinstance(s.value, cst.Ellipsis))
        for s in small
    )


class SwallowedException(Rule):
    CODE = "DL103"
    NAME = "swallowed-exception"
    CATEGORY = "bug"
    MESSAGE = "Broad `except` with an empty body silently swallows every error"
    RATIONALE = (
        "An `except Exception: pass` turns any bug in the try block, typos included, into "
        "silent wrong behaviour that is very hard to trace. Catch the specific exception you "
        "expect, log it, or use contextlib.suppress to make the intent explicit."
    )
    SEVERITY = Severity.WARNING
    CONFIDENCE = 0.9
    VALID = (
        "try:\n    d[k]\nexcept KeyError:\n    pass\n",
        "with contextlib.suppress(Exception):\n    f()\n",
        "try:\n    f()\nexcept Exception as e:\n    log.warning('f failed: %s', e)\n",
        "try:\n    f()\nexcept Exception:\n    pass\n    cleanup()\n",
        "try:\n    import ujson as json\nexcept ImportError:\n    json = None\n",
    )
    INVALID = (
        Invalid(code="try:\n    f()\nexcept Exception:\n    pass\n", line=3),
        Invalid(
            code=(
                "class C:\n    async def m(self):\n        try:\n            await f()\n"
                "        except:  # best effort\n            ...\n"
            ),
            line=5,
        ),
        Invalid(
            code="for x in xs:\n    try: f(x)\n    except (ValueError, BaseException) as e: pass\n",
            line=3,
        ),
        Invalid(
            code=(
                "try:\n    f()\nexcept KeyError:\n    pass\nexcept builtins.Exception:\n"
                "    # nothing to do\n    pass\n"
            ),
            line=5,
        ),
        Invalid(code="try:\n    f()\nexcept* Exception:\n    pass\n", line=3),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        handlers = nodes.of(ast.ExceptHandler)
        return any(all(isinstance(s, ast.Pass | ast.Expr) for s in h.body) for h in handlers)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        self._check(node, node.type)

    def visit_ExceptStarHandler(self, node: cst.ExceptStarHandler) -> None:
        self._check(node, node.type)

    def _check(
        self, node: cst.ExceptHandler | cst.ExceptStarHandler, kind: cst.BaseExpression | None
    ) -> None:
        if not _is_broad(kind) or not _does_nothing(node.body):
            return
        last: cst.CSTNode | None = node.name.name if node.name else kind
        place = Place(node, end=last) if last is not None else Place(node, length=len("except"))
        self.report(node, place=place)
