"""Self-generated examples: break clean code the way our rules' fixes repair it.

Each mutation undoes one rule's fix (``x is None`` becomes ``x == None``), so clean code gives
a labelled (code, findings) pair and a plan whose gold rewrite is the clean unit. A mutation is
kept only when the engine confirms it: the mutated unit parses and the intended rule, silent on
the original, now reports the changed lines. Labels come from the engine, never from here.
"""

from __future__ import annotations

import ast
import random
import textwrap
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import reduce

import libcst as cst
import libcst.matchers as m

from ..comparison_operators import as_equality, as_identity
from ..lines import split_lines
from ..programs.inputs import note_of, problem_text, rule_findings
from ..units import Unit, split_units
from .examples import AnalysisExample, PlanExample
from .sources import finding_label

Site = tuple[cst.CSTNode, cst.CSTNode]
"""A node of the clean unit and what replaces it."""


@dataclass(frozen=True)
class Mutation:
    name: str
    rule: str
    """The rule whose fix this mutation undoes: it must report the mutated lines."""
    sites: Callable[[cst.Module], Iterator[Site]]


def _space(text: str = " ") -> cst.SimpleWhitespace:
    return cst.SimpleWhitespace(text)


_SINGLETON = m.Name("None") | m.Name("True") | m.Name("False")


def _single_comparisons(
    module: cst.Module, operand: m.BaseMatcherNode
) -> Iterator[cst.ComparisonTarget]:
    """The target (operator and right side) of each ``a <op> b`` with ``operand`` on a side."""
    for node in m.findall(module, m.Comparison(comparisons=[m.ComparisonTarget()])):
        assert isinstance(node, cst.Comparison)
        target = node.comparisons[0]
        if m.matches(target.comparator, operand) or m.matches(node.left, operand):
            yield target


def _singleton_equality(module: cst.Module) -> Iterator[Site]:
    """``x is None`` -> ``x == None`` (DL104)."""
    for target in _single_comparisons(module, _SINGLETON):
        if isinstance(target.operator, cst.Is | cst.IsNot):
            yield target, target.with_changes(operator=as_equality(target.operator))


def _bare_except(module: cst.Module) -> Iterator[Site]:
    """``except ValueError:`` -> ``except:`` (DL102); only a last handler may be bare."""
    for node in m.findall(module, m.Try()):
        assert isinstance(node, cst.Try)
        last = node.handlers[-1] if node.handlers else None
        if last is not None and last.type is not None and last.name is None:
            yield last, last.with_changes(type=None, whitespace_after_except=_space(""))


def _guard_matcher(name: str) -> m.If:
    assign = m.Assign(targets=[m.AssignTarget(target=m.Name(name))])
    return m.If(
        test=m.Comparison(
            left=m.Name(name), comparisons=[m.ComparisonTarget(m.Is(), m.Name("None"))]
        ),
        body=m.IndentedBlock(body=[m.SimpleStatementLine(body=[assign])]),
        orelse=None,
    )


def _mutable_default(module: cst.Module) -> Iterator[Site]:
    """``def f(x=None): if x is None: x = []`` -> ``def f(x=[])`` (DL101)."""
    for func in m.findall(module, m.FunctionDef(body=m.IndentedBlock())):
        assert isinstance(func, cst.FunctionDef)
        params = func.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            if not m.matches(param.default, m.Name("None")):
                continue
            body = func.body
            assert isinstance(body, cst.IndentedBlock)
            guard = next(
                (s for s in body.body if m.matches(s, _guard_matcher(param.name.value))), None
            )
            if guard is None or len(body.body) < 2:
                continue
            assert isinstance(guard, cst.If) and isinstance(guard.body, cst.IndentedBlock)
            line = guard.body.body[0]
            assert isinstance(line, cst.SimpleStatementLine)
            assign = line.body[0]
            assert isinstance(assign, cst.Assign)
            new_params = params.deep_replace(param, param.with_changes(default=assign.value))
            new_body = body.with_changes(body=[s for s in body.body if s is not guard])
            yield func, func.with_changes(params=new_params, body=new_body)


_CLASS_REF = m.Name() | m.Attribute()


def _type_equality(module: cst.Module) -> Iterator[Site]:
    """``isinstance(x, T)`` -> ``type(x) == T`` (DL116)."""
    pattern = m.Call(
        func=m.Name("isinstance"), args=[m.Arg(keyword=None), m.Arg(value=_CLASS_REF, keyword=None)]
    )
    for call in m.findall(module, pattern):
        assert isinstance(call, cst.Call)
        obj, cls = call.args[0].value, call.args[1].value
        compared = cst.Comparison(
            left=cst.Call(cst.Name("type"), [cst.Arg(obj)]),
            comparisons=[cst.ComparisonTarget(cst.Equal(), cls)],
        )
        yield call, compared


