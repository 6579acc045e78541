"""``dspy-lsp dataset bugs``: planted bugs the project's own tests catch become labelled examples."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from dspy_lsp.analyzers.learning.bug_examples import load_bug_examples
from dspy_lsp.server.cli.main import main

PYTEST = f"PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 {sys.executable} -m pytest -q -p no:cacheprovider"

CALC = '''\
def clamp(x, lo):
    """At least ``lo``."""
    if x < lo:
        return lo
    return x


def untested(a, b):
    return a * b
'''
TEST_CALC = """\
from calc import clamp


def test_clamp():
    assert clamp(1, 2) == 2
    assert clamp(2, 2) == 2
    assert clamp(5, 2) == 5
"""


def make_project(root: Path, module: str, test: str) -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "calc.py").write_text(textwrap.dedent(module))
    (root / "tests" / "test_calc.py").write_text(textwrap.dedent(test))
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def bugs(project: Path, out: Path, tests: str = f"{PYTEST} tests", *extra: str) -> int:
    argv = ["dataset", "bugs", "--project", str(project), "--tests", tests, "--out", str(out)]
    return main([*argv, *extra])


def test_mutants_the_tests_catch_are_kept_and_those_they_miss_are_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path / "calc", CALC, TEST_CALC)
    before = snapshot(project)
    out = tmp_path / "bugs.jsonl"

    assert bugs(project, out, f"{PYTEST} tests", "--max-mutants", "30", "--seed", "1") == 0

    kept = load_bug_examples(out)
    assert kept and {e.qualname for e in kept} == {"clamp"}  # `untested`'s mutants survive
    for example in kept:
        assert example.failing_tests == ("tests/test_calc.py::test_clamp",)
        assert (example.path, example.project, example.verdict) == ("calc.py", "calc", "failed")
        assert example.fixed == CALC[: CALC.index("\n\n\n") + 1]
        assert example.unit_lines == example.file_lines  # clamp starts the file
    summary = capsys.readouterr().err.splitlines()[-1]
    assert f"kept {len(kept)}" in summary and " 0 survived" not in summary
    assert snapshot(project) == before


def test_a_hanging_mutant_is_killed_at_the_timeout_and_kept_as_such(tmp_path: Path) -> None:
    module = "def count(n):\n    i = 0\n    while i < n:\n        i += 1\n    return i\n"
    test = "from calc import count\n\n\ndef test_count():\n    assert count(3) == 3\n"
    project = make_project(tmp_path / "loop", module, test)
    out = tmp_path / "bugs.jsonl"

    # The first two dealt: `i <= n` (fails) and `i -= 1` (never ends).
    assert bugs(project, out, f"{PYTEST} tests", "--max-mutants", "2", "--timeout-s", "3") == 0

    verdicts = {e.operator: e.verdict for e in load_bug_examples(out)}
    assert verdicts == {"comparison-swap": "failed", "arithmetic-swap": "timeout"}


def test_tests_red_on_the_unmutated_project_are_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path / "red", CALC, TEST_CALC.replace("== 5", "== 6"))
    out = tmp_path / "bugs.jsonl"

    assert bugs(project, out) == 2

    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "not green on the unmutated project" in err[0]
    assert not out.exists()


def test_a_missing_project_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bugs(tmp_path / "nowhere", tmp_path / "bugs.jsonl") == 2
    assert capsys.readouterr().err.startswith("dspy-lsp: no project directory")
