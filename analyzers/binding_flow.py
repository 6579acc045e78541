"""Which local names are bound on every path to a use, in one function body (libcst).

A forward pass over the statements carries the set of names bound on *every* path so far
(``None`` once no path gets there: after ``return``, ``raise``, ``break``...). A use of a local
outside that set, after a statement that binds it on *some* path, may raise
``UnboundLocalError``. Working code is full of paths that cannot happen for reasons a flow
pass does not see, so the pass leans towards silence:

- a loop's body counts as having run (as pylint assumes), and a name bound anywhere in a loop is
  not checked inside it (an earlier iteration may have bound it); ``match`` counts as
  exhaustive (it usually dispatches on an enum or a ``Literal``);
- a use under a test that implies the one that guarded the binding is trusted (``if debug:``
  ... ``if debug:``; ``if a or b:`` ... ``if a:``; ``if x is not None:`` ... ``if x:``), and
  ``assert T`` or ``if not T: return`` make ``T`` known for the rest of the block;
- a use under a test that reads a *companion* of the name is trusted: a flag bound in the same
  block (``ok = True; v = f()`` ... ``if ok: use(v)``) or in the branch that did not bind it
  (``except E: ok = False``); a later ``if`` on a companion that binds the name on its other
  side completes it;
- the opening lines of a ``try`` that cannot fail are taken to have run in its handlers;
- the names an ``except ... as e`` clause binds are ruff's F821 once the clause ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

import libcst as cst

from .cst_scope import Frame, bindings, code_of, names_in, parameters, target_names
from .cst_walk import children, everywhere, walk
from .flow_exits import ends_in_raise, never_returns, opening_bindings, reraises, suppresses
from .flow_tests import Known, known

State = frozenset[str] | None
"""Names bound on every path to here; None: no path gets here."""
Branch = tuple[State, frozenset[str]]
"""Where a branch ends, and the names it assigned on the way."""


_COMPREHENSIONS = cst.ListComp | cst.SetComp | cst.DictComp | cst.GeneratorExp


def _join(states: Iterable[State]) -> State:
    live = [s for s in states if s is not None]
    if not live:
        return None
    return frozenset.intersection(*live)


def _catches_attribute_errors(node: cst.Try | cst.TryStar) -> bool:
    return any("AttributeError" in code_of(h.type) for h in node.handlers if h.type is not None)


class _Flow:
    def __init__(self, function: cst.FunctionDef, stops: Callable[[cst.Call], bool]) -> None:
        self.stops = stops
        self.frame = Frame(function)  # its locals are worked out only if a use needs them
        self.state: State = frozenset(p.name.value for p in parameters(function.params))
        self.maybe: set[str] = set()  # bound by some statement walked so far
        self.writes: list[str] = []  # every binding walked, in order
        self.guards: list[Known] = []
        self.bound_under: dict[str, list[Known]] = {}  # the tests around each binding
        self.blocks: list[int] = []  # the blocks around the statement walked, outermost first
        self.sites: dict[str, set[int]] = {}  # the blocks around each binding of a name
        self.alternates: dict[str, set[str]] = {}  # names bound where the name was not
        self.loops: list[cst.For | cst.While] = []
        self.breaks: list[list[State]] = []
        self.continues: list[list[State]] = []
        self.helpers_that_raise: set[str] = set()
        self.left: State = None  # the state before the last statement that jumped away
        self.found: dict[str, cst.Name] = {}
        self.walrus = any(type(n) is cst.NamedExpr for n in walk(function.body, everywhere))

    # -- names ---------------------------------------------------------------------------

    def use(self, name: cst.Name) -> None:
        value = name.value
        state = self.state
        if state is None or value in state or value not in self.maybe or value in self.found:
            return
        if value not in self.frame.locals or any(value in _bound_in(loop) for loop in self.loops):
            return
        if not self._trusted(value):
            self.found[value] = name

    def _trusted(self, name: str) -> bool:
        """Whether the tests around this use imply a path that bound ``name``. Tests around
        both the binding and the use (an earlier `assert`, an enclosing `if`) tell nothing."""
        then = self.bound_under.get(name, [])
        shared = {id(k) for k in then} & {id(k) for k in self.guards}
        now = [k for k in self.guards if id(k) not in shared]
        then = [k for k in then if id(k) not in shared]
        holds = {fact for k in now for fact in k.holds}
        if {(f"'{name}' in locals()", True), (f'"{name}" in locals()', True)} & holds:
            return True
        bound_under = {fact for k in then for fact in k.holds}
        implied = bound_under | {fact for k in then for fact in k.either}
        if holds & implied:
            return True
        if any(k.either and k.either <= implied for k in self.guards):
            return True  # `if a or b:` where `a` and `b` each imply the binding
        tested = {n for k in now for n in k.names}
        return bool(tested & (self.companions(name) | self.alternates.get(name, set())))

    def decided(self, test: cst.BaseExpression) -> bool | None:
        """What the tests around here already say about ``test`` (None: nothing). One of an
        `or` of facts holds when the others are known to fail (`not (a and b)` and `a`: not b)."""
        constant = _constant(test)
        if constant is not None or not self.guards:
            return constant
        holds = {fact for k in self.guards for fact in k.holds}
        for k in self.guards:
            open_ = [f for f in k.either if (f[0], not f[1]) not in holds]
            if len(open_) == 1:
                holds.add(open_[0])
        for held in (True, False):
            facts = known(test, held).holds
            if facts and facts <= holds:
                return held
        return None

    def companions(self, name: str) -> set[str]:
        """Names bound in a block (other than the function's own) that also holds a binding
        of ``name``."""
        blocks = self.sites.get(name, set())
        return {other for other, where in self.sites.items() if where & blocks} - {name}

    def bind(self, target: cst.BaseExpression, *, remember: bool = True) -> None:
        names = {n.value for n in target_names(target)}
        if remember:
            self.maybe |= names
            self.writes.extend(names)
            for name in names:
                self.bound_under.setdefault(name, []).extend(self.guards)
                self.sites.setdefault(name, set()).update(self.blocks)
        if self.state is not None:
            self.state = self.state | names

    def read(self, node: cst.CSTNode | None) -> None:
        """Walk an expression in evaluation order, checking each name it reads."""
        state = self.state
        if node is None or state is None or (self.maybe <= state and not self.walrus):
            return  # nothing read here can be unbound, and nothing here binds
        self._read(node)

    def _read(self, node: cst.CSTNode) -> None:
        if isinstance(node, cst.Name):
            self.use(node)
        elif isinstance(node, cst.Attribute | cst.Arg):
            self._read(node.value)
        elif isinstance(node, cst.Lambda):
            return
        elif isinstance(node, _COMPREHENSIONS):
            self._read(node.for_in.iter)  # the rest runs in the comprehension's own scope
        elif isinstance(node, cst.NamedExpr):
            self._read(node.value)
            self.bind(node.target)
        elif isinstance(node, cst.BooleanOperation):
            self._read(node.left)
            self.guards.append(known(node.left, isinstance(node.operator, cst.And)))
            self._read(node.right)
            self.guards.pop()
        elif isinstance(node, cst.IfExp):
            self._read(node.test)
            for held, branch in ((True, node.body), (False, node.orelse)):
                self.guards.append(known(node.test, held))
                self._read(branch)
                self.guards.pop()
        else:
            for child in children(node):
                self._read(child)

    def _join_branches(self, branches: Sequence[Branch]) -> State:
        """The names bound after all of ``branches``; a name only some of them bind gets the
        names the others assigned as alternates (flags that tell the paths apart)."""
        joined = _join(end for end, _ in branches)
        if joined is None:
            return joined
        live = [(end, written) for end, written in branches if end is not None]
        for partly in frozenset().union(*(end for end, _ in live)) - joined:
            for end, written in live:
                if partly not in end:
                    self.alternates.setdefault(partly, set()).update(written - {partly})
        return joined

    # -- statements ----------------------------------------------------------------------

    def walk(self, suite: cst.BaseSuite, *, root: bool = False) -> None:
        if not root:
            self.blocks.append(id(suite))
        guards = len(self.guards)
        for statement in suite.body:
            if self.state is None:
                break
            before = self.state
            self.statement(statement)
            if self.state is None:
                self.left = before
        del self.guards[guards:]  # what `assert` or an `if` that left early told the block
        if not root:
            self.blocks.pop()

    def suite(self, suite: cst.BaseSuite | None, start: State) -> State:
        self.state = start
        if suite is not None:
            self.walk(suite)
        return self.state

    def branch(self, suite: cst.BaseSuite | None, start: State) -> Branch:
        mark = len(self.writes)
        end = self.suite(suite, start)
        return end, frozenset(self.writes[mark:])

    def statement(self, node: cst.CSTNode) -> None:
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                if self.state is None:
                    return
                self.small(small)
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
            self.definition(node)

    def definition(self, node: cst.FunctionDef | cst.ClassDef) -> None:
        for decorator in node.decorators:
            self.read(decorator.decorator)
        if isinstance(node, cst.ClassDef):
            for arg in (*node.bases, *node.keywords):
                self.read(arg.value)
        else:
            for param in parameters(node.params):
                self.read(param.default)
            if ends_in_raise(node):
                self.helpers_that_raise.add(node.name.value)
        self.bind(node.name)

    def small(self, node: cst.CSTNode) -> None:
        if isinstance(node, cst.Expr):
            self.read(node.value)
            if isinstance(node.value, cst.Call) and self._stops(node.value):
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
        elif isinstance(node, cst.Break | cst.Continue):
            jumps = self.breaks if isinstance(node, cst.Break) else self.continues
            if jumps:
                jumps[-1].append(self.state)
            self.state = None
        elif isinstance(node, cst.Assert):
            self.read(node.test)
            self.read(node.msg)
            if _false(node.test):
                self.state = None
            else:
                self.guards.append(known(node.test, True))
        elif isinstance(node, cst.Del):
            self.delete(node.target)
        elif isinstance(node, cst.Import | cst.ImportFrom) and isinstance(node.names, Sequence):
            for alias in node.names:
                self.bind(_imported_name(alias))

    def _stops(self, call: cst.Call) -> bool:
        func = call.func
        helper = isinstance(func, cst.Name) and func.value in self.helpers_that_raise
        return helper or never_returns(call) or self.stops(call)

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
        constant = self.decided(node.test)
        self.guards.append(known(node.test, True))
        body, body_writes = self.branch(node.body, None if constant is False else start)
        self.guards[-1] = known(node.test, False)
        mark = len(self.writes)
        self.state = None if constant is True else start
        if isinstance(node.orelse, cst.If) and self.state is not None:
            self.if_(node.orelse, chained=True)
        elif isinstance(node.orelse, cst.Else) and self.state is not None:
            self.walk(node.orelse.body)
        otherwise = self.state
        self.guards.pop()
        else_writes = frozenset(self.writes[mark:])
        joined = self._join_branches([(body, body_writes), (otherwise, else_writes)])
        if joined is not None and body is not None and otherwise is not None:
            tested = known(node.test, True).names
            partly = (body | otherwise) - joined
            joined |= {name for name in partly if tested & self.companions(name)}
        self.state = joined
        if not chained and (body is None) != (otherwise is None):
            # `if T: return` ... the rest of the block runs only where T failed.
            self.guards.append(known(node.test, otherwise is None))

    def loop(self, node: cst.For | cst.While) -> None:
        self.read(node.iter if isinstance(node, cst.For) else node.test)
        start = self.state
        self.loops.append(node)
        self.breaks.append([])
        self.continues.append([])
        if isinstance(node, cst.For):
            self.bind(node.target)
        # A body that runs had a non-empty iterable (or a true test).
        self.guards.append(known(node.iter if isinstance(node, cst.For) else node.test, True))
        self.walk(node.body)
        self.guards.pop()
        # Leaving normally, the body is taken to have run to its end at least once (pylint
        # assumes as much); if it never gets there, to have ended in a `continue`.
        continues = self.continues.pop()
        ran = self.state if self.state is not None else _join(continues)
        breaks = self.breaks.pop()
        self.loops.pop()
        endless = isinstance(node, cst.While) and _always_true(node.test)
        finished = None if endless else (ran if ran is not None else start)
        if node.orelse is not None:
            finished = self.suite(node.orelse.body, finished)
        self.state = _join([finished, *breaks])

    def try_(self, node: cst.Try | cst.TryStar) -> None:
        start = self.state
        assert start is not None
        self.left = None
        mark = len(self.writes)
        body = self.suite(node.body, start)
        exits = [body if body is not None else self.left]
        opening = opening_bindings(node.body, not _catches_attribute_errors(node))[0]
        start = start | opening  # a handler may start after any line of the body but these
        if body is None and self.left is not None and _ends_in_raise(node.body):
            start = start | self.left  # the handlers are there for the body's own `raise`
        if node.orelse is not None:
            body = self.suite(node.orelse.body, body)
        ends: list[Branch] = [(body, frozenset(self.writes[mark:]))]
        for handler in node.handlers:
            self.state = start
            self.read(handler.type)
            name = handler.name.name if handler.name is not None else None
            if isinstance(name, cst.Name):
                self.bind(name, remember=False)
            self.left = None
            mark = len(self.writes)
            self.walk(handler.body)
            if _converts(handler):
                self.state = None
            ended = self.state if self.state is not None else self.left
            if isinstance(name, cst.Name):
                self.state = None if self.state is None else self.state - {name.value}
                ended = None if ended is None else ended - {name.value}
            ends.append((self.state, frozenset(self.writes[mark:])))
            exits.append(ended)
        after = self._join_branches(ends)
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
        assert start is not None
        body, written = self.branch(node.body, start)
        if any(reraises(item) for item in node.items):
            body = None
        elif any(suppresses(item) for item in node.items):
            stopped = start | opening_bindings(node.body)[0]
            body = self._join_branches([(body, written), (stopped, frozenset())])
        self.state = body

    def match(self, node: cst.Match) -> None:
        self.read(node.subject)
        start = self.state
        ends: list[Branch] = []
        for case in node.cases:
            mark = len(self.writes)
            self.state = start
            for name in _pattern_names(case.pattern):
                self.bind(name)
            self.read(case.guard)
            self.walk(case.body)
            ends.append((self.state, frozenset(self.writes[mark:])))
        self.state = self._join_branches(ends)


def _ends_in_raise(suite: cst.BaseSuite) -> bool:
    last = suite.body[-1] if suite.body else None
    small = last.body if isinstance(last, cst.SimpleStatementLine) else [last]
    return isinstance(small[-1], cst.Raise)


def _converts(handler: cst.ExceptHandler | cst.ExceptStarHandler) -> bool:
    """A handler that ends by passing the exception to a helper (``self._convert_error(exc)``,
    ``fallback(ke.args[0], ke)``): such a helper re-raises it in another form."""
    name = handler.name.name if handler.name is not None else None
    body = handler.body.body
    if not isinstance(name, cst.Name) or not body:
        return False
    last = body[-1]
    small = last.body[-1] if isinstance(last, cst.SimpleStatementLine) else None
    if not (isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)):
        return False
    call = small.value
    if _logs(call.func):
        return False
    return any(name.value in names_in(arg.value) for arg in call.args)


def _logs(func: cst.BaseExpression) -> bool:
    if not isinstance(func, cst.Attribute):
        return isinstance(func, cst.Name) and func.value in {"print", "warn"}
    receiver = code_of(func.value).lower()
    return "log" in receiver or func.attr.value in _LOGGING


_LOGGING = frozenset(
    {"debug", "info", "warning", "warn", "error", "exception", "critical", "append"}
)


@lru_cache(maxsize=256)
def _bound_in(loop: cst.For | cst.While) -> frozenset[str]:
    """Names a loop's target and body bind (an earlier iteration may have bound them)."""
    inside = bindings(loop.body)[0]
    if isinstance(loop, cst.For):
        inside |= {n.value for n in target_names(loop.target)}
    return inside


def _imported_name(alias: cst.ImportAlias) -> cst.BaseExpression:
    if alias.asname is not None:
        return alias.asname.name  # type: ignore[return-value]
    first = alias.name
    while isinstance(first, cst.Attribute):
        first = first.value
    return first


def _constant(test: cst.BaseExpression) -> bool | None:
    """``TYPE_CHECKING`` is False when the code runs (``not TYPE_CHECKING``: True)."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        inner = _constant(test.expression)
        return None if inner is None else not inner
    name = test.attr.value if isinstance(test, cst.Attribute) else getattr(test, "value", None)
    return False if name == "TYPE_CHECKING" else None


def _false(test: cst.BaseExpression) -> bool:
    """``False``, ``0`` or ``None``: ``assert False`` always fails."""
    if isinstance(test, cst.Name):
        return test.value in {"False", "None"}
    return isinstance(test, cst.Integer) and test.value == "0"


def _always_true(test: cst.BaseExpression) -> bool:
    if isinstance(test, cst.Name):
        return test.value == "True"
    return isinstance(test, cst.Integer) and test.value not in {"0", "0x0", "0o0", "0b0"}


def _pattern_names(pattern: cst.MatchPattern) -> list[cst.Name]:
    names = []
    for node in walk(pattern, everywhere):
        if isinstance(node, cst.MatchAs | cst.MatchStar) and node.name is not None:
            names.append(node.name)
        elif isinstance(node, cst.MatchMapping) and node.rest is not None:
            names.append(node.rest)
    return names


def unbound_uses(
    function: cst.FunctionDef, stops: Callable[[cst.Call], bool] = lambda call: False
) -> list[cst.Name]:
    """The first use of each local that some path reaches without binding it. ``stops``: calls
    the caller knows never return (beyond ``sys.exit()`` and the like)."""
    flow = _Flow(function, stops)
    flow.walk(function.body, root=True)
    return list(flow.found.values())
