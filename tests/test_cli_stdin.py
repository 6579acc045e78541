"""``check -``: the source comes on stdin, as ruff reads it; ``--stdin-filename`` names the file
it stands for (settings, per-file overrides, the path reported)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli import BUGGY, CLEAN

from dspy_lsp.server.cli.main import main

FIXED = BUGGY.replace("a == None", "a is None")


def run_with_stdin(source: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    out, err = io.StringIO(), io.StringIO()
    previous, stdin = Path.cwd(), sys.stdin
    try:
        os.chdir(cwd)
        sys.stdin = io.TextIOWrapper(io.BytesIO(source.encode("utf-8")), encoding="utf-8")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.chdir(previous)
        sys.stdin = stdin
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.dspy-lsp]\noverrides = [{ path = "legacy/*", ignore = ["DL101"] }]\n'
    )
    (tmp_path / "legacy").mkdir()
    return tmp_path


def test_stdin_is_checked_and_reported_under_its_stdin_filename(project: Path) -> None:
    result = run_with_stdin(BUGGY, "check", "--stdin-filename", "new.py", "-", cwd=project)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("new.py:1:7: DL101 ") for line in lines)
    assert lines[-1].startswith("Found 2 findings in 1 file.")


def test_the_stdin_filename_chooses_the_per_file_overrides(project: Path) -> None:
    result = run_with_stdin(
        BUGGY, "check", "--format", "json", "--stdin-filename", "legacy/old.py", "-", cwd=project
    )
    items = json.loads(result.stdout)
    assert {(item["path"], item["rule"]) for item in items} == {("legacy/old.py", "DL104")}


def test_the_stdin_filename_is_anchored_at_the_project_from_any_directory(project: Path) -> None:
    result = run_with_stdin(
        BUGGY,
        "check",
        "--format",
        "json",
        "--stdin-filename",
        "old.py",
        "-",
        cwd=project / "legacy",
    )
    assert {item["rule"] for item in json.loads(result.stdout)} == {"DL104"}


def test_the_stdin_filename_chooses_the_project_settings(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "pyproject.toml").write_text('[tool.dspy-lsp]\nignore = ["DL104"]\n')
    result = run_with_stdin(
        BUGGY, "check", "--format", "json", "--stdin-filename", "sub/m.py", "-", cwd=tmp_path
    )
    assert {item["rule"] for item in json.loads(result.stdout)} == {"DL101"}


def test_stdin_without_a_filename_is_reported_as_a_dash(tmp_path: Path) -> None:
    result = run_with_stdin(BUGGY, "check", "-", cwd=tmp_path)
    assert any(line.startswith("-:2:8: DL104 [*] ") for line in result.stdout.splitlines())
    assert not list(tmp_path.iterdir())  # no results cache, no file


def test_fix_prints_the_fixed_source_and_reports_the_rest_on_stderr(tmp_path: Path) -> None:
    result = run_with_stdin(BUGGY, "check", "--fix", "--stdin-filename", "m.py", "-", cwd=tmp_path)
    assert result.stdout == FIXED
    assert "m.py:1:7: DL101 " in result.stderr and "Fixed 1." in result.stderr
    assert result.returncode == 1
    assert not (tmp_path / "m.py").exists()


def test_fix_of_clean_source_gives_it_back_unchanged(tmp_path: Path) -> None:
    result = run_with_stdin(CLEAN, "check", "--fix", "-", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, CLEAN)


def test_fix_of_source_that_cannot_be_read_gives_it_back_unchanged(tmp_path: Path) -> None:
    binary = "x = 1\n\x00\n"
    result = run_with_stdin(binary, "check", "--fix", "-", cwd=tmp_path)
    assert result.stdout == binary
    assert "DL001" in result.stderr


def test_diff_on_stdin_shows_the_fixes_under_the_stdin_filename(tmp_path: Path) -> None:
    result = run_with_stdin(BUGGY, "check", "--diff", "--stdin-filename", "m.py", "-", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith("--- m.py\n+++ m.py\n")
    assert "+    if a is None:\n" in result.stdout


def test_a_dash_with_other_paths_is_a_usage_error(tmp_path: Path) -> None:
    result = run_with_stdin(BUGGY, "check", "-", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and "stdin" in result.stderr


def test_a_stdin_filename_without_a_dash_is_a_usage_error(tmp_path: Path) -> None:
    result = run_with_stdin(BUGGY, "check", "--stdin-filename", "m.py", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and "--stdin-filename" in result.stderr
