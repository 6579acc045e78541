"""Semantic bug mutations: each operator's exact mutants, and the labels a mutant carries."""

from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path

import pytest

from dspy_lsp.analyzers.learning.bug_examples import (
    BugExample,
    failing_tests,
    load_bug_examples,
)
from dspy_lsp.analyzers.learning.bug_mutations import (
    OPERATORS,
    changed_lines,
    mutants,
    schedule,
)
from dspy_lsp.analyzers.learning.bug_mutations import candidates as all_candidates
from dspy_lsp.analyzers.units import split_units


def mutated(source: str, operator: str) -> list[str]:
    """The mutated module texts one operator makes of ``source``; each must parse."""
    made = [mu for mu in mutants(textwrap.dedent(source)) if mu.operator == operator]
    for mu in made:
        ast.parse(mu.code)
    return [mu.code for mu in made]


def src(text: str) -> str:
    return textwrap.dedent(text)


def test_comparison_swap_moves_each_operator_to_its_neighbour() -> None:
    code = "def f(a, b):\n    return a < b, a == b, a not in b, a is b\n"
    assert mutated(code, "comparison-swap") == [
        "def f(a, b):\n    return a <= b, a == b, a not in b, a is b\n",
        "def f(a, b):\n    return a < b, a != b, a not in b, a is b\n",
        "def f(a, b):\n    return a < b, a == b, a in b, a is b\n",
        "def f(a, b):\n    return a < b, a == b, a not in b, a is not b\n",
    ]


def test_arithmetic_swap_changes_numbers_but_not_string_concatenation() -> None:
    code = 'def f(a, b):\n    a += 1\n    return a * b, "x" + a\n'
    assert mutated(code, "arithmetic-swap") == [
        'def f(a, b):\n    a -= 1\n    return a * b, "x" + a\n',
        'def f(a, b):\n    a += 1\n    return a / b, "x" + a\n',
    ]


def test_off_by_one_moves_an_integer_up_and_down_but_not_below_zero() -> None:
    code = "def f(xs):\n    return xs[0] + 2\n"
    assert mutated(code, "off-by-one") == [
        "def f(xs):\n    return xs[1] + 2\n",
        "def f(xs):\n    return xs[0] + 3\n",
        "def f(xs):\n    return xs[0] + 1\n",
    ]


def test_slice_bound_shifts_a_computed_bound_and_parenthesises_a_loose_one() -> None:
    code = "def f(xs, n, k):\n    return xs[n:k if k else 0]\n"
    assert mutated(code, "slice-bound") == [
        "def f(xs, n, k):\n    return xs[n + 1:k if k else 0]\n",
        "def f(xs, n, k):\n    return xs[n - 1:k if k else 0]\n",
        "def f(xs, n, k):\n    return xs[n:(k if k else 0) + 1]\n",
        "def f(xs, n, k):\n    return xs[n:(k if k else 0) - 1]\n",
    ]


def test_swap_args_swaps_neighbouring_positional_arguments_only() -> None:
    code = "def f(a, b):\n    return g(a, b, a, key=b)\n"
    assert mutated(code, "swap-args") == [
        "def f(a, b):\n    return g(b, a, a, key=b)\n",
        "def f(a, b):\n    return g(a, a, b, key=b)\n",
    ]


def test_wrong_variable_reads_the_local_bound_last_on_an_earlier_line() -> None:
    code = src(
        """\
        def f(self, lo, hi):
            mid = lo + hi
            return mid
        """
    )
    assert mutated(code, "wrong-variable") == [
        code.replace("lo + hi", "hi + hi"),
        code.replace("lo + hi", "lo + lo"),
        code.replace("return mid", "return hi"),
    ]


def test_drop_statement_keeps_returns_docstrings_and_the_last_statement() -> None:
    code = src(
        '''\
        def f(xs):
            """Doc."""
            xs.sort()
            return xs
        '''
    )
    assert mutated(code, "drop-statement") == [code.replace("    xs.sort()\n", "")]


def test_drop_not_and_add_not() -> None:
    code = "def f(a, b):\n    if not a:\n        return 1\n    while a or b:\n        a = b\n"
    assert mutated(code, "drop-not") == [code.replace("if not a", "if a")]
    assert mutated(code, "add-not") == [code.replace("while a or b", "while not (a or b)")]


