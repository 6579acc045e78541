"""The fix loop's small edits of a suspect line: each kind of edit, only on the lines named,
distinct, and ordered by a model's score when one is given."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from dspy_lsp.analyzers.repair_edits import (
    EDITS,
    TooManyEdits,
    likelier_lines,
    line_edits,
    rank,
)

SOURCE = """\
def f(xs, n, node):
    total = 0
    for i in range(len(xs)):
        if xs[i] < n and not node.done:
            total = total + xs[i]
    node.visit(total, n)
    return helper(total)


def helper(x):
    return x
"""


def _afters(lines: tuple[int, int]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for edit in line_edits(SOURCE, "f", lines):
        found.setdefault(edit.edit, set()).add(edit.after)
    return found


@pytest.mark.parametrize(
    ("edit", "lines", "expected"),
    [
        ("comparison", (4, 4), "if xs[i] >= n and not node.done:"),
        ("arithmetic", (5, 5), "total = total - xs[i]"),
        ("off-by-one", (2, 2), "total = 1"),
        ("index-shift", (5, 5), "total = total + xs[i - 1]"),
        ("swap-args", (6, 6), "node.visit(n, total)"),
        ("variable", (7, 7), "return helper(n)"),
        ("attribute", (6, 6), "node.done(total, n)"),
        ("unwrap-call", (7, 7), "return total"),
        ("drop-not", (4, 4), "if xs[i] < n and node.done:"),
        ("add-not", (4, 4), "if not (xs[i] < n and not node.done):"),
        ("boolean", (4, 4), "if xs[i] < n or not node.done:"),
    ],
)
def test_each_edit_makes_its_change_on_the_lines_named(
    edit: str, lines: tuple[int, int], expected: str
) -> None:
    assert edit in EDITS
    assert expected in _afters(lines).get(edit, set())


def test_edits_stay_on_the_lines_named_and_are_distinct() -> None:
    edits = line_edits(SOURCE, "f", (5, 5))
    assert edits and all(e.before == "total = total + xs[i]" for e in edits)
    assert len({e.unit for e in edits}) == len(edits)
    assert all("return helper(total)" in e.unit for e in edits)


def test_nothing_for_a_function_that_is_not_there_or_a_file_that_does_not_parse() -> None:
    assert line_edits(SOURCE, "missing", (1, 11)) == []
    assert line_edits("def f(:\n", "f", (1, 1)) == []


def test_drop_offset_takes_a_written_out_one_off_a_bound_keeping_needed_parentheses() -> None:
    source = "def f(seqs, mid, n):\n    a = seqs[mid + 1:]\n    b = (n - 1) * 2\n    c = 1 + n\n"
    found = {e.after for e in line_edits(source, "f", (2, 4)) if e.edit == "drop-offset"}
    assert found == {"a = seqs[mid:]", "b = n * 2", "c = n"}


def test_dense_code_with_more_edits_than_allowed_is_refused_before_any_is_made() -> None:
    body = "".join(f"    x{i} = a[{i}] * b - c.d{i}(x, {i}) if x < {i} else y\n" for i in range(60))
    dense = f"def f(a, b, c, x, y):\n{body}    return x\n"
    with pytest.raises(TooManyEdits, match="more than 800"):
        line_edits(dense, "f", (1, 62), max_edits=800)
    assert len(line_edits(SOURCE_FOR_CAP, "f", (1, 3), max_edits=800)) > 0


SOURCE_FOR_CAP = "def f(a, b):\n    if a < b:\n        return a\n"


def test_rank_puts_the_likeliest_first_and_keeps_the_order_without_a_score() -> None:
    edits = line_edits(SOURCE, "f", (4, 4))
    assert rank(edits, None) == edits
    asked: list[list[str]] = []

    def score(texts: Sequence[str]) -> list[float]:
        asked.append(list(texts))
        return [1.0 if "not (" in text else 0.0 for text in texts]

    ranked = rank(edits, score)
    assert ranked[0].after == "if not (xs[i] < n and not node.done):"
    assert ranked[1:] == [e for e in edits if e is not ranked[0]]
    # one call, sorted texts (alike beginnings in a row), each the unit up to 2 lines past it
    assert asked == [sorted(e.scored for e in edits)]
    assert all(e.scored == "".join(e.unit.splitlines(keepends=True)[:6]) for e in edits)


GCD = "def gcd(a, b):\n    if b == 0:\n        return a\n    return gcd(a % b, b)\n"


def _expects(written: str) -> Callable[[Sequence[str]], list[float]]:
    """A model that expects ``written`` (each text scores minus the characters it differs by
    from the same stretch of it), asked once for every text, each once."""

    def score(texts: Sequence[str]) -> list[float]:
        assert len(texts) == len(set(texts))
        return [-float(sum(a != b for a, b in zip(t, written, strict=False))) for t in texts]

    return score


def _departure(text: str, other: str) -> int:
    return next((i for i, (a, b) in enumerate(zip(text, other, strict=False)) if a != b), len(text))


def test_the_line_an_edit_makes_likelier_is_the_suspect_with_that_edit_as_its_fix() -> None:
    edits = line_edits(GCD, "gcd", (1, 4))
    fixed = GCD.replace("gcd(a % b, b)", "gcd(b, a % b)")
    [suspect] = likelier_lines(edits, _expects(fixed), margin=2.0)
    assert suspect.edit.lines == (4, 4) and suspect.gain > 2.0
    assert suspect.edit.after == "return gcd(b, a % b)"


def test_code_as_the_model_expects_it_has_no_suspect() -> None:
    edits = line_edits(GCD, "gcd", (1, 4))
    assert edits and likelier_lines(edits, _expects(GCD), margin=0.0) == []


def test_texts_are_asked_last_change_first_each_after_its_window_of_the_unit() -> None:
    """So each text begins as the one before it up to its own change: a model that reads on
    from what it holds reads only from each change to the end of its window."""
    edits = line_edits(GCD, "gcd", (1, 4))
    asked: list[str] = []

    def score(texts: Sequence[str]) -> list[float]:
        asked.extend(texts)
        return [0.0] * len(texts)

    likelier_lines(edits, score, margin=0.0)
    assert (
        len(asked)
        == len(set(asked))
        == len({t for e in edits for t in (e.scored, e.scored_before)})
    )
    lines = [GCD[: _departure(t, GCD)].count("\n") for t in asked if not GCD.startswith(t)]
    assert lines == sorted(lines, reverse=True) and lines[0] > lines[-1]
    assert all(asked.index(e.scored_before) < asked.index(e.scored) for e in edits)
