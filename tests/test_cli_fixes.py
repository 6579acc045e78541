"""``check --diff`` and ``--show-fixes``: what ``--fix`` changes, seen before or after it runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

from test_cli import BUGGY, CLEAN, run

FIXED = BUGGY.replace("a == None", "a is None")
DIFF = (
    "--- m.py\n"
    "+++ m.py\n"
    "@@ -1,4 +1,4 @@\n"
    " def f(a=[]):\n"
    "-    if a == None:\n"
    "+    if a is None:\n"
    "         return 0\n"
    "     return 1\n"
)


def test_diff_prints_the_fixes_as_a_unified_diff_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "m.py"
    target.write_text(BUGGY)
    result = run("check", "--diff", "m.py", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, DIFF)
    assert result.stderr == "Would fix 1 finding in 1 file.\n"
    assert target.read_text() == BUGGY


def test_the_diff_applies_with_git_apply(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(BUGGY)
    diff = run("check", "--diff", "m.py", cwd=tmp_path).stdout
    subprocess.run(["git", "apply", "-"], input=diff, text=True, cwd=tmp_path, check=True)
    assert (tmp_path / "m.py").read_text() == FIXED


def test_diff_marks_a_last_line_without_a_newline(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def f(a):\n    if a == None:\n        return 0")
    diff = run("check", "--diff", "m.py", cwd=tmp_path).stdout
    assert diff.endswith("+    if a is None:\n         return 0\n\\ No newline at end of file\n")
    subprocess.run(["git", "apply", "-"], input=diff, text=True, cwd=tmp_path, check=True)
    assert (tmp_path / "m.py").read_text() == "def f(a):\n    if a is None:\n        return 0"


def test_diff_with_unsafe_fixes_shows_those_too(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(BUGGY)
    diff = run("check", "--diff", "--unsafe-fixes", "m.py", cwd=tmp_path).stdout
    assert "+def f(a=None):" in diff and "+    if a is None:" in diff


def test_diff_of_a_tree_without_fixes_is_empty_and_exits_zero(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text(CLEAN)
    result = run("check", "--diff", ".", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == "No fixes to apply.\n"


def test_show_fixes_lists_what_fix_applied_per_file_and_rule(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(BUGGY)
    result = run("check", "--fix", "--show-fixes", "m.py", cwd=tmp_path)
    assert result.returncode == 1  # DL101 is left: its fix is unsafe
    assert "Fixed 1 finding:\n- m.py:\n    1 \N{MULTIPLICATION SIGN} DL104 (" in result.stdout
    assert (tmp_path / "m.py").read_text() == FIXED


def test_show_fixes_without_fix_lists_what_fix_would_apply(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(BUGGY)
    result = run("check", "--show-fixes", "m.py", cwd=tmp_path)
    listed = "1 finding fixable with `dspy-lsp check --fix`:\n- m.py:\n    1 \N{MULTIPLICATION SIGN} DL104 ("
    assert listed in result.stdout
    assert (tmp_path / "m.py").read_text() == BUGGY
