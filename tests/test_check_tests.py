"""``dspy-lsp check --tests``: the project's tests run once under coverage, and the lines its
failing tests point at are reported; a green project gets nothing from them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from dspy_lsp.server.cli.main import main

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pytest_cov") is None, reason="needs pytest-cov"
)
CALC = "def add(a, b):\n    return a - b\n\n\ndef double(x):\n    return x * 2\n"


def _project(tmp_path: Path, source: str) -> Path:
    root = tmp_path / "proj"
    (root / "tests").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "calc"\n')
    (root / "conftest.py").write_text("")
    (root / "calc.py").write_text(source)
    (root / "tests" / "test_calc.py").write_text(
        "from calc import add, double\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
        "def test_double():\n    assert double(2) == 4\n"
    )
    return root


def test_the_failing_test_points_at_the_bug(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path, CALC)
    assert main(["check", str(root / "calc.py"), "--tests", "--no-lm"]) == 1
    out = capsys.readouterr().out
    [line] = [ln for ln in out.splitlines() if "TESTS-failing" in ln]
    assert line.startswith(f"{root / 'calc.py'}:2:5: TESTS-failing tests/test_calc.py::test_add")
    assert "double" not in line  # its test passes: nothing points at it


def test_a_green_project_gets_no_test_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path, CALC.replace("a - b", "a + b"))
    assert main(["check", str(root), "--tests", "--no-lm"]) == 0
    assert "TESTS-failing" not in capsys.readouterr().out
