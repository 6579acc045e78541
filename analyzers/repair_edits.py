"""Small edits of a suspect line that might be its fix: the fix loop's cheap candidates.

Most one-line bugs are one token off: an operator, a variable, a bound, a wrapped call, a
``not``. So, as template-based program repair does (PraPR, TBar), the loop tries such edits of
the lines a finding names before asking a model to write the unit again. Each edit is one
change on those lines; which comes first is the model's call where one can score text
(``rank``: the likeliest first, as in AlphaRepair; each edit is scored on its unit up to two
lines past the change, so that scoring costs the changed lines and not the whole unit), else
a fixed order: the commonest one-token fixes first. Only the tests decide whether one is: nothing here runs code.

The edits are the planting operators of ``learning.bug_mutations`` read the other way, widened
to any operator of the same family, any variable of the unit and any attribute it reads, and
a call unwrapped to its argument. Source in, candidate units out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

import libcst as cst
import libcst.matchers as m
from libcst.metadata import Assignment, ExpressionContext

from .learning.bug_mutations import (
    OPERATORS,
    STRING,
    Candidate,
    Function,
    Site,
    apply,
    functions,
    same_spacing,
    shifted,
)

_COMPARISONS: tuple[type[cst.BaseCompOp], ...] = (
    cst.LessThan,
    cst.LessThanEqual,
    cst.GreaterThan,
    cst.GreaterThanEqual,
    cst.Equal,
    cst.NotEqual,
)
_ARITHMETIC: tuple[type[cst.BaseBinaryOp], ...] = (
    cst.Add,
    cst.Subtract,
    cst.Multiply,
    cst.FloorDivide,
    cst.Divide,
    cst.Modulo,
)
_NOT_VARIABLES = frozenset({"self", "cls"})


def _any_comparison(fn: Function) -> Iterator[Site]:
    """``a < b`` -> ``a > b``, ``a >= b``, ``a == b``...: every other ordering or equality."""
    for target in m.findall(fn.node.body, m.ComparisonTarget()):
        assert isinstance(target, cst.ComparisonTarget)
        if type(target.operator) not in _COMPARISONS:
            continue
        for other in _COMPARISONS:
            if other is not type(target.operator):
                yield target, target.with_changes(operator=same_spacing(target.operator, other))


def _any_arithmetic(fn: Function) -> Iterator[Site]:
    """``a + b`` -> ``a - b``, ``a * b``, ``a // b``...: every other arithmetic operator, not on
    strings."""
    for node in m.findall(fn.node.body, m.BinaryOperation()):
        assert isinstance(node, cst.BinaryOperation)
        if type(node.operator) not in _ARITHMETIC:
            continue
        if m.matches(node.left, STRING) or m.matches(node.right, STRING):
            continue
        for other in _ARITHMETIC:
            if other is not type(node.operator):
                yield node, node.with_changes(operator=same_spacing(node.operator, other))


def _bound_names(fn: Function) -> list[str]:
    """Names the unit binds (parameters, assignments, loop targets, inner functions), in the
    order they are first bound."""
    seen: dict[str, None] = {}
    for scope in {id(s): s for s in fn.scopes.values() if s is not None}.values():
        if getattr(scope, "node", None) is None or not _inside(scope.node, fn.node):
            continue
        for a in scope.assignments:  # type: ignore[attr-defined]
            if isinstance(a, Assignment) and a.name not in _NOT_VARIABLES:
                seen.setdefault(a.name, None)
    return list(seen)


def _inside(node: cst.CSTNode, fn: cst.FunctionDef) -> bool:
    return node is fn or any(node is n for n in m.findall(fn, m.FunctionDef() | m.Lambda()))


def _any_variable(fn: Function) -> Iterator[Site]:
    """A variable read -> any other name the unit binds (not a callee, ``self`` or ``cls``)."""
    names = _bound_names(fn)
    callees = {id(c.func) for c in m.findall(fn.node.body, m.Call()) if isinstance(c, cst.Call)}
    for name in m.findall(fn.node.body, m.Name()):
        assert isinstance(name, cst.Name)
        if (
            fn.contexts.get(name) is not ExpressionContext.LOAD
            or id(name) in callees
            or name.value not in names
        ):
            continue
        for other in names:
            if other != name.value:
                yield name, name.with_changes(value=other)


def _any_attribute(fn: Function) -> Iterator[Site]:
    """``node.incoming`` -> ``node.outgoing``: each other attribute name the unit reads."""
    found = [a for a in m.findall(fn.node.body, m.Attribute()) if isinstance(a, cst.Attribute)]
    names = list(dict.fromkeys(a.attr.value for a in found))
    for node in found:
        for other in names:
            if other != node.attr.value:
                yield node, node.with_changes(attr=node.attr.with_changes(value=other))


def _index_shift(fn: Function) -> Iterator[Site]:
    """``xs[i]`` -> ``xs[i - 1]``, ``xs[i + 1]``; ``dp[i, j]`` moves each index alone.
    Integer indices are left to ``off-by-one``."""
    for node in m.findall(fn.node.body, m.Index()):
        assert isinstance(node, cst.Index)
        value = node.value
        parts = [e.value for e in value.elements] if isinstance(value, cst.Tuple) else [value]
        for part in parts:
            if m.matches(part, m.Integer() | STRING | m.UnaryOperation(m.Minus())):
                continue
            for operator in (cst.Subtract(), cst.Add()):
                yield part, shifted(part, operator)


def _drop_offset(fn: Function) -> Iterator[Site]:
    """``x + 1`` -> ``x``, ``x - 1`` -> ``x``, ``1 + x`` -> ``x``: a bound or index one off
    by an offset written out (``seqs[mid + 1:]``), where ``off-by-one`` changes a literal."""
    one = m.Integer(value="1")
    for node in m.findall(fn.node.body, m.BinaryOperation(operator=m.Add() | m.Subtract())):
        assert isinstance(node, cst.BinaryOperation)
        if m.matches(node.right, one):
            yield node, _in_place_of(node, node.left)
        elif m.matches(node.left, one) and isinstance(node.operator, cst.Add):
            yield node, _in_place_of(node, node.right)


def _in_place_of(node: cst.BinaryOperation, operand: cst.BaseExpression) -> cst.BaseExpression:
    """``operand`` where ``node`` was: in ``node``'s parentheses unless it needs none."""
    if isinstance(operand, cst.Name | cst.Attribute | cst.Call | cst.Subscript | cst.Integer):
        return operand.with_changes(lpar=(), rpar=())
    return operand.with_changes(lpar=node.lpar, rpar=node.rpar)


