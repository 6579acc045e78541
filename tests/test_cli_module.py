"""``python -m dspy_lsp``: the CLI run as a module by a real interpreter, as editors, pre-commit
and CI scripts call it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from test_cli import BUGGY


def _module(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dspy_lsp", *args],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=cwd,
        timeout=120,
    )


def test_python_m_dspy_lsp_prints_the_version(tmp_path: Path) -> None:
    done = _module("--version", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("dspy-lsp ")


def test_python_m_dspy_lsp_checks_files_as_the_script_does(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(BUGGY)
    done = _module("check", "m.py", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "m.py:2:8: DL104 [*] " in done.stdout
    assert done.stdout.splitlines()[-1].startswith("Found 2 findings in 1 file.")


def test_a_pipe_through_check_fix_gets_the_fixed_source_back(tmp_path: Path) -> None:
    done = _module("check", "--fix", "--stdin-filename", "m.py", "-", cwd=tmp_path, stdin=BUGGY)
    assert done.stdout == BUGGY.replace("a == None", "a is None")
    assert "m.py:1:7: DL101 " in done.stderr  # what is left is reported on stderr
    assert done.returncode == 1
    assert not (tmp_path / "m.py").exists()


def test_importing_the_top_level_package_imports_nothing_else(tmp_path: Path) -> None:
    """``python -m dspy_lsp`` runs the package's ``__init__`` before ``__main__`` can drop the
    working directory from sys.path: it must not import anything a project could shadow."""
    probe = "import sys, dspy_lsp; print(sorted(m for m in sys.modules if m.startswith('dspy')))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert done.stdout.strip() == "['dspy_lsp']", done.stderr
