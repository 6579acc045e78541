"""The files ``check`` walks: ``.gitignore`` is honoured, and ``exclude`` and per-file
``overrides`` globs are anchored at the project root, whatever directory the command runs in
and however the path is typed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from test_cli import BUGGY, run


def checked(*args: str, cwd: Path) -> set[str]:
    result = run("check", "--no-cache", "--format", "json", *args, cwd=cwd)
    assert result.returncode in (0, 1), result.stderr
    return {item["path"] for item in json.loads(result.stdout)}


def write(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(BUGGY)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    (root / ".gitignore").write_text("generated/\n*_pb2.py\n!keep_pb2.py\n")
    (root / "sub").mkdir()
    (root / "sub" / ".gitignore").write_text("local.py\n")
    write(root, "generated/a.py", "x_pb2.py", "keep_pb2.py", "src/m.py", "src/y_pb2.py")
    write(root, "sub/local.py", "sub/ok.py")
    return root


def test_what_gitignore_files_ignore_is_not_checked(repo: Path) -> None:
    assert checked(".", cwd=repo) == {"keep_pb2.py", "src/m.py", "sub/ok.py"}


def test_a_gitignore_above_the_checked_directory_applies(repo: Path) -> None:
    assert checked("src", cwd=repo) == {"src/m.py"}
    assert checked(".", cwd=repo / "src") == {"m.py"}


def test_the_repository_info_exclude_applies(repo: Path) -> None:
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "exclude").write_text("src/\n")
    assert checked(".", cwd=repo) == {"keep_pb2.py", "sub/ok.py"}


def test_a_file_named_on_the_command_line_is_checked_even_if_ignored(repo: Path) -> None:
    assert checked("x_pb2.py", "sub/local.py", cwd=repo) == {"x_pb2.py", "sub/local.py"}


@pytest.fixture
def configured(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    write(root, "pkg/gen/a.py", "pkg/b_generated.py", "pkg/real.py", "pkg/legacy/old.py")
    (root / "pyproject.toml").write_text(
        "[tool.dspy-lsp]\n"
        'exclude = ["pkg/gen/*", "*_generated.py"]\n'
        'overrides = [{ path = "pkg/legacy/*", ignore = ["DL101"] }]\n'
    )
    return root


@pytest.mark.parametrize(
    ("where", "path", "shown"),
    [
        (".", ".", "pkg/"),
        ("pkg", ".", ""),
        ("pkg", "../pkg", "../pkg/"),
        ("pkg/legacy", "..", "../"),
    ],
)
def test_exclude_globs_are_anchored_at_the_project_root(
    configured: Path, where: str, path: str, shown: str
) -> None:
    assert checked(path, cwd=configured / where) == {f"{shown}real.py", f"{shown}legacy/old.py"}


def test_exclude_globs_hold_for_an_absolute_path_from_elsewhere(configured: Path) -> None:
    paths = checked(str(configured / "pkg"), cwd=configured.parent)
    assert {Path(p).relative_to(configured).as_posix() for p in paths} == {
        "pkg/real.py",
        "pkg/legacy/old.py",
    }


def test_overrides_are_anchored_at_the_project_root_from_any_directory(configured: Path) -> None:
    for where, path in ((".", "pkg/legacy/old.py"), ("pkg/legacy", "old.py"), ("pkg", ".")):
        result = run("check", "--no-cache", "--format", "json", path, cwd=configured / where)
        old = [i["rule"] for i in json.loads(result.stdout) if i["path"].endswith("old.py")]
        assert sorted(old) == ["DL104"], (where, path)


def test_without_a_config_globs_are_anchored_at_the_git_root(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user's own settings have no project: their globs mean the repository's paths."""
    config = tmp_path / "config"
    (config / "dspy-lsp").mkdir(parents=True)
    (config / "dspy-lsp" / "config.toml").write_text(
        'exclude = ["sub/ok.py"]\noverrides = [{ path = "src/*", ignore = ["DL101"] }]\n'
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    assert checked(".", cwd=repo / "sub") == set()
    result = run("check", "--no-cache", "--format", "json", ".", cwd=repo / "src")
    assert {(i["path"], i["rule"]) for i in json.loads(result.stdout)} == {("m.py", "DL104")}