def test_changed_return_flips_booleans_and_returns_none_otherwise() -> None:
    code = "def f(a):\n    if a:\n        return True\n    return a\n"
    assert mutated(code, "changed-return") == [
        code.replace("return True", "return False"),
        code.replace("return a", "return None"),
    ]


def test_a_method_mutant_carries_its_unit_and_the_lines_within_unit_and_file() -> None:
    code = src(
        """\
        import os


        class Box:
            def size(self, xs):
                n = len(xs)
                return n - 1
        """
    )
    [mu] = [m for m in mutants(code) if m.operator == "arithmetic-swap"]
    [unit] = [u for u in split_units(mu.code) if u.qualname == "Box.size"]
    assert mu.unit == unit
    assert mu.unit.text.splitlines()[mu.unit_lines[0] - 1] == "        return n + 1"
    assert (mu.unit_lines, mu.file_lines) == ((3, 3), (7, 7))
    assert mu.original.text == "".join(code.splitlines(keepends=True)[4:])


def test_a_removed_line_is_labelled_by_the_lines_either_side_of_the_gap() -> None:
    assert changed_lines(["a", "b", "c"], ["a", "c"]) == (1, 2)
    assert changed_lines(["a", "b", "c"], ["a", "x", "c"]) == (2, 2)


def test_schedule_deals_every_operator_before_repeating_one() -> None:
    code = "def f(a, b):\n    if not a:\n        return [a + 1, b - 2, a < b]\n    g(a, b)\n"
    import libcst as cst

    found = all_candidates(cst.parse_module(code))
    dealt = schedule(found, seed=3)
    operators = {c.operator for c in found}
    assert {c.operator for c in dealt[: len(operators)]} == operators
    assert dealt == schedule(found, seed=3)
    assert set(OPERATORS) >= operators


def test_quixbugs_records_load_as_bug_examples_with_their_unit(tmp_path: Path) -> None:
    buggy = "def gcd(a, b):\n    if b == 0:\n        return a\n    return gcd(a % b, b)\n"
    fixed = "def gcd(a, b):\n    if b == 0:\n        return a\n    return gcd(b, a % b)\n"
    (tmp_path / "correct").mkdir()
    (tmp_path / "correct" / "gcd.py").write_text('"""Doc."""\n' + fixed)
    record = {
        "program": "gcd",
        "buggy_path": "python_programs/gcd.py",
        "fixed_path": "correct/gcd.py",
        "test_path": "python_testcases/test_gcd.py",
        "bug_lines": [[4, 4]],
        "hunks": [],
        "buggy_text": buggy,
    }
    mutation = BugExample(
        source="mutation",
        project="p",
        path="m.py",
        qualname="gcd",
        unit=buggy,
        fixed=fixed,
        unit_lines=(4, 4),
        file_lines=(9, 9),
        operator="swap-args",
    )
    data = tmp_path / "dev.jsonl"
    data.write_text(json.dumps(record) + "\n" + mutation.model_dump_json() + "\n")
    quix, mine = load_bug_examples(data)
    assert (quix.qualname, quix.unit, quix.fixed, quix.unit_lines) == ("gcd", buggy, fixed, (4, 4))
    assert quix.failing_tests == ("python_testcases/test_gcd.py",)
    assert mine == mutation


def test_a_label_outside_its_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="outside the unit"):
        BugExample(
            source="mutation", project="p", path="m.py", qualname="f", unit="def f():\n    pass\n",
            fixed="", unit_lines=(3, 3), file_lines=(3, 3), operator="off-by-one",
        )  # fmt: skip


def test_failing_test_names_come_from_pytest_or_unittest_summaries() -> None:
    pytest_out = "..F\nFAILED tests/test_a.py::test_b[1 2] - assert 1 == 2\nERROR t.py::c\n"
    assert failing_tests(pytest_out) == ("tests/test_a.py::test_b[1 2]", "t.py::c")
    assert failing_tests("FAIL: test_x (tests.test_m.T.test_x)\n") == ("tests.test_m.T.test_x",)
    assert failing_tests("3 passed\n") == ()
