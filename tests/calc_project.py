"""A tiny project with a real bug (``add`` subtracts) and the tests that catch it, for the
commands that run a project's tests (``check --tests``, ``fix``)."""

from __future__ import annotations

from pathlib import Path

CALC = "def add(a, b):\n    return a - b\n\n\ndef double(x):\n    return x * 2\n"
FIXED = CALC.replace("a - b", "a + b")


def calc_project(tmp_path: Path, source: str = CALC) -> Path:
    """``tmp_path/proj``: ``calc.py`` holding ``source``, and ``tests/test_calc.py`` whose
    ``test_add`` fails on the bug and ``test_double`` passes."""
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
