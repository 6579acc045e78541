"""Rows 4 and 10 of the workspace-trust issue: links a repository ships to files outside it.

``check --fix`` writes through O_EXCL temp files and never through a planted name; ``check``
and ``analyzeWorkspace`` never read, rewrite or send a file outside the project.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from security.harness import (
    analyze,
    command,
    hostile_project,
    machine,
    server,
    tree_digest,
)

FIXABLE = "def f(x):\n    if x == None:\n        return 1\n"
FIXED = "def f(x):\n    if x is None:\n        return 1\n"
SECRET = "def deploy():\n    token = 'prod-token-0123456789'\n    return eval(token)\n"


def test_row4_fix_never_writes_through_a_planted_temp_file_name(tmp_path: Path) -> None:
    with machine(tmp_path) as m:
        bashrc = m.home / ".bashrc"
        bashrc.write_text("echo hello\n")
        project = hostile_project(tmp_path / "repo", "[tool.dspy-lsp]\n", FIXABLE)
        target = project / "app.py"
        target.chmod(0o640)
        for planted in (".app.py.dspy-lsp.tmp", "app.py.dspy-lsp.tmp"):
            (project / planted).symlink_to(bashrc)
        result = m.cli("check", "--fix", ".", cwd=project)
        assert result.returncode == 0, result.stdout + result.stderr
        assert bashrc.read_text() == "echo hello\n"
        assert target.read_text() == FIXED
        assert stat.S_IMODE(target.stat().st_mode) == 0o640
        left = sorted(p.name for p in project.iterdir())
        assert left == [".app.py.dspy-lsp.tmp", "app.py", "app.py.dspy-lsp.tmp", "pyproject.toml"]


def test_row4_fix_edits_a_link_only_inside_the_checked_tree(tmp_path: Path) -> None:
    with machine(tmp_path) as m:
        outside = m.home / "outside.py"
        outside.write_text(FIXABLE)
        project = hostile_project(tmp_path / "repo", "[tool.dspy-lsp]\n", FIXABLE)
        (project / "real.py").write_text(FIXABLE)
        (project / "inside_link.py").symlink_to(project / "real.py")
        (project / "outside_link.py").symlink_to(outside)
        result = m.cli("check", "--fix", ".", cwd=project)
        assert outside.read_text() == FIXABLE
        assert "outside_link.py: a link to a file outside" in result.stderr
        assert (project / "real.py").read_text() == FIXED
        assert (project / "inside_link.py").is_symlink()
        named = m.cli("check", "--fix", "outside_link.py", cwd=project)
        assert outside.read_text() == FIXABLE and "outside" in named.stderr


def test_row4_an_unwritable_file_is_reported_and_the_others_are_fixed(tmp_path: Path) -> None:
    with machine(tmp_path) as m:
        project = hostile_project(tmp_path / "repo", "[tool.dspy-lsp]\n", FIXABLE)
        locked = project / "locked"
        locked.mkdir()
        (locked / "mod.py").write_text(FIXABLE)
        locked.chmod(0o555)  # the file could be written, but no temp file can be created
        try:
            result = m.cli("check", "--fix", ".", cwd=project)
            leftovers = [p.name for p in locked.iterdir()]
        finally:
            locked.chmod(0o755)
        assert (project / "app.py").read_text() == FIXED
        if os.geteuid() != 0:  # root may create files in a read-only directory
            assert "could not write fixes to locked/mod.py" in result.stderr
            assert (locked / "mod.py").read_text() == FIXABLE
        assert leftovers == ["mod.py"]


def test_row10_check_never_reads_or_sends_a_linked_secret(tmp_path: Path) -> None:
    with machine(tmp_path) as m:
        secret = m.home / "secrets.py"
        secret.write_text(SECRET)
        project = hostile_project(tmp_path / "repo", "[tool.dspy-lsp]\n")
        (project / "config.py").symlink_to(secret)
        (project / "linked_dir").symlink_to(m.home, target_is_directory=True)
        m.user_config(m.user_lm_toml())
        result = m.cli("check", "--format", "json", ".", cwd=project)
        assert "config.py" not in result.stdout and "secrets" not in result.stdout
        assert m.user_lm.request_count == 1  # app.py only
        assert all("prod-token" not in repr(r.messages) for r in m.user_lm.requests)


async def test_row10_analyze_workspace_never_reads_or_sends_a_linked_secret(
    tmp_path: Path,
) -> None:
    with machine(tmp_path) as m:
        secret = m.home / "secrets.py"
        secret.write_text(SECRET)
        project = hostile_project(tmp_path / "repo", "[tool.dspy-lsp]\n")
        (project / "config.py").symlink_to(secret)
        before = tree_digest(m.home)
        async with server(m, project, {"dspy-lsp": {"lm": m.user_lm_settings()}}) as client:
            result = await command(client, "dspy-lsp.analyzeWorkspace")
            assert m.user_lm.request_count == 1, repr(result)  # app.py only
            # An editor may open the link itself: its text still stays away from the LM.
            opened = await analyze(client, project / "config.py")
        assert opened["lm_findings"] == 0 and opened["rules"] == []
        assert m.user_lm.request_count == 1
        assert all("prod-token" not in repr(r.messages) for r in m.user_lm.requests)
        assert "config.py" not in repr(result)
        after = tree_digest(m.home)
        assert {p: d for p, d in after.items() if p in before} == before


async def test_row10_a_second_workspace_folder_is_inside_the_workspace(tmp_path: Path) -> None:
    """Multi-root windows: only what lies outside every folder stays away from the LM."""
    with machine(tmp_path) as m:
        first = hostile_project(tmp_path / "first", "[tool.dspy-lsp]\n")
        second = hostile_project(tmp_path / "second", "[tool.dspy-lsp]\n")
        options = {"dspy-lsp": {"lm": m.user_lm_settings()}}
        async with server(m, first, options, second) as client:
            result = await analyze(client, second / "app.py")
        assert result["lm_findings"] == 1 and m.user_lm.request_count == 1
