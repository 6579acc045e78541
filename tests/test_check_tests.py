"""``dspy-lsp check --tests``: the project's tests run once under coverage, and the lines its
failing tests point at are reported; a green project gets nothing from them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from calc_project import FIXED, calc_project

from dspy_lsp.server.cli.main import main

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pytest_cov") is None, reason="needs pytest-cov"
)


def test_the_failing_test_points_at_the_bug(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = calc_project(tmp_path)
    assert main(["check", str(root / "calc.py"), "--tests", "--no-lm"]) == 1
    out = capsys.readouterr().out
    [line] = [ln for ln in out.splitlines() if "TESTS-failing" in ln]
    assert line.startswith(f"{root / 'calc.py'}:2:5: TESTS-failing tests/test_calc.py::test_add")
    assert "double" not in line  # its test passes: nothing points at it


def test_a_green_project_gets_no_test_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = calc_project(tmp_path, FIXED)
    assert main(["check", str(root), "--tests", "--no-lm"]) == 0
    assert "TESTS-failing" not in capsys.readouterr().out
