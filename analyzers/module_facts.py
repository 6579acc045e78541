"""What a rule may know about the rest of its module, and a cheap index of each part's syntax.

Rules see one top-level statement at a time (so an edit re-parses one statement), yet some
questions need the module: is ``isinstance`` rebound at the top, is numpy imported, how many
arguments does the function called here take. Each part is summarised once from ``ast`` (C
speed, cached by text); the module's facts are merged from the summaries, and each part is
handed only the facts about names it mentions, so an edit elsewhere leaves its cache key alone.
"""

from __future__ import annotations

import ast
import builtins
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TypeVar

Node = TypeVar("Node", bound=ast.AST)


@dataclass(frozen=True)
class Signature:
    """How a function defined in the module may be called."""

    positional: tuple[str, ...]  # positional-only and ordinary parameters, in order
    positional_only: int
    required_positional: int
    keyword_only: tuple[str, ...]
    required_keyword: tuple[str, ...]
    varargs: bool
    varkw: bool


@dataclass(frozen=True)
class ClassFacts:
    """A class defined in the module. ``opaque``: something may add members we cannot see
    (a decorator, a metaclass, ``__getattr__``, ``__slots__`` games, a class body that calls)."""

    bases: tuple[str, ...]
    members: frozenset[str]
    opaque: bool


@dataclass(frozen=True)
class ModuleFacts:
    bound: frozenset[str] = frozenset()
    """Names bound at module level (defs, classes, imports, assignments), any branch."""
    imported: frozenset[str] = frozenset()
    """Top-level packages imported anywhere in the module (``numpy`` for ``import numpy.linalg``)."""
    functions: tuple[tuple[str, Signature], ...] = ()
    """Module-level functions defined once, undecorated, and never rebound."""
    classes: tuple[tuple[str, ClassFacts], ...] = ()
    """Module-level classes defined once and never rebound."""
    subclassed: frozenset[str] = frozenset()
    """Names used as a base class somewhere in the module."""
    star_import: bool = False
    builtins_rebound: frozenset[str] = frozenset()
    """Builtin names (``isinstance``, ``type``) the part or the module binds to something else."""

    def function(self, name: str) -> Signature | None:
        return dict(self.functions).get(name)

    def klass(self, name: str) -> ClassFacts | None:
        return dict(self.classes).get(name)

    def seen_by(self, part: PartSummary) -> ModuleFacts:
        """Only what ``part`` can ask about: facts on the names it mentions (classes with their
        bases)."""
        names = part.names
        classes = dict(self.classes)
        wanted: set[str] = set()
        todo = [n for n in names if n in classes]
        while todo:
            name = todo.pop()
            if name not in wanted:
                wanted.add(name)
                todo.extend(b for b in classes[name].bases if b in classes)
        return ModuleFacts(
            bound=self.bound & names,
            imported=self.imported,
            functions=tuple(f for f in self.functions if f[0] in names),
            classes=tuple(c for c in self.classes if c[0] in wanted),
            subclassed=self.subclassed & names,
            star_import=self.star_import,
            builtins_rebound=part.builtins_bound | (self.bound & names & _BUILTINS),
        )


_BUILTINS = frozenset(dir(builtins))
NO_FACTS = ModuleFacts()


class AstIndex:
    """A part's ``ast`` nodes by type, from one walk: a rule's pre-check asks for the few node
    types it reports on instead of walking the tree again."""

    def __init__(self, tree: ast.AST) -> None:
        self._by_type: defaultdict[type[ast.AST], list[ast.AST]] = defaultdict(list)
        for node in ast.walk(tree):
            self._by_type[type(node)].append(node)

    def of(self, kind: type[Node]) -> list[Node]:
        return self._by_type.get(kind, [])  # type: ignore[return-value]

    def has(self, *types: type[ast.AST]) -> bool:
        return any(self._by_type.get(kind) for kind in types)


@dataclass(frozen=True, eq=False)
class PartSummary:
    index: AstIndex
    names: frozenset[str]
    """Every name the part mentions or defines: its key into the module's facts."""
    bound: frozenset[str]
    imported: frozenset[str]
    functions: tuple[tuple[str, Signature | None], ...]
    classes: tuple[tuple[str, ClassFacts | None], ...]
    subclassed: frozenset[str]
    star_import: bool = field(default=False)
    builtins_bound: frozenset[str] = frozenset()
    """Builtin names bound anywhere in the part, in any scope."""