def _blocks(module: cst.Module) -> list[cst.Module | cst.IndentedBlock]:
    nested = [b for b in m.findall(module, m.IndentedBlock()) if isinstance(b, cst.IndentedBlock)]
    return [module, *nested]


_WITH_OPEN = m.With(
    items=[m.WithItem(item=m.Call(func=m.Name("open")), asname=m.AsName(name=m.Name()))],
    body=m.IndentedBlock(),
    asynchronous=None,
)


def _open_without_with(module: cst.Module) -> Iterator[Site]:
    """``with open(p) as f: ...`` -> ``f = open(p)`` followed by the body (DL105)."""
    for block in _blocks(module):
        for i, stmt in enumerate(block.body):
            if not m.matches(stmt, _WITH_OPEN):
                continue
            assert isinstance(stmt, cst.With) and isinstance(stmt.body, cst.IndentedBlock)
            item = stmt.items[0]
            assert item.asname is not None
            target = cst.AssignTarget(item.asname.name)  # type: ignore[arg-type]
            assign = cst.SimpleStatementLine(
                [cst.Assign([target], item.item)], leading_lines=stmt.leading_lines
            )
            body = [*block.body[:i], assign, *stmt.body.body, *block.body[i + 1 :]]
            yield block, block.with_changes(body=body)


_LITERAL = m.SimpleString() | m.Integer()


def _is_literal(module: cst.Module) -> Iterator[Site]:
    """``x == ""`` -> ``x is ""`` (DL118)."""
    for target in _single_comparisons(module, _LITERAL):
        if isinstance(target.operator, cst.Equal | cst.NotEqual):
            yield target, target.with_changes(operator=as_identity(target.operator))


def _raise_without_from(module: cst.Module) -> Iterator[Site]:
    """``raise X(...) from err`` -> ``raise X(...)`` (DL109)."""
    for node in m.findall(module, m.Raise(cause=m.From())):
        assert isinstance(node, cst.Raise)
        yield node, node.with_changes(cause=None)


def _assert_on_tuple(module: cst.Module) -> Iterator[Site]:
    """``assert cond, "msg"`` -> ``assert (cond, "msg")`` (DL106)."""
    for node in m.findall(module, m.Assert()):
        assert isinstance(node, cst.Assert)
        if node.msg is None:
            continue
        pair = cst.Tuple(
            [
                cst.Element(node.test, comma=cst.Comma(whitespace_after=_space())),
                cst.Element(node.msg),
            ]
        )
        yield node, node.with_changes(test=pair, msg=None, comma=cst.MaybeSentinel.DEFAULT)


def _split_isinstance(module: cst.Module) -> Iterator[Site]:
    """``isinstance(x, (A, B))`` -> ``isinstance(x, A) or isinstance(x, B)`` (DL117)."""
    bare = {
        id(n.test)
        for n in m.findall(module, m.If() | m.While())
        if isinstance(n, cst.If | cst.While)
    }
    pattern = m.Call(
        func=m.Name("isinstance"),
        args=[m.Arg(keyword=None), m.Arg(value=m.Tuple(), keyword=None)],
    )
    for call in m.findall(module, pattern):
        assert isinstance(call, cst.Call)
        obj, types = call.args[0].value, call.args[1].value
        assert isinstance(types, cst.Tuple)
        if len(types.elements) < 2 or any(
            isinstance(e, cst.StarredElement) for e in types.elements
        ):
            continue
        calls = [
            cst.Call(
                cst.Name("isinstance"),
                [cst.Arg(obj, comma=cst.Comma(whitespace_after=_space())), cst.Arg(e.value)],
            )
            for e in types.elements
        ]
        either: cst.BaseExpression = reduce(
            lambda left, right: cst.BooleanOperation(left, cst.Or(), right), calls
        )
        if id(call) not in bare:  # inside a larger expression `or` would bind differently
            either = either.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        yield call, either


_RETURN_LINE = m.SimpleStatementLine(body=[m.Return()])
_CALL_LINE = m.SimpleStatementLine(body=[m.Expr(value=m.Call() | m.Await())])


def _statement_after_return(module: cst.Module) -> Iterator[Site]:
    """``log(...); return x`` -> ``return x; log(...)``: the call never runs (DL108)."""
    for block in _blocks(module):
        body = list(block.body)
        for i in range(1, len(body)):
            before, ret = body[i - 1], body[i]
            if m.matches(ret, _RETURN_LINE) and m.matches(before, _CALL_LINE):
                assert isinstance(before, cst.SimpleStatementLine)
                assert isinstance(ret, cst.SimpleStatementLine)
                swapped = [
                    ret.with_changes(leading_lines=before.leading_lines),
                    before.with_changes(leading_lines=ret.leading_lines),
                ]
                yield block, block.with_changes(body=[*body[: i - 1], *swapped, *body[i + 1 :]])


