"""DL110: an ``else`` or ``elif`` after a branch that always returns or raises only adds nesting.

ruff's RET505/RET506 flag both; an ``elif`` after a return is as redundant as the ``else``.
"""

from __future__ import annotations

import ast

import libcst as cst

from ..models import FixSafety, Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid, Place, Rule


def _exits(suite: cst.BaseSuite) -> bool:
    """Whether the suite's last statement is a ``return`` or ``raise``."""
    if isinstance(suite, cst.SimpleStatementSuite):
        small = suite.body
    else:
        last = suite.body[-1] if suite.body else None
        if not isinstance(last, cst.SimpleStatementLine):
            return False
        small = last.body
    return bool(small) and isinstance(small[-1], cst.Return | cst.Raise)


def _final_else(node: cst.If) -> cst.Else | None:
    """The chain's ``else`` when every ``if``/``elif`` branch ends in return or raise."""
    while True:
        if not _exits(node.body):
            return None
        if isinstance(node.orelse, cst.If):
            node = node.orelse
            continue
        return node.orelse


def _without_else(node: cst.If) -> cst.If:
    if isinstance(node.orelse, cst.If):
        return node.with_changes(orelse=_without_else(node.orelse))
    return node.with_changes(orelse=None)


def _dedented(orelse: cst.Else) -> list[cst.BaseStatement]:
    """The else body as statements of the enclosing block, its comments kept above it."""
    body = orelse.body
    lines = list(orelse.leading_lines)
    if isinstance(body, cst.SimpleStatementSuite):
        stmts: list[cst.BaseStatement] = [
            cst.SimpleStatementLine(body=body.body, trailing_whitespace=body.trailing_whitespace)
        ]
    else:
        stmts = list(body.body)
        if body.header.comment is not None:
            lines.append(cst.EmptyLine(comment=body.header.comment))
    first = stmts[0]
    stmts[0] = first.with_changes(leading_lines=[*lines, *first.leading_lines])
    return stmts


def _footer(orelse: cst.Else) -> list[cst.EmptyLine]:
    body = orelse.body
    return list(body.footer) if isinstance(body, cst.IndentedBlock) else []


class RedundantElseAfterReturn(Rule):
    CODE = "DL110"
    NAME = "redundant-else-after-return"
    CATEGORY = "maintainability"
    MESSAGE = "Unnecessary else: every branch above it ends in return or raise"
    RATIONALE = (
        "When the if branch always leaves the function, the else body runs exactly when the "
        "condition is false anyway. Dedenting it keeps the main path flat and makes the early "
        "exit obvious to the reader."
    )
    PEDANTIC = (
        "143 findings in 101k lines of ten popular projects, none a bug: deliberate symmetric"
        " if/else returns (benchmarks/real_code.py)."
    )
    SEVERITY = Severity.INFO
    FIX_SAFETY = FixSafety.SAFE
    FIX_TITLE = "Remove the else and dedent its body"
    VALID = (
        "def f(x):\n    if x:\n        y = 1\n    else:\n        y = 2\n    return y\n",
        "def f(x):\n    if x:\n        y = 1\n    elif x is None:\n        return 0\n"
        "    else:\n        return 2\n    return y\n",
        "def f(x):\n    if x:\n        return 1\n    y = 2\n    return y\n",
        "def f(x):\n    for i in x:\n        if i:\n            print(i)\n        else:\n"
        "            break\n",
    )
    INVALID = (
        Invalid(
            code="def f(x):\n    if x:\n        return 1\n    else:\n        y = 2\n"
            "        return y\n",
            fixed="def f(x):\n    if x:\n        return 1\n    y = 2\n    return y\n",
            line=4,
        ),
        Invalid(
            code=(
                "class C:\n    async def m(self, x):\n        if x > 1:\n"
                "            raise ValueError(x)\n"
                "        # otherwise\n        else:  # small\n            # zero\n"
                "            await self.g()\n            return 0\n"
            ),
            fixed=(
                "class C:\n    async def m(self, x):\n        if x > 1:\n"
                "            raise ValueError(x)\n"
                "        # otherwise\n        # small\n        # zero\n"
                "        await self.g()\n        return 0\n"
            ),
            line=6,
        ),
        Invalid(  # ruff's RET505 flags the elif chain too
            code=(
                "def f(x):\n    if x > 1:\n        raise ValueError(x)\n"
                "    # small ones\n    elif x:\n        return 1\n    else:\n        return 0\n"
            ),
            fixed=(
                "def f(x):\n    if x > 1:\n        raise ValueError(x)\n"
                "    # small ones\n    if x:\n        return 1\n    else:\n        return 0\n"
            ),
            line=5,
        ),
        Invalid(
            code="def f(x):\n    if x: return 1\n    else: return 2  # two\n",
            fixed="def f(x):\n    if x: return 1\n    return 2  # two\n",
            line=3,
        ),
        Invalid(
            code=(
                "def f(x):\n    if x:\n        return 1\n    else:\n        y = 2\n"
                "        # about y\n    return y\n"
            ),
            fixed="def f(x):\n    if x:\n        return 1\n    y = 2\n    # about y\n    return y\n",
            line=4,
        ),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        return any(
            node.orelse and isinstance(node.body[-1], ast.Return | ast.Raise)
            for node in nodes.of(ast.If)
        )

    def _check_block(self, block: cst.Module | cst.IndentedBlock) -> None:
        # Walking blocks (not every If) skips elif links and hands us the parent for footers.
        for i, stmt in enumerate(block.body):
            if not isinstance(stmt, cst.If):
                continue
            if _exits(stmt.body) and isinstance(stmt.orelse, cst.If):
                self._elif(stmt, stmt.orelse)
                continue
            orelse = _final_else(stmt)
            if orelse is None:
                continue
            keyword = Place(orelse, length=len("else"))
            replacement = cst.FlattenSentinel([_without_else(stmt), *_dedented(orelse)])
            footer = _footer(orelse)
            if not footer:
                self.report(orelse, replacement=replacement, replaces=stmt, place=keyword)
                continue
            # Comments trailing the else body move to the statement after it (or the footer).
            rest = list(block.body[i + 1 :])
            new_footer = list(block.footer)
            if rest:
                rest[0] = rest[0].with_changes(leading_lines=[*footer, *rest[0].leading_lines])
            else:
                new_footer = [*footer, *new_footer]
            new_block = block.with_changes(
                body=[*block.body[:i], *replacement.nodes, *rest], footer=new_footer
            )
            self.report(orelse, replacement=new_block, replaces=block, place=keyword)

    def _elif(self, stmt: cst.If, link: cst.If) -> None:
        """``elif`` after an exit becomes ``if``: the chain splits in two statements."""
        replacement = cst.FlattenSentinel([stmt.with_changes(orelse=None), link])
        message = "Unnecessary elif: the branch above it ends in return or raise"
        place = Place(link, length=len("elif"))
        self.report(
            link,
            message,
            replacement=replacement,
            replaces=stmt,
            place=place,
            fix_title="Turn the elif into an if",
        )

    visit_Module = visit_IndentedBlock = _check_block
