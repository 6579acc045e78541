"""``.pre-commit-hooks.yaml``: the hooks pre-commit installs run ``dspy-lsp check`` (and
``--fix``) on the staged Python files, with the files appended as pre-commit does."""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_cli import BUGGY, run

REPO = Path(__file__).resolve().parent.parent
FIXED = BUGGY.replace("a == None", "a is None")


def hooks() -> dict[str, dict[str, Any]]:
    listed = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    return {hook["id"]: hook for hook in listed}


def test_both_hooks_are_python_hooks_on_python_files() -> None:
    found = hooks()
    assert set(found) == {"dspy-lsp", "dspy-lsp-fix"}
    for hook in found.values():
        assert {"id", "name", "entry", "language"} <= set(hook)
        assert hook["language"] == "python" and hook["types"] == ["python"]


def test_the_hooks_run_the_installed_script() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert {shlex.split(hook["entry"])[0] for hook in hooks().values()} == set(scripts)


@pytest.mark.parametrize(("hook", "after"), [("dspy-lsp", BUGGY), ("dspy-lsp-fix", FIXED)])
def test_each_hook_checks_the_files_pre_commit_passes(
    tmp_path: Path, hook: str, after: str
) -> None:
    (tmp_path / "staged.py").write_text(BUGGY)
    argv = shlex.split(hooks()[hook]["entry"])[1:]
    result = run(*argv, "staged.py", cwd=tmp_path)
    assert result.returncode == 1  # DL101 stays either way: its fix is unsafe
    assert "staged.py:1:7: DL101 " in result.stdout
    assert (tmp_path / "staged.py").read_text() == after
