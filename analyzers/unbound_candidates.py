"""The names a function might read unbound, over-approximated on ``ast``: DL120's pre-check.

The flow pass behind DL120 (``binding_flow``) runs on libcst, which costs about twenty times an
``ast`` walk, so a function reaches it only when this cruder pass finds a read of a local that
is not bound on every path to it and that some earlier line binds. The pass is the same forward
walk with fewer excuses: it knows parameters, assignments, imports, ``with ... as``, branches
that all bind a name or leave, and that a name bound in a loop is not checked inside it; it
trusts no guard, flag or helper that never returns. Whatever it calls bound is bound for the
flow pass too, so skipping the functions it clears loses no finding.
"""

from __future__ import annotations

import ast
import weakref
from collections.abc import Iterable, Sequence

from .module_facts import AstIndex

_NAMED = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.MatchAs | ast.MatchStar
_NESTED = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda
_LEAVES = ast.Return | ast.Raise | ast.Continue | ast.Break

Sure = frozenset[str] | None
"""Names bound on every path to a point; None: no path gets there."""


def _binding(node: ast.AST) -> str | None:
    """The name one node binds (or deletes), if it binds one."""
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
        return node.id
    if isinstance(node, ast.alias):
        return (node.asname or node.name).split(".")[0]
    if isinstance(node, _NAMED):
        return node.name
    return None


def _bound_in(nodes: Iterable[ast.AST]) -> frozenset[str]:
    """Names bound (or deleted) anywhere inside ``nodes``, nested blocks included."""
    found = (_binding(n) for top in nodes for n in ast.walk(top))
    return frozenset(name for name in found if name)


def _join(*states: Sure) -> Sure:
    live = [s for s in states if s is not None]
    return frozenset.intersection(*live) if live else None


def _suppresses(item: ast.withitem) -> bool:
    """``with suppress(...)`` may skip the rest of its block (as ``flow_exits`` has it)."""
    call = item.context_expr
    if not isinstance(call, ast.Call):
        return False
    func = call.func
    return (func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")) == "suppress"


class _Scan:
    """One function's forward walk; ``found`` collects the suspect reads' names."""

    def __init__(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.first_bound: dict[str, tuple[int, int]] = {}
        declared: set[str] = set()
        for node in ast.walk(function):
            name = _binding(node) if node is not function else None
            if name:
                where = (node.lineno, node.col_offset)  # type: ignore[attr-defined]
                self.first_bound[name] = min(self.first_bound.get(name, where), where)
            elif isinstance(node, ast.Global | ast.Nonlocal):
                declared.update(node.names)
        for name in declared:
            self.first_bound.pop(name, None)
        self.found: set[str] = set()

    def reads(self, nodes: Iterable[ast.AST | None], sure: frozenset[str]) -> None:
        stack = [n for n in nodes if n is not None]
        while stack:
            node = stack.pop()
            if isinstance(node, _NESTED):
                continue  # read when called, not here
            if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                self.read(node.target, sure)  # `x += 1` reads x
            elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Store):
                self.read(node, sure)
            stack.extend(ast.iter_child_nodes(node))

    def read(self, node: ast.Name, sure: frozenset[str]) -> None:
        if node.id not in sure:
            first = self.first_bound.get(node.id)
            if first is not None and first < (node.lineno, node.col_offset):
                self.found.add(node.id)

    def block(self, statements: Sequence[ast.stmt], sure: Sure) -> Sure:
        for statement in statements:
            if sure is None:
                return None
            sure = self.statement(statement, sure)
        return sure

    def statement(self, node: ast.stmt, sure: frozenset[str]) -> Sure:
        match node:
            case ast.If():
                self.reads([node.test], sure)
                return _join(self.block(node.body, sure), self.block(node.orelse, sure))
            case ast.For() | ast.AsyncFor() | ast.While():
                looped = sure | _bound_in([node])  # an earlier iteration may have bound it
                self.reads([getattr(node, "iter", None), getattr(node, "test", None)], looped)
                self.block(node.body, looped)
                self.block(node.orelse, looped)
                return sure
            case ast.With() | ast.AsyncWith():
                self.reads([item.context_expr for item in node.items], sure)
                inside = sure | _bound_in(i.optional_vars for i in node.items if i.optional_vars)
                after = self.block(node.body, inside)
                return inside if any(map(_suppresses, node.items)) else after
            case ast.Try() | ast.TryStar():
                body = self.block(node.body, sure)
                handled = []
                for handler in node.handlers:
                    self.reads([handler.type], sure)
                    caught = sure | ({handler.name} if handler.name else set())
                    out = self.block(handler.body, caught)
                    handled.append(None if out is None else out - {handler.name})
                after = _join(self.block(node.orelse, body), *handled)
                final = self.block(node.finalbody, sure)
                return None if after is None or final is None else after | final
            case ast.Match():
                self.reads([node.subject], sure)
                outs = []
                for case in node.cases:
                    captured = sure | _bound_in([case.pattern])
                    self.reads([case.guard], captured)
                    outs.append(self.block(case.body, captured))
                return _join(sure, *outs)
            case ast.FunctionDef() | ast.AsyncFunctionDef() | ast.ClassDef():
                header = node.bases if isinstance(node, ast.ClassDef) else [node.args]
                self.reads([*node.decorator_list, *header], sure)
                return sure | {node.name}
            case ast.Delete():
                self.reads([node], sure)
                return sure - _bound_in([node])
            case _:
                self.reads([node], sure)
                return None if isinstance(node, _LEAVES) else sure | _bound_in([node])


_Function = ast.FunctionDef | ast.AsyncFunctionDef
# Per function node: a class's pre-checks ask about each method twice (the class, then the
# method alone), and a part's tree lives as long as its text is cached.
_SCANNED: weakref.WeakKeyDictionary[_Function, frozenset[str]] = weakref.WeakKeyDictionary()


def may_be_unbound(nodes: AstIndex) -> set[str]:
    """Locals some function reads where an earlier line bound them but not on every path."""
    found: set[str] = set()
    for function in (*nodes.of(ast.FunctionDef), *nodes.of(ast.AsyncFunctionDef)):
        names = _SCANNED.get(function)
        if names is None:
            names = _SCANNED[function] = _scan(function)
        found |= names
    return found


def _scan(function: _Function) -> frozenset[str]:
    args = function.args
    every = (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg)
    scan = _Scan(function)
    scan.block(function.body, frozenset(a.arg for a in every if a is not None))
    return frozenset(scan.found)
