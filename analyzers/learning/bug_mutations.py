"""Semantic bugs planted in a module's functions: the candidates ``dspy-lsp dataset bugs`` tries.

``mutations.py`` undoes our rules' fixes so that a rule must fire; these change what a function
computes (an operator, a bound, an argument, a variable, a statement, a ``not``, a return), and
only the project's tests can say whether the result is a bug. mutmut and cosmic-ray are test
runners first: cosmic-ray's operators work on parso trees, mutmut's are internal, and neither
swaps arguments, variables or returns, so the operators are libcst transformations of our own.
Source in, candidates out; nothing here runs a test.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m
from libcst.metadata import (
    Assignment,
    ExpressionContext,
    ExpressionContextProvider,
    FunctionScope,
    MetadataWrapper,
    PositionProvider,
    ScopeProvider,
)

from ..lines import split_lines
from ..units import Unit, split_units, unit_named

Site = tuple[cst.CSTNode, cst.CSTNode]
"""A node of the function and what replaces it."""


@dataclass(frozen=True)
class Function:
    """A function or method as ``units.split_units`` makes a unit of it, with its scope facts."""

    qualname: str
    node: cst.FunctionDef
    scopes: dict[cst.CSTNode, object]
    contexts: dict[cst.CSTNode, ExpressionContext]
    starts: dict[cst.CSTNode, tuple[int, int]]
    """1-based line and column where each node starts."""


@dataclass(frozen=True)
class Candidate:
    qualname: str
    operator: str
    old: cst.CSTNode
    new: cst.CSTNode


@dataclass(frozen=True)
class BugMutant:
    """One planted bug: the whole mutated module, and the function before and after."""

    qualname: str
    operator: str
    code: str
    unit: Unit
    """The mutated function, as ``units.split_units`` splits the mutated module."""
    original: Unit
    unit_lines: tuple[int, int]
    """1-based inclusive lines of the change within ``unit``."""
    file_lines: tuple[int, int]
    """The same lines within ``code``."""


_COMPARISON_SWAPS: dict[type[cst.BaseCompOp], type[cst.BaseCompOp]] = {
    cst.LessThan: cst.LessThanEqual,
    cst.LessThanEqual: cst.LessThan,
    cst.GreaterThan: cst.GreaterThanEqual,
    cst.GreaterThanEqual: cst.GreaterThan,
    cst.Equal: cst.NotEqual,
    cst.NotEqual: cst.Equal,
    cst.In: cst.NotIn,
    cst.NotIn: cst.In,
    cst.Is: cst.IsNot,
    cst.IsNot: cst.Is,
}
_ARITHMETIC_SWAPS: dict[type[cst.BaseBinaryOp], type[cst.BaseBinaryOp]] = {
    cst.Add: cst.Subtract,
    cst.Subtract: cst.Add,
    cst.Multiply: cst.Divide,
    cst.Divide: cst.Multiply,
    cst.FloorDivide: cst.Multiply,
    cst.Modulo: cst.FloorDivide,
}
_AUGMENTED_SWAPS: dict[type[cst.BaseAugOp], type[cst.BaseAugOp]] = {
    cst.AddAssign: cst.SubtractAssign,
    cst.SubtractAssign: cst.AddAssign,
}
STRING = m.SimpleString() | m.FormattedString() | m.ConcatenatedString()


def same_spacing(old: cst.CSTNode, new_type: type[cst.CSTNode]) -> cst.CSTNode:
    """An operator of ``new_type`` spaced like ``old`` (``not in`` keeps its inner space)."""
    kept = {k: getattr(old, k) for k in ("whitespace_before", "whitespace_after")}
    return new_type(**kept)  # type: ignore[call-arg]


def _comparison_swap(fn: Function) -> Iterator[Site]:
    """``a < b`` -> ``a <= b``, ``==`` -> ``!=``, ``in`` -> ``not in``, ``is`` -> ``is not``."""
    for target in m.findall(fn.node.body, m.ComparisonTarget()):
        assert isinstance(target, cst.ComparisonTarget)
        swapped = _COMPARISON_SWAPS[type(target.operator)]
        yield target, target.with_changes(operator=same_spacing(target.operator, swapped))


def _arithmetic_swap(fn: Function) -> Iterator[Site]:
    """``a + b`` -> ``a - b``, ``*`` -> ``/``, ``//`` -> ``*``, ``%`` -> ``//``; ``+=`` -> ``-=``.

    Not on strings: ``"a" - "b"`` is a type error, not a plausible bug.
    """
    for node in m.findall(fn.node.body, m.BinaryOperation() | m.AugAssign()):
        if isinstance(node, cst.BinaryOperation):
            swapped = _ARITHMETIC_SWAPS.get(type(node.operator))
            strings = m.matches(node.left, STRING) or m.matches(node.right, STRING)
            if swapped is not None and not strings:
                yield node, node.with_changes(operator=same_spacing(node.operator, swapped))
        elif isinstance(node, cst.AugAssign) and type(node.operator) in _AUGMENTED_SWAPS:
            swapped_aug = _AUGMENTED_SWAPS[type(node.operator)]
            yield node, node.with_changes(operator=same_spacing(node.operator, swapped_aug))


def _off_by_one(fn: Function) -> Iterator[Site]:
    """A decimal integer ``n`` -> ``n + 1`` and, above zero, ``n - 1`` (written as the value)."""
    for node in m.findall(fn.node.body, m.Integer()):
        assert isinstance(node, cst.Integer)
        if not node.value.isdigit():
            continue
        value = int(node.value)
        for changed in (value + 1, value - 1):
            if changed >= 0:
                yield node, node.with_changes(value=str(changed))


_PLAIN_BOUND = (cst.Name, cst.Attribute, cst.Call, cst.Subscript)


def shifted(bound: cst.BaseExpression, operator: cst.BaseBinaryOp) -> cst.BinaryOperation:
    plain = isinstance(bound, _PLAIN_BOUND) or m.matches(
        bound, m.BinaryOperation(operator=m.Add() | m.Subtract())
    )
    left = bound if plain else bound.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return cst.BinaryOperation(left, operator, cst.Integer("1"))


def _slice_bound(fn: Function) -> Iterator[Site]:
    """``xs[i:n]`` -> ``xs[i + 1:n]``, ``xs[i - 1:n]``, ``xs[i:n + 1]``, ``xs[i:n - 1]``.

    Integer bounds are left to ``off-by-one``, which already moves them.
    """
    for node in m.findall(fn.node.body, m.Slice()):
        assert isinstance(node, cst.Slice)
        for field in ("lower", "upper"):
            bound = getattr(node, field)
            if bound is None or m.matches(bound, m.Integer() | m.UnaryOperation(m.Minus())):
                continue
            for operator in (cst.Add(), cst.Subtract()):
                yield node, node.with_changes(**{field: shifted(bound, operator)})


def _swap_args(fn: Function) -> Iterator[Site]:
    """``f(a, b)`` -> ``f(b, a)``: each pair of neighbouring, different positional arguments."""
    for call in m.findall(fn.node.body, m.Call()):
        assert isinstance(call, cst.Call)
        args = list(call.args)
        for i in range(len(args) - 1):
            first, second = args[i], args[i + 1]
            if any(a.keyword is not None or a.star for a in (first, second)):
                continue
            if first.value.deep_equals(second.value):  # the same code: no change
                continue
            swapped = [*args[:i], first.with_changes(value=second.value)]
            swapped += [second.with_changes(value=first.value), *args[i + 2 :]]
            yield call, call.with_changes(args=swapped)


_NOT_VARIABLES = frozenset({"self", "cls"})


def _wrong_variable(fn: Function) -> Iterator[Site]:
    """A local or parameter read -> the local or parameter bound last on an earlier line.

    Only names of the function's own scope, bound before the line that reads them (parameters
    count as bound), so the mutant reads a value of the function rather than failing on an
    unbound name; not the callee of a call, not ``self`` or ``cls``.
    """
    callees = {id(c.func) for c in m.findall(fn.node.body, m.Call()) if isinstance(c, cst.Call)}
    for name in m.findall(fn.node.body, m.Name()):
        assert isinstance(name, cst.Name)
        scope = fn.scopes.get(name)
        if (
            fn.contexts.get(name) is not ExpressionContext.LOAD
            or not isinstance(scope, FunctionScope)
            or scope.node is not fn.node
            or id(name) in callees
            or name.value in _NOT_VARIABLES
        ):
            continue
        line = fn.starts[name][0]
        bound = [
            (fn.starts[a.node], a.name)
            for a in scope.assignments
            if isinstance(a, Assignment)
            and (isinstance(a.node, cst.Param) or fn.starts[a.node][0] < line)
        ]
        if name.value not in {b for _, b in bound}:
            continue
        others = [b for b in sorted(bound) if b[1] != name.value and b[1] not in _NOT_VARIABLES]
        if others:
            yield name, name.with_changes(value=others[-1][1])


def _is_docstring(stmt: cst.BaseStatement, index: int) -> bool:
    return index == 0 and m.matches(
        stmt, m.SimpleStatementLine(body=[m.Expr(value=m.SimpleString() | m.ConcatenatedString())])
    )


_KEEP = (cst.Return, cst.Pass, cst.Global, cst.Nonlocal)


def _drop_statement(fn: Function) -> Iterator[Site]:
    """A simple statement of a block with another statement left -> gone.

    Not a docstring, ``pass``, ``global`` or a ``return`` (``changed-return`` owns those).
    """
    for block in m.findall(fn.node, m.IndentedBlock()):
        assert isinstance(block, cst.IndentedBlock)
        body = list(block.body)
        if len(body) < 2:
            continue
        for i, stmt in enumerate(body):
            if isinstance(stmt, cst.SimpleStatementLine) and not (
                _is_docstring(stmt, i) or any(isinstance(s, _KEEP) for s in stmt.body)
            ):
                yield block, block.with_changes(body=[*body[:i], *body[i + 1 :]])


def _drop_not(fn: Function) -> Iterator[Site]:
    """``not x`` -> ``x``."""
    for node in m.findall(fn.node.body, m.UnaryOperation(operator=m.Not())):
        assert isinstance(node, cst.UnaryOperation)
        operand = node.expression
        if node.lpar:
            operand = operand.with_changes(
                lpar=[*node.lpar, *operand.lpar], rpar=[*operand.rpar, *node.rpar]
            )
        yield node, operand


_LOOSE = (cst.BooleanOperation, cst.IfExp, cst.Lambda, cst.NamedExpr)


def _add_not(fn: Function) -> Iterator[Site]:
    """``if x:`` -> ``if not x:``, also for ``elif`` and ``while`` (an operand that binds looser
    than ``not`` is parenthesised)."""
    for node in m.findall(fn.node.body, m.If() | m.While()):
        assert isinstance(node, cst.If | cst.While)
        test = node.test
        if m.matches(test, m.UnaryOperation(operator=m.Not())):
            continue  # drop-not's
        operand = test
        if isinstance(test, _LOOSE) and not test.lpar:
            operand = test.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        yield test, cst.UnaryOperation(cst.Not(), operand)


def _changed_return(fn: Function) -> Iterator[Site]:
    """``return True`` <-> ``return False``; any other ``return x`` -> ``return None``."""
    flipped = {"True": "False", "False": "True"}
    for node in m.findall(fn.node.body, m.Return()):
        assert isinstance(node, cst.Return)
        value = node.value
        if value is None or m.matches(value, m.Name("None")):
            continue
        new_value = cst.Name(
            flipped.get(value.value, "None") if isinstance(value, cst.Name) else "None"
        )
        yield node, node.with_changes(value=new_value)


OPERATORS: dict[str, Callable[[Function], Iterator[Site]]] = {
    "comparison-swap": _comparison_swap,
    "arithmetic-swap": _arithmetic_swap,
    "off-by-one": _off_by_one,
    "slice-bound": _slice_bound,
    "swap-args": _swap_args,
    "wrong-variable": _wrong_variable,
    "drop-statement": _drop_statement,
    "drop-not": _drop_not,
    "add-not": _add_not,
    "changed-return": _changed_return,
}


def functions(module: cst.Module) -> list[Function]:
    """Top-level functions and the methods of top-level classes: the function units."""
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    scopes = dict(wrapper.resolve(ScopeProvider))
    contexts = dict(wrapper.resolve(ExpressionContextProvider))
    positions = wrapper.resolve(PositionProvider).items()
    starts = {node: (pos.start.line, pos.start.column) for node, pos in positions}
    found: list[Function] = []
    for stmt in module.body:
        if isinstance(stmt, cst.FunctionDef):
            found.append(Function(stmt.name.value, stmt, scopes, contexts, starts))
        elif isinstance(stmt, cst.ClassDef) and isinstance(stmt.body, cst.IndentedBlock):
            for item in stmt.body.body:
                if isinstance(item, cst.FunctionDef):
                    qualname = f"{stmt.name.value}.{item.name.value}"
                    found.append(Function(qualname, item, scopes, contexts, starts))
    return found


def candidates(module: cst.Module) -> list[Candidate]:
    """Every candidate of every operator, function by function in source order."""
    return [
        Candidate(fn.qualname, name, old, new)
        for fn in functions(module)
        for name, sites in OPERATORS.items()
        for old, new in sites(fn)
    ]


def schedule(found: Sequence[Candidate], seed: int) -> list[Candidate]:
    """``found`` shuffled by ``seed`` and dealt operator by operator, so a capped run tries every
    operator rather than mostly the commonest (integer constants, variable reads)."""
    rng = random.Random(seed)
    by_operator = {name: [c for c in found if c.operator == name] for name in OPERATORS}
    for group in by_operator.values():
        rng.shuffle(group)
    longest = max((len(g) for g in by_operator.values()), default=0)
    return [g[i] for i in range(longest) for g in by_operator.values() if i < len(g)]


def apply(source: str, module: cst.Module, candidate: Candidate) -> BugMutant | None:
    """The mutant ``candidate`` makes of ``module`` (parsed from ``source``), or None when the
    result does not compile, changes nothing, or its function is no longer a unit."""
    code = module.deep_replace(candidate.old, candidate.new).code
    if code == source:
        return None
    try:
        compile(code, "<mutant>", "exec", flags=ast.PyCF_ONLY_AST)
    except (SyntaxError, ValueError):
        return None
    original = unit_named(split_units(source), candidate.qualname)
    unit = unit_named(split_units(code), candidate.qualname)
    if original is None or unit is None or not unit.contiguous:
        return None
    first_unit, last_unit = unit.line_map[0] + 1, unit.line_map[-1] + 1
    first, last = changed_lines(split_lines(source), split_lines(code))
    first, last = max(first, first_unit), min(last, last_unit)
    if first > last:
        return None
    offset = first_unit - 1
    return BugMutant(
        candidate.qualname,
        candidate.operator,
        code,
        unit,
        original,
        (first - offset, last - offset),
        (first, last),
    )


def mutants(source: str) -> list[BugMutant]:
    """Every mutant of ``source`` that compiles, in source order; none for an unparsable text."""
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError:
        return []
    return [made for c in candidates(module) if (made := apply(source, module, c)) is not None]


def changed_lines(old: Sequence[str], new: Sequence[str]) -> tuple[int, int]:
    """1-based inclusive lines of ``new`` that differ from ``old``; where lines were only
    removed, the two lines either side of the gap (as QuixBugs labels a missing line)."""
    size = min(len(old), len(new))
    head = next((i for i in range(size) if old[i] != new[i]), size)
    rest = size - head
    tail = next((i for i in range(rest) if old[-1 - i] != new[-1 - i]), rest)
    if len(new) - tail > head:
        return head + 1, len(new) - tail
    return max(1, head), head + 1
