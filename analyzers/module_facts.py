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
import copy
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TypeVar

from . import quiet_ast

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
    is_async: bool = False
    returns_none: bool = False
    """Calling it can only give None: no ``return <value>``, no ``yield``, not async, and a body
    that is neither a stub (``pass``, ``...``, a docstring, a lone ``return None``) nor one that
    only raises."""
    never_returns: bool = False
    """Annotated ``NoReturn``/``Never``, or a body that ends in ``raise`` or ``sys.exit()`` and
    never returns."""


@dataclass(frozen=True)
class ClassFacts:
    """A class defined in the module. ``opaque``: something may add members we cannot see
    (a decorator, a metaclass, ``__getattr__``, ``__slots__`` games, a class body that calls)."""

    bases: tuple[str, ...]
    members: frozenset[str]
    opaque: bool
    methods: tuple[tuple[str, Signature], ...] = ()
    """Undecorated methods defined once in the class body, as called on an instance (the first
    parameter dropped)."""
    class_methods: tuple[tuple[str, Signature], ...] = ()
    """``@classmethod``/``@staticmethod`` ones, as called on the class or an instance."""

    def method(self, name: str, on_class: bool = False) -> Signature | None:
        """How ``name`` is called on an instance (``on_class``: on the class itself)."""
        found = dict(self.class_methods).get(name)
        if found is None and not on_class:
            found = dict(self.methods).get(name)
        return found


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
    called: frozenset[str] = frozenset()
    """Names called somewhere in the module (``Name(...)``): a class called is instantiated
    here, not only a base for others."""
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
            called=self.called & names,
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
    tree: ast.Module
    index: AstIndex
    names: frozenset[str]
    """Every name the part mentions or defines: its key into the module's facts."""
    bound: frozenset[str]
    imported: frozenset[str]
    functions: tuple[tuple[str, Signature | None], ...]
    classes: tuple[tuple[str, ClassFacts | None], ...]
    subclassed: frozenset[str]
    called: frozenset[str]
    star_import: bool = field(default=False)
    builtins_bound: frozenset[str] = frozenset()
    """Builtin names bound anywhere in the part, in any scope."""
    bound_twice: frozenset[str] = frozenset()
    """Names two module-level statements of the part bind (``import f`` or ``def f``)."""
    attributes_set: tuple[tuple[str, str], ...] = ()
    """``(name, attribute)`` for each ``name.attribute = ...`` or ``setattr(name, "attribute",
    ...)`` in the part (``"*"``: a ``setattr`` whose attribute is not a literal)."""


@lru_cache(maxsize=8192)
def summarise(text: str) -> PartSummary | None:
    """None when ``ast`` cannot read the part (grammar only libcst knows): no pre-checks."""
    try:
        tree = quiet_ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    index = AstIndex(tree)
    names = {n.id for n in index.of(ast.Name)}
    bound: set[str] = set()
    bound_twice: set[str] = set()
    functions: list[tuple[str, Signature | None]] = []
    classes: list[tuple[str, ClassFacts | None]] = []
    for statement in _module_level(tree.body):
        binds = set(_bound_by(statement))
        bound_twice |= bound & binds
        bound |= binds
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
    attributes_set = tuple(sorted(set(_attributes_set(index))))
    return PartSummary(
        tree=tree,
        index=index,
        names=frozenset(names),
        bound=frozenset(bound),
        imported=frozenset(imported),
        functions=tuple(functions),
        classes=tuple(classes),
        subclassed=frozenset(subclassed),
        called=frozenset(c.func.id for c in index.of(ast.Call) if isinstance(c.func, ast.Name)),
        star_import=star,
        builtins_bound=rebound,
        attributes_set=attributes_set,
        bound_twice=frozenset(bound_twice),
    )


def _attributes_set(index: AstIndex) -> Iterator[tuple[str, str]]:
    """Attributes a part sets on a plain name: from outside a class, they add to its members."""
    for node in index.of(ast.Attribute):
        if isinstance(node.ctx, ast.Store | ast.Del) and isinstance(node.value, ast.Name):
            yield node.value.id, node.attr
    for call in index.of(ast.Call):
        if isinstance(call.func, ast.Name) and call.func.id == "setattr" and call.args:
            target = call.args[0]
            if isinstance(target, ast.Name):
                attribute = call.args[1] if len(call.args) > 1 else None
                literal = isinstance(attribute, ast.Constant) and isinstance(attribute.value, str)
                yield target.id, attribute.value if literal else "*"  # type: ignore[union-attr]


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
    set_outside: defaultdict[str, set[str]] = defaultdict(set)
    for part in parts:
        for name, attribute in part.attributes_set:
            set_outside[name].add(attribute)
    classes = [(n, _with_members(c, set_outside.get(n, set()))) for n, c in classes]
    once = _defined_once(bindings, parts)
    return ModuleFacts(
        bound=frozenset(bindings),
        imported=frozenset().union(*(p.imported for p in parts)),
        functions=tuple(sorted((n, f) for n, f in functions if n in once)),
        classes=tuple(sorted((n, c) for n, c in classes if n in once)),
        subclassed=frozenset().union(*(p.subclassed for p in parts)),
        called=frozenset().union(*(p.called for p in parts)),
        star_import=any(p.star_import for p in parts),
    )


def _with_members(klass: ClassFacts, added: set[str]) -> ClassFacts:
    """A class with the attributes the module sets on it (opaque when set by a computed name)."""
    if not added <= klass.members:
        return replace(klass, members=klass.members | added, opaque=klass.opaque or "*" in added)
    return klass


