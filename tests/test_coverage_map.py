"""Precise test discovery: one recorded pytest-cov run, read back per line with its tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from dspy_lsp.server.verify.coverage_map import coverage_map, latest_map, project_hash

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pytest_cov") is None, reason="pytest-cov is not installed"
)

CALC = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "tests").mkdir(parents=True)
    (root / "calc.py").write_text(CALC)
    (root / "tests" / "test_add.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    )
    (root / "tests" / "test_sub.py").write_text(
        "from calc import sub\n\n\ndef test_sub():\n    assert sub(3, 2) == 2\n"  # it fails
    )
    (root / "conftest.py").write_text("")  # the root on sys.path, as many projects do
    return root


def test_each_function_maps_to_the_tests_that_ran_it_even_failing_ones(tmp_path: Path) -> None:
    root = _project(tmp_path)
    found = coverage_map(root, sys.executable, 120, tmp_path / "cache")
    assert found is not None
    assert found.tests_for("calc.py", 1, 2) == ("tests/test_add.py::test_add",)
    assert found.tests_for("calc.py", 5, 6) == ("tests/test_sub.py::test_sub",)
    assert not (root / ".dspy-lsp-coverage").exists()  # recorded in a copy


def test_the_map_is_cached_by_the_projects_files(tmp_path: Path) -> None:
    root = _project(tmp_path)
    cache = tmp_path / "cache"
    first = coverage_map(root, sys.executable, 120, cache)
    [maps] = cache.iterdir()  # one directory per project
    assert [p.stem for p in maps.iterdir()] == [project_hash(root)]
    (root / "tests" / "test_add.py").unlink()  # a cached map is not recorded again...
    (root / "tests" / "test_add.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    )
    assert coverage_map(root, "/nonexistent/python", 120, cache) == first
    (root / "calc.py").write_text(CALC + "\n\ndef mul(a, b):\n    return a * b\n")
    assert project_hash(root) not in {p.stem for p in maps.iterdir()}  # ...until a file changes


def test_the_last_map_describes_only_the_files_unchanged_since(tmp_path: Path) -> None:
    """The editor does not record (that runs every test): it takes the last map, for the files
    whose text is still what was recorded."""
    root = _project(tmp_path)
    cache = tmp_path / "cache"
    assert latest_map(root, cache) is None
    recorded = coverage_map(root, sys.executable, 120, cache)
    (root / "calc.py").write_text("# moved down a line\n" + CALC)
    last = latest_map(root, cache)
    assert last == recorded and last is not None
    assert last.holds_for("calc.py", CALC)
    assert not last.holds_for("calc.py", (root / "calc.py").read_text())
    assert latest_map(tmp_path / "elsewhere", cache) is None


def test_no_pytest_cov_in_the_projects_interpreter_is_no_map(tmp_path: Path) -> None:
    assert coverage_map(_project(tmp_path), "/nonexistent/python", 60, tmp_path / "c") is None