MUTATIONS: tuple[Mutation, ...] = (
    Mutation("mutable-default", "DL101", _mutable_default),
    Mutation("bare-except", "DL102", _bare_except),
    Mutation("singleton-equality", "DL104", _singleton_equality),
    Mutation("open-without-with", "DL105", _open_without_with),
    Mutation("assert-on-tuple", "DL106", _assert_on_tuple),
    Mutation("statement-after-return", "DL108", _statement_after_return),
    Mutation("raise-without-from", "DL109", _raise_without_from),
    Mutation("type-equality", "DL116", _type_equality),
    Mutation("split-isinstance", "DL117", _split_isinstance),
    Mutation("is-literal", "DL118", _is_literal),
)


@dataclass(frozen=True)
class _Clean:
    """A unit ready to mutate: dedented so methods parse, with what the rules say of it."""

    unit: Unit
    body: str
    indent: str
    module: cst.Module
    rules: frozenset[str]


def _prepare(unit: Unit) -> _Clean | None:
    body = textwrap.dedent(unit.text)
    findings = rule_findings(body)
    if findings is None:
        return None
    try:
        module = cst.parse_module(body)
    except cst.ParserSyntaxError:
        return None
    first = split_lines(unit.text)[0]
    indent = first[: len(first) - len(split_lines(body)[0])]  # what dedent took off each line
    return _Clean(unit, body, indent, module, frozenset(f.rule for f in findings))


def from_mutations(
    sources: Iterable[str], *, seed: int = 0, limit: int | None = None
) -> tuple[list[AnalysisExample], list[PlanExample]]:
    """At most one confirmed mutation per unit and mutation kind; ``seed`` picks which.

    ``limit`` caps the number of examples; which ones is decided by ``seed`` too.
    """
    rng = random.Random(seed)
    clean = [c for s in sources for u in split_units(s) if (c := _prepare(u)) is not None]
    jobs = [(c, mutation) for c in clean for mutation in MUTATIONS if mutation.rule not in c.rules]
    rng.shuffle(jobs)
    analysis: list[AnalysisExample] = []
    plans: list[PlanExample] = []
    for unit, mutation in jobs:
        if limit is not None and len(analysis) >= limit:
            break
        made = _mutate(unit, mutation, rng)
        if made is not None:
            analysis.append(made[0])
            plans.append(made[1])
    return analysis, plans


def _mutate(
    clean: _Clean, mutation: Mutation, rng: random.Random
) -> tuple[AnalysisExample, PlanExample] | None:
    sites = list(mutation.sites(clean.module))
    rng.shuffle(sites)
    for old, new in sites:
        made = _confirmed(clean, mutation, clean.module.deep_replace(old, new).code)
        if made is not None:
            return made
    return None


def _confirmed(
    clean: _Clean, mutation: Mutation, mutated: str
) -> tuple[AnalysisExample, PlanExample] | None:
    try:
        ast.parse(mutated)
    except (SyntaxError, ValueError):
        return None
    findings = rule_findings(mutated)
    if findings is None:
        return None
    old, new = split_lines(clean.body), split_lines(mutated)
    head = _common_prefix(old, new)
    tail = _common_prefix(old[head:][::-1], new[head:][::-1])
    first, last = head + 1, max(head + 1, len(new) - tail)
    hits = [
        f
        for f in findings
        if f.rule == mutation.rule
        and f.span.start.line + 1 <= last
        and f.span.end.line + 1 >= first
    ]
    if not hits:
        return None
    original = split_lines(clean.unit.text)
    changed = [
        clean.indent + line if line.strip() else line for line in new[head : len(new) - tail]
    ]
    code = "".join([*original[:head], *changed, *original[len(original) - tail :]])
    hit = finding_label(hits[0])
    example = AnalysisExample(
        source="mutation",
        code=code,
        context=clean.unit.prompt_context,
        positives=tuple(finding_label(f) for f in findings),
        rule_notes=tuple(note_of(f) for f in findings),
        fix=clean.unit.text,
    )
    plan = PlanExample(
        source="mutation",
        code=code,
        problem=problem_text(hit.line, hit.end_line, hit.message, mutation.rule),
        gold_rewrite=clean.unit.text,
        context=clean.unit.prompt_context,
        rule=mutation.rule,
    )
    return example, plan


def _common_prefix(a: list[str], b: list[str]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n
