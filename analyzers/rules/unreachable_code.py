"""DL108: code after ``return``/``raise``/``continue``/``break`` in the same block never runs."""

from __future__ import annotations

import ast

import libcst as cst

from ..models import FixSafety, Severity
from ..module_facts import AstIndex, ModuleFacts
from ..rule import Invalid, Rule

_JUMPS = cst.Return | cst.Raise | cst.Continue | cst.Break


class _YieldFinder(cst.CSTVisitor):
    """A dead ``yield`` after ``return`` still makes the function a generator: it is meant."""

    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def visit_Yield(self, node: cst.Yield) -> None:
        self.found = True

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False


def _has_yield(nodes: list[cst.CSTNode]) -> bool:
    finder = _YieldFinder()
    for node in nodes:
        node.visit(finder)
    return finder.found


def _first_jump(small: list[cst.BaseSmallStatement]) -> int | None:
    return next((i for i, s in enumerate(small) if isinstance(s, _JUMPS)), None)


def _cut(small: list[cst.BaseSmallStatement], at: int) -> list[cst.BaseSmallStatement]:
    """The statements up to the jump, without the jump's now dangling semicolon."""
    return [*small[:at], small[at].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)]


_AST_JUMPS = (ast.Return, ast.Raise, ast.Continue, ast.Break)
_BLOCK_HOLDERS = (
    *(ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For),
    *(ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try, ast.TryStar, ast.ExceptHandler),
    ast.match_case,
)


def _jump_before_end(block: list[ast.stmt]) -> bool:
    return any(isinstance(s, _AST_JUMPS) for s in block[:-1])


class UnreachableCode(Rule):
    CODE = "DL108"
    NAME = "unreachable-code"
    CATEGORY = "bug"
    MESSAGE = "Unreachable code after `return`, `raise`, `continue` or `break`"
    RATIONALE = (
        "Statements after a jump in the same block can never run, which usually means a "
        "misplaced line or a leftover from debugging. Either the jump is wrong or the code "
        "is dead and misleads readers."
    )
    SEVERITY = Severity.WARNING
    FIX_SAFETY = FixSafety.UNSAFE
    FIX_TITLE = "Remove the unreachable code"
    VALID = (
        "def f(x):\n    if x:\n        return 1\n    return 2\n",
        "def gen():\n    return\n    yield  # makes this a generator\n",
        "for x in xs:\n    try:\n        continue\n    finally:\n        log(x)\n",
        "def f():\n    raise NotImplementedError  # abstract\n",
        "while True:\n    if done(): break\n    step()\n",
    )
    INVALID = (
        Invalid(
            code="def f():\n    return 1\n    print('never')\n",
            fixed="def f():\n    return 1\n",
            line=3,
        ),
        Invalid(
            code=(
                "for x in xs:\n    if x:\n        break  # stop\n        # leftover\n"
                "        x += 1\n        log(x)\n    other(x)\n"
            ),
            fixed="for x in xs:\n    if x:\n        break  # stop\n    other(x)\n",
            line=5,
        ),
        Invalid(
            code=(
                "class C:\n    async def m(self):\n        raise ValueError('x')\n"
                "        for y in ys:\n            await y\n"
            ),
            fixed="class C:\n    async def m(self):\n        raise ValueError('x')\n",
            line=4,
        ),
        Invalid(
            code="def f(x):\n    return x; cleanup()  # note\n    done()\n",
            fixed="def f(x):\n    return x  # note\n",
            line=2,
        ),
        Invalid(
            code="for x in xs:\n    if x: continue; print(x)\n",
            fixed="for x in xs:\n    if x: continue\n",
            line=2,
        ),
    )

    @classmethod
    def may_report(cls, nodes: AstIndex, facts: ModuleFacts) -> bool:
        return any(
            _jump_before_end(getattr(node, field, []))
            for kind in _BLOCK_HOLDERS
            for node in nodes.of(kind)
            for field in ("body", "orelse", "finalbody")
        )

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        small = list(node.body)
        at = _first_jump(small)
        if at is not None and at + 1 < len(small) and not _has_yield(small[at + 1 :]):
            fixed = node.with_changes(body=_cut(small, at))
            self.report(small[at + 1], replacement=fixed, replaces=node)

    def _check_block(self, node: cst.Module | cst.IndentedBlock) -> None:
        """The whole block, since the dead code runs from a jump to the block's end."""
        body = list(node.body)
        for i, line in enumerate(body):
            if not isinstance(line, cst.SimpleStatementLine):
                continue
            small = list(line.body)
            at = _first_jump(small)
            if at is None:
                continue
            dead: list[cst.CSTNode] = [*small[at + 1 :], *body[i + 1 :]]
            if not dead or _has_yield(dead):
                return
            target: cst.CSTNode = node
            fixed: cst.CSTNode = line.with_changes(body=_cut(small, at))
            if i + 1 < len(body):
                fixed = node.with_changes(body=[*body[:i], fixed])
            else:
                target = line
            self.report(dead[0], replacement=fixed, replaces=target)
            return

    visit_Module = visit_IndentedBlock = _check_block
