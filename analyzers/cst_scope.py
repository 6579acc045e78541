"""Which names a libcst function scope binds, and where a rule stands among classes and methods.

Rules that reason about a name (is ``f`` the module's function or a local? is ``self`` the
instance?) need the scopes around the node they visit; :class:`ScopedRule` keeps that stack.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import libcst as cst

from .cst_walk import children, walk
from .rule import Rule

_EMPTY = cst.Module([])


def code_of(node: cst.CSTNode) -> str:
    return _EMPTY.code_for_node(node)


def names_in(node: cst.CSTNode) -> frozenset[str]:
    """Every name the code reads (attributes' ``.attr`` parts and keywords excepted)."""
    found: set[str] = set()
    todo = [node]
    while todo:
        current = todo.pop()
        if type(current) is cst.Name:
            found.add(current.value)  # type: ignore[attr-defined]
        elif type(current) is cst.Attribute or type(current) is cst.Arg:
            todo.append(current.value)  # type: ignore[attr-defined]
        else:
            todo.extend(children(current))
    return frozenset(found)


def target_names(target: cst.BaseExpression) -> Iterator[cst.Name]:
    """The plain names an assignment target binds (attributes and subscripts bind none)."""
    if isinstance(target, cst.Name):
        yield target
    elif isinstance(target, cst.Tuple | cst.List):
        for element in target.elements:
            yield from target_names(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from target_names(target.value)


_NESTED_SCOPES = frozenset(
    {cst.FunctionDef, cst.ClassDef, cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp}
    | {cst.GeneratorExp}
)
_TARGETED = frozenset(
    {cst.AssignTarget, cst.AnnAssign, cst.AugAssign, cst.For, cst.NamedExpr, cst.Del}
)


def _binds(node: cst.CSTNode) -> Iterator[cst.BaseExpression]:
    """The targets one node binds in the scope it sits in (dispatch on the exact class: libcst's
    classes are ABCs, slow to ``isinstance`` against)."""
    kind = type(node)
    if kind is cst.FunctionDef or kind is cst.ClassDef:
        yield node.name  # type: ignore[attr-defined]
    elif kind in _TARGETED:
        yield node.target  # type: ignore[attr-defined]
    elif kind is cst.AsName:  # with ... as x, except E as x, import ... as x
        if isinstance(node.name, cst.BaseExpression):  # type: ignore[attr-defined]
            yield node.name  # type: ignore[attr-defined]
    elif kind is cst.ImportAlias and node.asname is None:  # type: ignore[attr-defined]
        first = node.name  # type: ignore[attr-defined]
        while isinstance(first, cst.Attribute):
            first = first.value
        yield first
    elif (kind is cst.MatchAs or kind is cst.MatchStar) and node.name is not None:  # type: ignore[attr-defined]
        yield node.name  # type: ignore[attr-defined]
    elif kind is cst.MatchMapping and node.rest is not None:  # type: ignore[attr-defined]
        yield node.rest  # type: ignore[attr-defined]


def _scope_nodes(node: cst.CSTNode) -> bool:
    """Enter everything but nested scopes (their names are theirs)."""
    return type(node) not in _NESTED_SCOPES


def parameters(params: cst.Parameters) -> list[cst.Param]:
    every = [*params.posonly_params, *params.params, *params.kwonly_params]
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            every.append(star)
    return every


def bindings(node: cst.CSTNode) -> tuple[frozenset[str], frozenset[str]]:
    """(names the code binds in its own scope; names it declares global or nonlocal)."""
    bound: set[str] = set()
    declared: set[str] = set()
    for child in children(node):
        for inner in walk(child, _scope_nodes):
            if type(inner) is cst.Global or type(inner) is cst.Nonlocal:
                declared.update(item.name.value for item in inner.names)  # type: ignore[attr-defined]
            for target in _binds(inner):
                bound.update(n.value for n in target_names(target))
    return frozenset(bound - declared), frozenset(declared)


def decorator_names(node: cst.FunctionDef | cst.ClassDef) -> set[str]:
    """The last dotted part of each decorator (``property`` for ``@functools.property()``)."""
    names = set()
    for decorator in node.decorators:
        expr = decorator.decorator
        if isinstance(expr, cst.Call):
            expr = expr.func
        if isinstance(expr, cst.Attribute):
            expr = expr.attr
        if isinstance(expr, cst.Name):
            names.add(expr.value)
    return names


@dataclass
class Frame:
    node: cst.FunctionDef | cst.ClassDef | cst.Lambda
    _body: frozenset[str] | None = field(default=None, repr=False)

    @property
    def body_bindings(self) -> frozenset[str]:
        """Names the body binds, parameters not included."""
        if self._body is None:
            lambda_ = isinstance(self.node, cst.Lambda)
            self._body = frozenset() if lambda_ else bindings(self.node.body)[0]
        return self._body

    @property
    def locals(self) -> frozenset[str]:
        if isinstance(self.node, cst.ClassDef):
            return self.body_bindings
        names = {p.name.value for p in parameters(self.node.params)}
        return self.body_bindings | names


@dataclass(frozen=True)
class MethodContext:
    """Inside a method (or a function nested in one) of ``klass``, whose first parameter
    ``instance`` names the instance (``on_class``: the class, in a ``@classmethod``)."""

    klass: cst.ClassDef
    method: cst.FunctionDef
    instance: str
    on_class: bool = False

    @property
    def class_name(self) -> str:
        return self.klass.name.value


class ScopedRule(Rule):
    """A rule that knows its enclosing classes and functions. Subclasses that visit
    ``FunctionDef``, ``ClassDef`` or ``Lambda`` themselves call these methods first."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[Frame] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.frames.append(Frame(node))

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.frames.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.frames.append(Frame(node))

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.frames.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.frames.append(Frame(node))

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self.frames.pop()

    def is_local(self, name: str) -> bool:
        """Bound in an enclosing function, or in the class body the node sits directly in."""
        for i, frame in enumerate(self.frames):
            if isinstance(frame.node, cst.ClassDef) and i != len(self.frames) - 1:
                continue  # a class body's names are not visible in its methods
            if name in frame.locals:
                return True
        return False

    def method_context(self) -> MethodContext | None:
        """The innermost method around the node, if its first parameter still names the
        instance here (not rebound by a nested function or lambda in between)."""
        for i in range(len(self.frames) - 1, 0, -1):
            frame, parent = self.frames[i], self.frames[i - 1]
            if not isinstance(frame.node, cst.FunctionDef):
                continue
            if not isinstance(parent.node, cst.ClassDef):
                continue
            method = frame.node
            params = [*method.params.posonly_params, *method.params.params]
            decorators = decorator_names(method)
            if not params or "staticmethod" in decorators:
                return None
            instance = params[0].name.value
            inner = self.frames[i + 1 :]
            if any(instance in f.locals for f in inner) or instance in frame.body_bindings:
                return None
            on_class = "classmethod" in decorators
            return MethodContext(parent.node, method, instance, on_class)
        return None
