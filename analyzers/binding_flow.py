"""Which local names are bound on every path to a use, in one function body (libcst).

A forward pass over the statements carries the set of names bound on *every* path so far
(``None`` once no path gets there: after ``return``, ``raise``, ``break``...). A use of a local
outside that set, after a statement that binds it on *some* path, may raise
``UnboundLocalError``. The pass leans towards silence where code is usually right:

- a loop's body counts as having run (as pylint assumes), and a name bound anywhere in a loop is
  not checked inside it (an earlier iteration may have bound it);
- a use under the same test that guarded the binding (``if debug: t = now()`` ... ``if debug:
  log(t)``) is trusted, as is ``T and x`` / ``x if T else ...``, and so is a use under a test
  that reads a name bound in the same block as the name (a flag: ``ok = True; v = f()`` ...
  ``if ok: use(v)``);
- assignments of literals that open a ``try`` block are taken to have run in its handlers;
- the names an ``except ... as e`` clause binds are ruff's F821 once the clause ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import libcst as cst
import libcst.matchers as m

from .cst_scope import Frame, bindings, code_of, parameters, target_names

State = frozenset[str] | None
"""Names bound on every path to here; None: no path gets here."""
Guard = tuple[str, bool]
"""A test (its code) and whether it held."""

# Calls that never return: sys.exit(), os._exit(), pytest.fail(), self.fail(), assert_never().
_NO_RETURN_NAMES = frozenset({"exit", "quit", "assert_never"})
_NO_RETURN_ATTRIBUTES = frozenset(
    {"exit", "_exit", "abort", "fail", "skip", "skipTest", "assert_never"}
)
_SUPPRESSORS = frozenset({"suppress"})


def _join(states: Iterable[State]) -> State:
    live = [s for s in states if s is not None]
    if not live:
        return None
    return frozenset.intersection(*live)


def _guards(test: cst.BaseExpression, held: bool) -> set[Guard]:
    """The facts a test gives: ``a and b`` held means each held; ``a or b`` failed means each
    failed; ``not a`` flips."""
    keys = {(code_of(test), held)}
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        keys |= _guards(test.expression, not held)
    elif isinstance(test, cst.BooleanOperation) and not test.lpar:
        splits = cst.And if held else cst.Or
        if isinstance(test.operator, splits):
            keys |= _guards(test.left, held) | _guards(test.right, held)
    return keys


def _names_in(test: cst.BaseExpression) -> frozenset[str]:
    return frozenset(n.value for n in m.findall(test, m.Name()) if isinstance(n, cst.Name))


_LITERALS = cst.Integer | cst.Float | cst.Imaginary | cst.SimpleString


def _literal(value: cst.BaseExpression) -> bool:
    if isinstance(value, cst.Name):
        return value.value in {"None", "True", "False"}
    if isinstance(value, cst.List | cst.Tuple | cst.Set | cst.Dict):
        return not value.elements
    return isinstance(value, _LITERALS)


def _safe_prefix(suite: cst.BaseSuite) -> tuple[frozenset[str], bool]:
    """Names the opening ``name = <literal>`` lines of a block bind (they cannot raise), and
    whether that is the whole block. A ``try`` of such lines counts as one."""
    names: set[str] = set()
    for line in suite.body:
        if isinstance(line, cst.Try):
            inner, whole = _safe_prefix(line.body)
            names |= inner
            if not whole:
                return frozenset(names), False
            continue
        for statement in line.body if isinstance(line, cst.SimpleStatementLine) else [line]:
            if not (isinstance(statement, cst.Assign) and _literal(statement.value)):
                return frozenset(names), False
            if not all(isinstance(t.target, cst.Name) for t in statement.targets):
                return frozenset(names), False
            names.update(t.target.value for t in statement.targets)  # type: ignore[attr-defined]
    return frozenset(names), True


def _no_return(call: cst.BaseExpression) -> bool:
    if not isinstance(call, cst.Call):
        return False
    func = call.func
    if isinstance(func, cst.Name):
        return func.value in _NO_RETURN_NAMES
    return isinstance(func, cst.Attribute) and func.attr.value in _NO_RETURN_ATTRIBUTES


def _suppresses(item: cst.WithItem) -> bool:
    call = item.item
    if not isinstance(call, cst.Call):
        return False
    func = call.func
    name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
    return name in _SUPPRESSORS


class _Uses(cst.CSTVisitor):
    """Walks one expression in evaluation order, reporting each name it reads."""

    def __init__(self, flow: _Flow) -> None:
        super().__init__()
        self.flow = flow

    def visit_Name(self, node: cst.Name) -> None:
        self.flow.use(node)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def _comprehension(
        self, node: cst.ListComp | cst.SetComp | cst.DictComp | cst.GeneratorExp
    ) -> bool:
        node.for_in.iter.visit(self)  # the rest runs in the comprehension's own scope
        return False

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_NamedExpr(self, node: cst.NamedExpr) -> bool:
        node.value.visit(self)
        self.flow.bind(node.target)
        return False

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> bool:
        node.left.visit(self)
        with self.flow.guarded(node.left, isinstance(node.operator, cst.And)):
            node.right.visit(self)
        return False

    def visit_IfExp(self, node: cst.IfExp) -> bool:
        node.test.visit(self)
        with self.flow.guarded(node.test, True):
            node.body.visit(self)
        with self.flow.guarded(node.test, False):
            node.orelse.visit(self)
        return False


class _Guarded:
    def __init__(self, flow: _Flow, test: cst.BaseExpression, held: bool) -> None:
        self.flow = flow
        self.frame = (_guards(test, held), _names_in(test))

    def __enter__(self) -> None:
        self.flow.guards.append(self.frame)

    def __exit__(self, *exc: object) -> None:
        self.flow.guards.pop()


class _Flow:
    def __init__(self, function: cst.FunctionDef, stops: Callable[[cst.Call], bool]) -> None:
        self.stops = stops
        self.locals = Frame(function).locals
        self.state: State = frozenset(p.name.value for p in parameters(function.params))
        self.maybe: set[str] = set()  # bound by some statement walked so far
        self.bound_under: dict[str, set[Guard]] = {}
        self.guards: list[tuple[set[Guard], frozenset[str]]] = []
        self.blocks: list[int] = [id(function.body)]
        self.sites: dict[str, set[int]] = {}  # the blocks each name is bound in
        self.loops: list[frozenset[str]] = []
        self.breaks: list[list[State]] = []
        self.found: dict[str, cst.Name] = {}
        self.left: State = None  # the state before the last statement that jumped away
        self._uses = _Uses(self)

    # -- names ---------------------------------------------------------------------------

    def use(self, name: cst.Name) -> None:
        value = name.value
        state = self.state
        if state is None or value in state or value not in self.maybe or value in self.found:
            return
        if value not in self.locals or any(value in loop for loop in self.loops):
            return
        held = set().union(*(keys for keys, _ in self.guards))
        if held & self.bound_under.get(value, set()):
            return
        sites = self.sites.get(value, set())
        tested = {n for _, names in self.guards for n in names}
        if any(sites & self.sites.get(flag, set()) for flag in tested):
            return
        self.found[value] = name

    def bind(self, target: cst.BaseExpression, *, remember: bool = True) -> None:
        names = {n.value for n in target_names(target)}
        if remember:
            self.maybe |= names
            for name in names:
                self.bound_under.setdefault(name, set()).update(*(k for k, _ in self.guards))
                self.sites.setdefault(name, set()).add(self.blocks[-1])
        if self.state is not None:
            self.state = self.state | names

    def read(self, node: cst.CSTNode | None) -> None:
        if node is not None and self.state is not None:
            node.visit(self._uses)

    def guarded(self, test: cst.BaseExpression, held: bool) -> _Guarded:
        return _Guarded(self, test, held)

    # -- statements ----------------------------------------------------------------------

    def block(self, statements: Sequence[cst.CSTNode]) -> None:
        for statement in statements:
            if self.state is None:
                return
            before = self.state
            self.statement(statement)
            if self.state is None:
                self.left = before

    def walk(self, suite: cst.BaseSuite) -> None:
        self.blocks.append(id(suite))
        guards = len(self.guards)
        self.block(suite.body)
        del self.guards[guards:]  # what an `if` that left early told the rest of the block
        self.blocks.pop()

    def suite(self, suite: cst.BaseSuite | None, start: State) -> State:
        self.state = start
        if suite is not None:
            self.walk(suite)
        return self.state

    def statement(self, node: cst.CSTNode) -> None:
        if isinstance(node, cst.SimpleStatementLine):
            self.block(node.body)
        elif isinstance(node, cst.If):
            self.if_(node)
        elif isinstance(node, cst.For | cst.While):
            self.loop(node)
        elif isinstance(node, cst.Try | cst.TryStar):
            self.try_(node)
        elif isinstance(node, cst.With):
            self.with_(node)
        elif isinstance(node, cst.Match):
            self.match(node)
        elif isinstance(node, cst.FunctionDef | cst.ClassDef):
            for decorator in node.decorators:
                self.read(decorator.decorator)
            if isinstance(node, cst.ClassDef):
                for arg in (*node.bases, *node.keywords):
                    self.read(arg.value)
            else:
                for param in parameters(node.params):
                    self.read(param.default)
            self.bind(node.name)
        else:
            self.small(node)

    def small(self, node: cst.CSTNode) -> None:
        if isinstance(node, cst.Expr):
            self.read(node.value)
            if _no_return(node.value) or (
                isinstance(node.value, cst.Call) and self.stops(node.value)
            ):
                self.state = None
        elif isinstance(node, cst.Assign):
            self.read(node.value)
            for target in node.targets:
                self.target(target.target)
        elif isinstance(node, cst.AnnAssign):
            if node.value is not None:
                self.read(node.value)
                self.target(node.target)
        elif isinstance(node, cst.AugAssign):
            self.read(node.target)
            self.read(node.value)
            self.target(node.target)
        elif isinstance(node, cst.Return | cst.Raise):
            self.read(node.value if isinstance(node, cst.Return) else node.exc)
            self.state = None
        elif isinstance(node, cst.Break):
            if self.breaks:
                self.breaks[-1].append(self.state)
            self.state = None
        elif isinstance(node, cst.Continue):
            self.state = None
        elif isinstance(node, cst.Assert):
            self.read(node.test)
            self.read(node.msg)
            if isinstance(node.test, cst.Name) and node.test.value == "False":
                self.state = None
        elif isinstance(node, cst.Del):
            self.delete(node.target)
        elif isinstance(node, cst.Import | cst.ImportFrom) and isinstance(node.names, Sequence):
            for alias in node.names:
                self.bind(_imported_name(alias))

    def target(self, target: cst.BaseExpression) -> None:
        """Bind what an assignment target binds, reading the names its subscripts use."""
        if isinstance(target, cst.Attribute | cst.Subscript):
            self.read(target)
        elif isinstance(target, cst.Tuple | cst.List):
            for element in target.elements:
                self.target(element.value)
        elif isinstance(target, cst.StarredElement):
            self.target(target.value)
        else:
            self.bind(target)

    def delete(self, target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Tuple | cst.List):
            for element in target.elements:
                self.delete(element.value)
        elif isinstance(target, cst.Name):
            if self.state is not None:
                self.state = self.state - {target.value}
        else:
            self.read(target)

    def if_(self, node: cst.If, *, chained: bool = False) -> None:
        self.read(node.test)
        start = self.state
        with self.guarded(node.test, True):
            body = self.suite(node.body, start)
        with self.guarded(node.test, False):
            self.state = start
            if isinstance(node.orelse, cst.If):
                self.if_(node.orelse, chained=True)
            elif isinstance(node.orelse, cst.Else):
                self.walk(node.orelse.body)
            otherwise = self.state
        self.state = _join([body, otherwise])
        if not chained and (body is None) != (otherwise is None):
            # `if T: return` ... the rest of the block runs only where T failed.
            self.guards.append(_Guarded(self, node.test, otherwise is None).frame)

    def loop(self, node: cst.For | cst.While) -> None:
        if isinstance(node, cst.For):
            self.read(node.iter)
        else:
            self.read(node.test)
        start = self.state
        inside = _bound_in(node)
        self.loops.append(inside)
        self.breaks.append([])
        self.state = start
        if isinstance(node, cst.For):
            self.bind(node.target)
        self.walk(node.body)
        ran = self.state if self.state is not None else start
        breaks = self.breaks.pop()
        self.loops.pop()
        # Leaving normally, the body is taken to have run to its end at least once (pylint
        # assumes as much); paths that `continue` are not followed.
        endless = isinstance(node, cst.While) and _always_true(node.test)
        finished = None if endless else ran
        if node.orelse is not None:
            finished = self.suite(node.orelse.body, finished)
        self.state = _join([finished, *breaks])

    def try_(self, node: cst.Try | cst.TryStar) -> None:
        start = self.state
        assert start is not None
        self.left = None
        body = self.suite(node.body, start)
        exits = [body if body is not None else self.left]
        start = start | _safe_prefix(node.body)[0]  # a handler may start after any line but these
        if node.orelse is not None:
            body = self.suite(node.orelse.body, body)
        ends = [body]
        for handler in node.handlers:
            self.state = start
            self.read(handler.type)
            name = handler.name.name if handler.name is not None else None
            if isinstance(name, cst.Name):
                self.bind(name, remember=False)
            self.left = None
            self.walk(handler.body)
            ended = self.state if self.state is not None else self.left
            if isinstance(name, cst.Name):
                self.state = None if self.state is None else self.state - {name.value}
                ended = None if ended is None else ended - {name.value}
            ends.append(self.state)
            exits.append(ended)
        after = _join(ends)
        if node.finalbody is not None:
            # Without handlers, `finally` is taken to follow a failure; with them, pylint's
            # view: what the body or a handler bound on its way out.
            entry = _join(exits) if node.handlers else None
            done = self.suite(node.finalbody.body, start if entry is None else entry)
            after = None if after is None or done is None else after | done
        self.state = after

    def with_(self, node: cst.With) -> None:
        for item in node.items:
            self.read(item.item)
            if item.asname is not None:
                self.target(item.asname.name)  # type: ignore[arg-type]
        start = self.state
        body = self.suite(node.body, start)
        if start is not None and any(_suppresses(item) for item in node.items):
            body = _join([body, start | _safe_prefix(node.body)[0]])
        self.state = body

    def match(self, node: cst.Match) -> None:
        self.read(node.subject)
        start = self.state
        ends = []
        exhaustive = False
        for case in node.cases:
            self.state = start
            for name in _pattern_names(case.pattern):
                self.bind(name)
            self.read(case.guard)
            self.walk(case.body)
            ends.append(self.state)
            exhaustive |= case.guard is None and _irrefutable(case.pattern)
        self.state = _join(ends if exhaustive else [*ends, start])


def _imported_name(alias: cst.ImportAlias) -> cst.BaseExpression:
    if alias.asname is not None:
        return alias.asname.name  # type: ignore[return-value]
    first = alias.name
    while isinstance(first, cst.Attribute):
        first = first.value
    return first


def _always_true(test: cst.BaseExpression) -> bool:
    if isinstance(test, cst.Name):
        return test.value == "True"
    return isinstance(test, cst.Integer) and test.value not in {"0", "0x0", "0o0", "0b0"}


def _bound_in(loop: cst.For | cst.While) -> frozenset[str]:
    """Names a loop's target and body bind (its ``else`` runs once, after it)."""
    names = {n.value for n in target_names(loop.target)} if isinstance(loop, cst.For) else set()
    return frozenset(names) | bindings(loop.body)[0]