def _unwrap_call(fn: Function) -> Iterator[Site]:
    """``f(x)`` -> ``x``: a call of one plain argument replaced by the argument."""
    for call in m.findall(fn.node.body, m.Call()):
        assert isinstance(call, cst.Call)
        if len(call.args) == 1 and call.args[0].keyword is None and not call.args[0].star:
            yield call, call.args[0].value


def _swap_boolean(fn: Function) -> Iterator[Site]:
    """``a and b`` <-> ``a or b``."""
    for node in m.findall(fn.node.body, m.BooleanOperation()):
        assert isinstance(node, cst.BooleanOperation)
        other = cst.Or if isinstance(node.operator, cst.And) else cst.And
        yield node, node.with_changes(operator=same_spacing(node.operator, other))


EDITS: dict[str, Callable[[Function], Iterator[Site]]] = {
    "comparison": _any_comparison,
    "membership-or-identity": OPERATORS["comparison-swap"],
    "arithmetic": _any_arithmetic,
    "augmented": OPERATORS["arithmetic-swap"],
    "off-by-one": OPERATORS["off-by-one"],
    "slice-bound": OPERATORS["slice-bound"],
    "index-shift": _index_shift,
    "drop-offset": _drop_offset,
    "swap-args": OPERATORS["swap-args"],
    "variable": _any_variable,
    "attribute": _any_attribute,
    "unwrap-call": _unwrap_call,
    "drop-not": OPERATORS["drop-not"],
    "add-not": OPERATORS["add-not"],
    "boolean": _swap_boolean,
}
"""Edits in the order tried when no model ranks them: the commonest one-token fixes first."""


@dataclass(frozen=True)
class LineEdit:
    """One candidate fix: the unit rewritten, and what changed, for a title."""

    edit: str
    unit: str
    """The whole unit with the edit, as ``units.split_units`` cuts it from the edited file."""
    before: str
    after: str
    """The changed lines, stripped: ``if x < y:`` -> ``if x <= y:``."""
    lines: tuple[int, int]
    """The changed lines of the file (1-based, inclusive)."""
    scored: str
    """What a model scores: the unit up to two lines past the change."""
    scored_before: str
    """The same lines of the unit as it was: what the edit is compared with."""

    @property
    def title(self) -> str:
        return f"Edit: `{self.before}` -> `{self.after}`"


class TooManyEdits(ValueError):
    """More edits than asked for: making each (a parse and a render) would take too long."""


