"""Which names a libcst function scope binds, and where a rule stands among classes and methods.

Rules that reason about a name (is ``f`` the module's function or a local? is ``self`` the
instance?) need the scopes around the node they visit; :class:`ScopedRule` keeps that stack.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import libcst as cst
import libcst.matchers as m

from .rule import Rule

_EMPTY = cst.Module([])


def code_of(node: cst.CSTNode) -> str:
    return _EMPTY.code_for_node(node)


def names_in(node: cst.CSTNode) -> frozenset[str]:
    """Every name in the code (attributes' ``.attr`` parts excepted)."""
    return frozenset(n.value for n in m.findall(node, m.Name()) if isinstance(n, cst.Name))


def target_names(target: cst.BaseExpression) -> Iterator[cst.Name]:
    """The plain names an assignment target binds (attributes and subscripts bind none)."""
    if isinstance(target, cst.Name):
        yield target
    elif isinstance(target, cst.Tuple | cst.List):
        for element in target.elements:
            yield from target_names(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from target_names(target.value)


class _Binder(cst.CSTVisitor):
    """Collects the names one scope binds, without entering nested scopes."""

    def __init__(self) -> None:
        super().__init__()
        self.bound: set[str] = set()
        self.declared: set[str] = set()

    def _add(self, target: cst.BaseExpression) -> None:
        self.bound.update(n.value for n in target_names(target))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.bound.add(node.name.value)
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.bound.add(node.name.value)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def _comprehension(self, node: cst.CSTNode) -> bool:
        return False

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._add(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._add(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._add(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._add(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:  # with ... as x, except E as x, import
        if isinstance(node.name, cst.BaseExpression):
            self._add(node.name)

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        if node.asname is None:
            first = node.name
            while isinstance(first, cst.Attribute):
                first = first.value
            self._add(first)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._add(node.target)

    def visit_Del(self, node: cst.Del) -> None:
        self._add(node.target)

    def visit_MatchAs(self, node: cst.MatchAs) -> None:
        if node.name is not None:
            self.bound.add(node.name.value)

    def visit_MatchStar(self, node: cst.MatchStar) -> None:
        if node.name is not None:
            self.bound.add(node.name.value)

    def visit_MatchMapping(self, node: cst.MatchMapping) -> None:
        if node.rest is not None:
            self.bound.add(node.rest.value)

    def visit_Global(self, node: cst.Global) -> None:
        self.declared.update(item.name.value for item in node.names)

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        self.declared.update(item.name.value for item in node.names)


def parameters(params: cst.Parameters) -> list[cst.Param]:
    every = [*params.posonly_params, *params.params, *params.kwonly_params]
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            every.append(star)
    return every


def bindings(node: cst.CSTNode) -> tuple[frozenset[str], frozenset[str]]:
    """(names the code binds in its own scope; names it declares global or nonlocal)."""
    binder = _Binder()
    node.visit(binder)
    return frozenset(binder.bound - binder.declared), frozenset(binder.declared)


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