def _pattern_names(pattern: cst.MatchPattern) -> list[cst.Name]:
    names: list[cst.Name] = []

    class _Collect(cst.CSTVisitor):
        def visit_MatchAs(self, node: cst.MatchAs) -> None:
            if node.name is not None:
                names.append(node.name)

        def visit_MatchStar(self, node: cst.MatchStar) -> None:
            if node.name is not None:
                names.append(node.name)

        def visit_MatchMapping(self, node: cst.MatchMapping) -> None:
            if node.rest is not None:
                names.append(node.rest)

    pattern.visit(_Collect())
    return names


def _irrefutable(pattern: cst.MatchPattern) -> bool:
    if isinstance(pattern, cst.MatchAs):
        return pattern.pattern is None or _irrefutable(pattern.pattern)
    if isinstance(pattern, cst.MatchOr):
        return any(_irrefutable(p.pattern) for p in pattern.patterns)
    return False


def unbound_uses(
    function: cst.FunctionDef, stops: Callable[[cst.Call], bool] = lambda call: False
) -> list[cst.Name]:
    """The first use of each local that some path reaches without binding it. ``stops``: calls
    the caller knows never return (beyond ``sys.exit()`` and the like)."""
    flow = _Flow(function, stops)
    flow.walk(function.body)
    return list(flow.found.values())
