"""A model's surprise per line, and how it breaks the spectrum's ties."""

from __future__ import annotations

from dspy_lsp.analyzers.fault_localisation import suspects
from dspy_lsp.analyzers.surprisal import PREFIX, line_surprisal

CODE = "def gcd(a, b):\n    if b == 0:\n        return a\n    return gcd(a % b, b)\n"


def _at(text: str) -> int:
    """The byte offset of ``text`` in what the model scores."""
    return len(PREFIX.encode()) + CODE.encode().index(text.encode())


def test_each_line_is_its_most_surprising_token() -> None:
    tokens = [(2, -9.0), (_at("def"), -0.5), (_at("gcd("), -2.0), (_at("b =="), -1.0)]
    tokens += [(_at("a % b"), -7.5), (_at(", b)\n"), -3.0)]
    assert line_surprisal(CODE, tokens) == {1: 2.0, 2: 1.0, 4: 7.5}  # the prefix's token: none


def test_among_lines_every_failing_test_ran_the_surprising_one_comes_first() -> None:
    lines = {n: {"t1", "t2"} for n in (1, 2, 3, 4)}  # every test fails and runs every line
    assert [s.line for s in suspects(lines, {"t1", "t2"})] == [1, 2, 3, 4]
    ranked = suspects(lines, {"t1", "t2"}, surprise={4: 7.5, 2: 1.0})
    assert [s.line for s in ranked] == [4, 2, 1, 3]


def test_surprise_never_outranks_a_higher_score() -> None:
    lines = {1: {"t1"}, 2: {"t1", "t2"}}  # t2 passes: line 2 is less suspicious
    assert [s.line for s in suspects(lines, {"t1"}, surprise={2: 99.0})] == [1, 2]
