"""Findings read off a model's repair: the lines it changed, smallest change first, and nothing
when the repair only restyles, rewrites, or is not Python."""

from __future__ import annotations

from pathlib import Path

import pytest

from dspy_lsp.analyzers.learning.bug_corpus import load_bug_cases
from dspy_lsp.analyzers.learning.metrics import Predicted, hit_at
from dspy_lsp.analyzers.repair_claims import applied, offerable, repair_hunks, unfenced, wrong_fix

QUIXBUGS = Path("/work/shared/corpora/quixbugs/dev.jsonl")
CODE = """def search(xs, x):
    lo, hi = 0, len(xs)
    while lo < hi:
        mid = (lo + hi) // 2
        if xs[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo
"""


def test_a_one_line_fix_is_a_finding_on_that_line_with_the_fix_in_its_message() -> None:
    [hunk] = repair_hunks(CODE, CODE.replace("lo = mid + 1", "lo = mid"))
    assert (hunk.line, hunk.end_line) == (6, 6)
    assert hunk.message == "`lo = mid + 1` looks wrong: should it be `lo = mid`?"


def test_an_inserted_line_claims_the_lines_on_each_side() -> None:
    repaired = CODE.replace("    return lo\n", "    assert lo >= 0\n    return lo\n")
    [hunk] = repair_hunks(CODE, repaired)
    assert (hunk.line, hunk.end_line, hunk.old) == (8, 9, ())
    assert hunk.message == "Something seems missing here: `assert lo >= 0`"


def test_smaller_changes_rank_first() -> None:
    repaired = CODE.replace(
        "else:\n            hi = mid", "elif xs[mid] > x:\n            hi = mid - 1"
    )
    hunks = repair_hunks(CODE, repaired.replace("lo < hi", "lo <= hi"))
    assert [(h.line, h.size) for h in hunks] == [(3, 1), (7, 2)]


@pytest.mark.parametrize(
    "repaired",
    [
        CODE,
        f"```python\n{CODE}```\n",  # fenced
        CODE.replace("    while", "    # keep halving\n    while").replace("(lo + hi)", "(lo+hi)"),
        CODE.replace("def search(xs, x):\n", 'def search(xs, x):\n    """Leftmost place."""\n'),
    ],
    ids=["same", "fenced", "comments-and-spacing", "docstring"],
)
def test_no_change_in_behaviour_is_no_finding(repaired: str) -> None:
    assert repair_hunks(CODE, repaired) == []


def test_a_rewrite_or_a_reply_that_is_not_python_is_no_finding() -> None:
    rewrite = "def search(xs, x):\n    import bisect\n    return bisect.bisect_left(xs, x)\n"
    assert repair_hunks(CODE, rewrite) == []
    assert repair_hunks(CODE, "The bug is on line 6: use `lo = mid`.") == []


def test_unfenced_keeps_unfenced_code_as_is() -> None:
    assert unfenced(CODE) == CODE
    assert unfenced("```\nx = 1\n```") == "x = 1"


@pytest.mark.skipif(not QUIXBUGS.exists(), reason="QuixBugs corpus not on this machine")
def test_the_gold_fixes_of_quixbugs_hit_every_bug_first_and_flag_nothing_fixed() -> None:
    for case in load_bug_cases(QUIXBUGS):
        hunks = repair_hunks(case.buggy.code, case.fixed.code)
        ranked = [Predicted(h.line, h.end_line, "bug") for h in hunks]
        assert hit_at(ranked, case.buggy.positives, 1), case.name
        assert repair_hunks(case.fixed.code, case.fixed.code) == []


def test_a_repair_that_edits_the_bug_line_wrongly_is_not_the_fix() -> None:
    code = "def smaller(a, b):\n    if a > b:\n        return b\n    return a\n"
    gold = code.replace("a > b", "a < b")
    assert wrong_fix(code, gold, gold) is None
    wrong = wrong_fix(code, code.replace("a > b", "a >= b"), gold)
    assert wrong is not None and (wrong.line, wrong.new) == (2, ("if a < b:",))
    assert wrong_fix(code, code, gold) == wrong  # no change at all is no fix either
    assert wrong_fix(code, code, code) is None  # nothing to fix


METHOD = "    def total(self, xs):\r\n        t = 0\r\n        for x in xs:\r\n            t -= x\r\n        return t\r\n"


@pytest.mark.parametrize(
    "reply",
    [
        "def total(self, xs):\n    t = 0\n    for x in xs:\n        t += x\n    return t\n",
        # as parsed from a reply: the first line stripped, the others as the unit has them
        "def total(self, xs):\n        t = 0\n        for x in xs:\n            t += x\n        return t",
    ],
    ids=["dedented", "first-line-stripped"],
)
def test_a_hunk_carries_the_repairs_lines_in_the_units_indentation_and_line_breaks(
    reply: str,
) -> None:
    [hunk] = repair_hunks(METHOD, reply)
    assert (hunk.line, hunk.end_line, hunk.replacement) == (4, 4, "            t += x\r\n")
    assert applied(METHOD, hunk) == METHOD.replace("t -= x", "t += x")


def test_an_insertion_is_made_between_the_lines_it_claims() -> None:
    repaired = CODE.replace("    return lo\n", "    assert lo >= 0\n    return lo\n")
    [hunk] = repair_hunks(CODE, repaired)
    assert hunk.replacement == "            hi = mid\n    assert lo >= 0\n    return lo\n"
    assert applied(CODE, hunk) == repaired


def test_a_hunk_is_offered_as_a_fix_only_when_it_stands_alone() -> None:
    header = "import bisect\nLIMIT = 10\n"
    uses_header = CODE.replace("lo, hi = 0, len(xs)", "lo, hi = 0, min(len(xs), LIMIT)")
    [ok] = repair_hunks(CODE, uses_header)
    assert offerable(CODE, header, ok)  # LIMIT is bound in the module header
    assert not offerable(CODE, "", ok)  # ...and unbound without it
    needs_import = CODE.replace("mid = (lo + hi) // 2", "mid = math.floor((lo + hi) / 2)")
    [unimported] = repair_hunks(CODE, needs_import)
    assert not offerable(CODE, header, unimported)  # it would need `import math`
    # Two hunks that work together: `step = 1` stands alone, `mid + step` does not.
    together = CODE.replace("    lo, hi = 0, len(xs)\n", "    lo, hi = 0, len(xs)\n    step = 1\n")
    together = together.replace("lo = mid + 1", "lo = mid + step")
    assert [offerable(CODE, header, h) for h in repair_hunks(CODE, together)] == [True, False]