def _defined_once(bindings: dict[str, int], parts: list[PartSummary]) -> set[str]:
    """Names bound in one part, by one statement there (not a def inside ``if``/``else`` twice,
    nor an import in one branch and a def in the other)."""
    twice = set().union(*(p.bound_twice for p in parts))
    defs = Counter(n for p in parts for n, _ in (*p.functions, *p.classes))
    return {n for n, count in defs.items() if count == 1 and bindings[n] == 1 and n not in twice}


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


def _signature(
    function: ast.FunctionDef | ast.AsyncFunctionDef, *, bound: bool = False
) -> Signature | None:
    """None when a decorator may change how it is called. ``bound``: as called on an instance,
    without the first parameter (None when there is none to drop)."""
    if function.decorator_list:
        return None
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    positional_only = len(args.posonlyargs)
    if bound:
        if not positional:
            return None
        positional = positional[1:]
        positional_only = max(positional_only - 1, 0)
    keyword_defaults = zip(args.kwonlyargs, args.kw_defaults, strict=True)
    return Signature(
        positional=tuple(a.arg for a in positional),
        positional_only=positional_only,
        required_positional=max(len(positional) - len(args.defaults), 0),
        keyword_only=tuple(a.arg for a in args.kwonlyargs),
        required_keyword=tuple(a.arg for a, default in keyword_defaults if default is None),
        varargs=args.vararg is not None,
        varkw=args.kwarg is not None,
        is_async=isinstance(function, ast.AsyncFunctionDef),
        returns_none=_returns_none(function),
        never_returns=_never_returns(function),
    )


def _own_nodes(function: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function's own scope: not those of nested functions, classes, lambdas."""
    todo = list(ast.iter_child_nodes(function))
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            todo.extend(ast.iter_child_nodes(node))


def _returns_none(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    if isinstance(function, ast.AsyncFunctionDef):
        return False
    body = function.body
    if ast.get_docstring(function) is not None:
        body = body[1:]
    stub = all(
        isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
        for s in body
    )
    stub |= len(body) == 1 and isinstance(body[0], ast.Return)  # a hook's default: `return None`
    if stub or isinstance(body[-1], ast.Raise):
        return False
    for node in _own_nodes(function):
        if isinstance(node, ast.Yield | ast.YieldFrom):
            return False
        if isinstance(node, ast.Return) and not _is_none(node.value):
            return False
    return True


def _never_returns(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    annotation = function.returns
    if isinstance(annotation, ast.Attribute):
        annotation = ast.Name(annotation.attr)
    if isinstance(annotation, ast.Name) and annotation.id in {"NoReturn", "Never"}:
        return True
    if not (isinstance(function.body[-1], ast.Raise) or _exits(function.body[-1])):
        return False
    return not any(
        isinstance(n, ast.Return | ast.Yield | ast.YieldFrom) for n in _own_nodes(function)
    )


def _exits(statement: ast.stmt) -> bool:
    """``sys.exit(...)``, ``os._exit(...)``, ``exit()`` as a statement."""
    if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)):
        return False
    func = statement.value.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in {"exit", "_exit", "quit"}


def _is_none(value: ast.expr | None) -> bool:
    return value is None or (isinstance(value, ast.Constant) and value.value is None)


_DYNAMIC_MEMBERS = frozenset({"__getattr__", "__getattribute__", "__slots__", "__dict__"})


def _class_facts(klass: ast.ClassDef) -> ClassFacts:
    counts: Counter[str] = Counter()  # how often each member is bound (an override counts)
    for statement in _module_level(klass.body):
        counts.update(_bound_by(statement))
    dynamic = False
    for node in ast.walk(klass):  # self.x = ... in any method makes x a member
        if isinstance(node, ast.Attribute):
            if isinstance(node.ctx, ast.Store) and isinstance(node.value, ast.Name):
                counts[node.attr] += 1
            dynamic |= node.attr == "__dict__"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            dynamic |= node.func.id in {"setattr", "vars"}  # members by computed names
    members = frozenset(counts)
    opaque = bool(klass.decorator_list or klass.keywords or members & _DYNAMIC_MEMBERS) or dynamic
    opaque |= any(isinstance(s, ast.Expr) for s in klass.body[1:])  # calls that may add members
    methods, class_methods = _methods(klass, counts)
    return ClassFacts(
        bases=tuple(ast.unparse(b) for b in klass.bases),
        members=members,
        opaque=opaque,
        methods=methods,
        class_methods=class_methods,
    )


_BINDERS = {"classmethod": True, "staticmethod": False}


def _methods(
    klass: ast.ClassDef, counts: Counter[str]
) -> tuple[tuple[tuple[str, Signature], ...], tuple[tuple[str, Signature], ...]]:
    """The class body's plain methods, and its class and static methods. A name bound twice
    (``if``/``else`` defs, a later ``name = ...``, or ``self.name = ...``: a per-instance
    override) is left out."""
    plain, on_class = [], []
    for statement in klass.body:
        if not isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if counts[statement.name] != 1:
            continue
        decorators = [d.id for d in statement.decorator_list if isinstance(d, ast.Name)]
        if not statement.decorator_list:
            signature = _signature(statement, bound=True)
            if signature is not None:
                plain.append((statement.name, signature))
        elif len(decorators) == len(statement.decorator_list) == 1 and decorators[0] in _BINDERS:
            bare = copy.copy(statement)
            bare.decorator_list = []
            signature = _signature(bare, bound=_BINDERS[decorators[0]])
            if signature is not None:
                on_class.append((statement.name, signature))
    return tuple(sorted(plain)), tuple(sorted(on_class))