def line_edits(
    source: str, qualname: str, lines: tuple[int, int], max_edits: int | None = None
) -> list[LineEdit]:
    """Every edit of ``qualname``'s code on file ``lines`` (1-based, inclusive) that compiles
    and keeps the change on those lines, distinct, in ``EDITS`` order; none when ``source``
    does not parse or ``qualname`` is not a function of it. ``TooManyEdits`` when there
    would be more than ``max_edits`` to try (dense code: thousands in 20 lines)."""
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError:
        return []
    fn = next((f for f in functions(module) if f.qualname == qualname), None)
    if fn is None:
        return []
    first, last = lines
    # A compound node may start a line above the lines asked about.
    sites = (
        (name, old, new)
        for name, of in EDITS.items()
        for old, new in of(fn)
        if first - 1 <= fn.starts.get(old, (0, 0))[0] <= last
    )
    candidates = list(sites if max_edits is None else islice(sites, max_edits + 1))
    if max_edits is not None and len(candidates) > max_edits:
        raise TooManyEdits(f"{qualname} has more than {max_edits} small edits to try")
    seen: set[str] = set()
    found: list[LineEdit] = []
    for name, old, new in candidates:
        made = apply(source, module, Candidate(qualname, name, old, new))
        if made is None or made.file_lines[0] > last or made.file_lines[1] < first:
            continue
        if made.unit.text in seen:
            continue
        seen.add(made.unit.text)
        u0, u1 = made.unit_lines
        o0 = u0 - 1
        changed = made.unit.text.splitlines()[o0:u1]
        was = made.original.text.splitlines()[o0 : o0 + len(changed)]
        window = "".join(made.unit.text.splitlines(keepends=True)[: u1 + 2])
        window_before = "".join(made.original.text.splitlines(keepends=True)[: u1 + 2])
        found.append(
            LineEdit(
                name,
                made.unit.text,
                _flat(was),
                _flat(changed),
                made.file_lines,
                window,
                window_before,
            )
        )
    return found


def _flat(lines: Sequence[str]) -> str:
    return " ".join(" ".join(lines).split())


Scores = Callable[[Sequence[str]], Sequence[float]]
"""A model's log-likelihood of each text (higher: reads more like code it expects)."""
Screens = Callable[[str, Sequence[str]], Sequence[float]]
"""A model's gain where each variant of a text first departs from it: the log-probability of
the variant's token there less the text's, all from one pass over the text. A free first look
at which edits could pay, before any is scored whole."""


def rank(edits: Sequence[LineEdit], score: Scores | None) -> list[LineEdit]:
    """``edits`` likeliest first by ``score``, ties (and all, without a score) in ``EDITS``
    order. The texts go to ``score`` sorted, so that each shares the longest beginning with
    the one before (a model need not read it again)."""
    if score is None:
        return list(edits)
    order = sorted(range(len(edits)), key=lambda i: edits[i].scored)
    values = dict(zip(order, score([edits[i].scored for i in order]), strict=True))
    return [edits[i] for i in sorted(range(len(edits)), key=lambda i: (-values[i], i))]


@dataclass(frozen=True)
class LikelierLine:
    """A line some edit makes the model find likelier: a suspect, with that edit as its fix."""

    gain: float
    """How much likelier (natural log): the edit's score less the unit's own."""
    edit: LineEdit


def likelier_lines(edits: Sequence[LineEdit], score: Scores, margin: float) -> list[LikelierLine]:
    """Per changed line, the edit the model likes best, kept when it beats the code as written
    by more than ``margin``; biggest gain first. Correct code is usually what a model expects
    most, so it gets nothing, while a one-token bug is often one edit away from code the model
    expects far more (``gcd(a % b, b)`` against ``gcd(b, a % b)``)."""
    # Last change first, each edit after its unit's window: every text then begins with the
    # one before up to its own change, so a model that reads on from the text it holds (the
    # unit, after a screen) reads only from each change to two lines past it.
    order = sorted(edits, key=lambda e: (-e.lines[0], e.scored))
    texts = list(dict.fromkeys(t for e in order for t in (e.scored_before, e.scored)))
    value = dict(zip(texts, score(texts), strict=True))
    best: dict[tuple[int, int], LikelierLine] = {}
    for edit in edits:
        gain = value[edit.scored] - value[edit.scored_before]
        held = best.get(edit.lines)
        if held is None or gain > held.gain:
            best[edit.lines] = LikelierLine(gain, edit)
    kept = [b for b in best.values() if b.gain > margin]
    return sorted(kept, key=lambda b: (-b.gain, b.edit.lines))