@lru_cache(maxsize=8192)
def summarise(text: str) -> PartSummary | None:
    """None when ``ast`` cannot read the part (grammar only libcst knows): no pre-checks."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    index = AstIndex(tree)
    names = {n.id for n in index.of(ast.Name)}
    bound: set[str] = set()
    functions: list[tuple[str, Signature | None]] = []
    classes: list[tuple[str, ClassFacts | None]] = []
    for statement in _module_level(tree.body):
        bound.update(_bound_by(statement))
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            functions.append((statement.name, _signature(statement)))
        elif isinstance(statement, ast.ClassDef):
            classes.append((statement.name, _class_facts(statement)))
    imported = {a.name.split(".")[0] for n in index.of(ast.Import) for a in n.names}
    imported |= {
        n.module.split(".")[0] for n in index.of(ast.ImportFrom) if n.module and not n.level
    }
    subclassed = {b.id for c in index.of(ast.ClassDef) for b in c.bases if isinstance(b, ast.Name)}
    star = any(a.name == "*" for n in index.of(ast.ImportFrom) for a in n.names)
    names |= bound | {name for name, _ in classes}
    rebound = _BUILTINS & _bound_anywhere(index)
    return PartSummary(
        index=index,
        names=frozenset(names),
        bound=frozenset(bound),
        imported=frozenset(imported),
        functions=tuple(functions),
        classes=tuple(classes),
        subclassed=frozenset(subclassed),
        star_import=star,
        builtins_bound=rebound,
    )


def _bound_anywhere(index: AstIndex) -> set[str]:
    bound = {n.id for n in index.of(ast.Name) if isinstance(n.ctx, ast.Store | ast.Del)}
    bound |= {n.arg for n in index.of(ast.arg)}
    for kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
        bound |= {n.name for n in index.of(kind)}
    bound |= {h.name for h in index.of(ast.ExceptHandler) if h.name}
    for kind in (ast.MatchAs, ast.MatchStar):
        bound |= {n.name for n in index.of(kind) if n.name}
    for imports in (index.of(ast.Import), index.of(ast.ImportFrom)):
        bound |= {(a.asname or a.name).split(".")[0] for n in imports for a in n.names}
    for scoped in (index.of(ast.Global), index.of(ast.Nonlocal)):
        bound |= {name for n in scoped for name in n.names}
    return bound


def module_facts(summaries: Iterable[PartSummary | None]) -> ModuleFacts:
    """The module's facts from its parts' summaries; a name defined twice is left out."""
    parts = [s for s in summaries if s is not None]
    bindings: defaultdict[str, int] = defaultdict(int)
    for part in parts:
        for name in part.bound:
            bindings[name] += 1
    functions = [(n, f) for p in parts for n, f in p.functions if f is not None]
    classes = [(n, c) for p in parts for n, c in p.classes if c is not None]
    return ModuleFacts(
        bound=frozenset(bindings),
        imported=frozenset().union(*(p.imported for p in parts)),
        functions=tuple(sorted((n, f) for n, f in functions if _once(n, bindings, parts))),
        classes=tuple(sorted(((n, c) for n, c in classes if _once(n, bindings, parts)))),
        subclassed=frozenset().union(*(p.subclassed for p in parts)),
        star_import=any(p.star_import for p in parts),
    )


def _once(name: str, bindings: dict[str, int], parts: list[PartSummary]) -> bool:
    """Bound in one part, by one statement there (not a def inside ``if``/``else`` twice)."""
    if bindings[name] != 1:
        return False
    defs = [n for p in parts for n, _ in (*p.functions, *p.classes) if n == name]
    return len(defs) == 1


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run in the module's scope, inside ``if``/``try``/``with``/loops too."""
    for statement in body:
        yield statement
        if isinstance(statement, ast.If | ast.For | ast.AsyncFor | ast.While):
            yield from _module_level(statement.body)
            yield from _module_level(statement.orelse)
        elif isinstance(statement, ast.With | ast.AsyncWith):
            yield from _module_level(statement.body)
        elif isinstance(statement, ast.Try | ast.TryStar):
            for block in (statement.body, statement.orelse, statement.finalbody):
                yield from _module_level(block)
            for handler in statement.handlers:
                yield from _module_level(handler.body)
        elif isinstance(statement, ast.Match):
            for case in statement.cases:
                yield from _module_level(case.body)


def _bound_by(statement: ast.stmt) -> Iterator[str]:
    """Names one module-level statement binds (not those of nested scopes)."""
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        yield statement.name
        return
    if isinstance(statement, ast.Import | ast.ImportFrom):
        for alias in statement.names:
            yield (alias.asname or alias.name).split(".")[0]
        return
    if isinstance(statement, ast.Global | ast.Nonlocal):
        return
    for child in ast.iter_child_nodes(statement):
        if isinstance(child, ast.stmt):
            continue  # walked by _module_level
        for node in ast.walk(child):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                yield node.id
            elif isinstance(node, ast.ExceptHandler) and node.name:
                yield node.name
    if isinstance(statement, ast.Try | ast.TryStar):
        yield from (h.name for h in statement.handlers if h.name)


def _signature(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Signature | None:
    """None when a decorator may change how it is called."""
    if function.decorator_list:
        return None
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    keyword_defaults = zip(args.kwonlyargs, args.kw_defaults, strict=True)
    return Signature(
        positional=tuple(a.arg for a in positional),
        positional_only=len(args.posonlyargs),
        required_positional=len(positional) - len(args.defaults),
        keyword_only=tuple(a.arg for a in args.kwonlyargs),
        required_keyword=tuple(a.arg for a, default in keyword_defaults if default is None),
        varargs=args.vararg is not None,
        varkw=args.kwarg is not None,
    )


_DYNAMIC_MEMBERS = frozenset({"__getattr__", "__getattribute__", "__slots__", "__dict__"})


def _class_facts(klass: ast.ClassDef) -> ClassFacts:
    members: set[str] = set()
    for statement in _module_level(klass.body):
        members.update(_bound_by(statement))
    for node in ast.walk(klass):  # self.x = ... in any method makes x a member
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
        ):
            members.add(node.attr)
    opaque = bool(klass.decorator_list or klass.keywords or members & _DYNAMIC_MEMBERS)
    opaque |= any(isinstance(s, ast.Expr) for s in klass.body[1:])  # calls that may add members
    return ClassFacts(
        bases=tuple(ast.unparse(b) for b in klass.bases),
        members=frozenset(members),
        opaque=opaque,
    )
