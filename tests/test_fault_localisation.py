"""Where the failing tests point (Ochiai), and nothing at all where every test passes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from dspy_lsp.analyzers.fault_localisation import SPECTRUM_RULE, spectrum_findings, suspects
from dspy_lsp.server.verify.coverage_map import coverage_map

SOURCE = """def mid(a, b, c):
    if a < b:
        return b
    return c


def other():
    return 1
"""
LINES = {
    2: {"t1", "t2", "t3", "t4"},  # every test
    3: {"t1", "t2"},  # the failing ones only
    4: {"t3", "t4"},
    8: {"t5"},
}


def test_the_line_only_failing_tests_run_ranks_first() -> None:
    ranked = suspects(LINES, failed={"t1", "t2"})
    assert [(s.line, round(s.score, 2)) for s in ranked] == [(3, 1.0), (2, 0.71)]
    assert (ranked[0].failing, ranked[0].passing) == (2, 0)


def test_no_failing_test_no_suspect() -> None:
    assert suspects(LINES, failed=()) == []
    assert spectrum_findings(SOURCE, LINES, ()) == []


def test_one_finding_per_unit_at_its_likeliest_line() -> None:
    [finding] = spectrum_findings(SOURCE, LINES, {"t1", "t2"})
    assert finding.rule == SPECTRUM_RULE and finding.span.start.line == 2
    assert (finding.span.start.column, finding.span.end.column) == (8, 16)
    assert finding.message.startswith("t1 and 1 more failing test(s) run(s) this line, 0 passing")
    assert finding.confidence == 1.0 and finding.origin == "tests"


@pytest.mark.skipif(importlib.util.find_spec("pytest_cov") is None, reason="needs pytest-cov")
def test_a_recorded_run_knows_its_failures_and_a_hanging_test_fails_alone(
    tmp_path: Path,
) -> None:
    root = tmp_path / "proj"
    (root / "tests").mkdir(parents=True)
    (root / "conftest.py").write_text("")
    (root / "calc.py").write_text(
        "def add(a, b):\n    return a - b\n\n\ndef spin():\n    while True:\n        pass\n"
    )
    (root / "tests" / "test_calc.py").write_text(
        "from calc import add, spin\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
        "def test_zero():\n    assert add(0, 0) == 0\n\n\ndef test_spin():\n    spin()\n"
    )
    found = coverage_map(root, sys.executable, 8, tmp_path / "cache")  # 2 s a test at most
    assert found is not None, "the hanging test lost the whole run"
    assert set(found.failed) == {"tests/test_calc.py::test_add", "tests/test_calc.py::test_spin"}
    [first, *_] = suspects(found.lines["calc.py"], found.failed)
    assert first.line in (2, 6, 7)  # the subtraction, or the loop the hanging test ran
