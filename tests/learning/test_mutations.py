"""Self-generated examples: clean code broken the way each rule's fix repairs it."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from dspy_lsp.analyzers.engine import analyze_source
from dspy_lsp.analyzers.learning.mutations import MUTATIONS, from_mutations

# Clean code (no rule fires) with a site for every mutation.
CLEAN = '''\
"""A small order service."""

import json
import logging

log = logging.getLogger(__name__)


class OrderError(Exception):
    pass


class Order:
    def __init__(self, customer, lines=None):
        if lines is None:
            lines = []
        self.customer = customer
        self.lines = lines

    def discount(self, code):
        if code is None:
            return 0.0
        if code == "":
            return 0.0
        return 0.1

    def describe(self, value):
        if isinstance(value, (int, float)):
            return "number"
        if isinstance(value, str):
            return value
        return repr(value)


def load(path):
    with open(path) as handle:
        data = json.load(handle)
    return data


def parse_quantity(raw):
    try:
        return int(raw)
    except ValueError as err:
        raise OrderError(f"bad quantity: {raw!r}") from err


def check(order):
    assert order.lines, "order must not be empty"
    log.info("checked %s", order.customer)
    return True


def safe_total(prices):
    try:
        return sum(prices)
    except TypeError:
        return None
'''


@pytest.fixture(scope="module")
def made():
    return from_mutations([CLEAN], seed=0)


def test_clean_fixture_has_no_finding() -> None:
    assert analyze_source(CLEAN).findings == ()


def test_every_mutation_kind_makes_an_example(made) -> None:
    _, plans = made
    assert {plan.rule for plan in plans} == {mutation.rule for mutation in MUTATIONS}
    assert len({mutation.rule for mutation in MUTATIONS}) >= 6


def test_labels_are_what_the_engine_reports_on_the_mutated_unit(made) -> None:
    for example, plan in zip(*made, strict=True):
        assert example.source == plan.source == "mutation"
        assert example.code == plan.code
        findings = analyze_source(textwrap.dedent(example.code)).findings
        got = {(f.rule, f.span.start.line + 1, f.span.end.line + 1) for f in findings}
        assert {(x.rule, x.line, x.end_line) for x in example.positives} == got
        assert plan.rule in {x.rule for x in example.positives}
        assert all(x.category for x in example.positives)


def test_problem_names_the_mutated_line(made) -> None:
    for example, plan in zip(*made, strict=True):
        own = [x for x in example.positives if x.rule == plan.rule]
        assert (
            plan.problem == f"lines {own[0].line}-{own[0].end_line}: {own[0].message} ({plan.rule})"
        )


def test_gold_rewrite_is_the_clean_unit(made) -> None:
    for _, plan in zip(*made, strict=True):
        assert plan.gold_rewrite in CLEAN
        assert plan.gold_rewrite != plan.code
        assert plan.rule not in {
            f.rule for f in analyze_source(textwrap.dedent(plan.gold_rewrite)).findings
        }


def test_mutated_code_parses_and_keeps_the_units_indentation(made) -> None:
    for example, plan in zip(*made, strict=True):
        ast.parse(textwrap.dedent(example.code))
        first = plan.gold_rewrite.split("\n")[0]
        assert example.code.startswith(first[: len(first) - len(first.lstrip())])
        assert "import json\nimport logging\n" in example.context  # after the docstring


def test_singleton_mutation_changes_only_the_comparison(made) -> None:
    _, plans = made
    plan = next(p for p in plans if p.rule == "DL104")
    changed = [
        (old, new)
        for old, new in zip(plan.gold_rewrite.split("\n"), plan.code.split("\n"), strict=True)
        if old != new
    ]
    assert len(changed) == 1
    old, new = changed[0]
    assert old.replace(" is None", " == None") == new


def test_same_seed_same_examples() -> None:
    assert from_mutations([CLEAN], seed=3) == from_mutations([CLEAN], seed=3)


def test_limit_caps_the_examples_and_seed_picks_them() -> None:
    picks = {tuple(p.code for p in from_mutations([CLEAN], seed=s, limit=3)[1]) for s in range(4)}
    assert all(len(codes) == 3 for codes in picks)
    assert len(picks) > 1


def test_a_rule_already_firing_on_a_unit_is_not_mutated_for() -> None:
    source = "def f(x, y):\n    if x == None:\n        return 1\n    return y is None\n"
    _, plans = from_mutations([source])
    assert "DL104" not in {p.rule for p in plans}


def test_unparsable_source_gives_nothing() -> None:
    assert from_mutations(["def f(:\n    return x is None\n"]) == ([], [])


def test_realistic_code_yields_examples(examples_dir: Path) -> None:
    sources = [p.read_text() for p in sorted((examples_dir / "inventory").glob("*.py"))]
    analysis, plans = from_mutations(sources)
    assert analysis
    for example, plan in zip(analysis, plans, strict=True):
        before = {f.rule for f in analyze_source(textwrap.dedent(plan.gold_rewrite)).findings}
        assert plan.rule not in before
        assert plan.rule in {x.rule for x in example.positives}
