"""A project's formatter config is data: it picks a style, never a program, an option or a
module. ``check --fix`` in a hostile checkout that plants ``ruff`` and ``black`` runs neither."""

from __future__ import annotations

import os
from pathlib import Path

from security.harness import hostile_project, machine

JOIN = (
    "def check(request):\n"
    "    if request.user is not None and request.user.is_authenticated:\n"
    "        if request.method in ('POST', 'PUT') and request.headers.get('X-Token'):\n"
    "            return True\n"
    "    return False\n"
)
HOSTILE = """
[tool.ruff]
line-length = 88
extend = "../../elsewhere/ruff.toml"

[tool.ruff.format]
quote-style = "single'\\n[lint]\\nselect = ['ALL']\\n#"
indent-style = "--config=/tmp/evil.toml"

[tool.dspy-lsp]
select = ["DL111"]
"""


def _plant(path: Path, marker: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\ntouch {marker}\n")
    path.chmod(0o755)


def test_a_hostile_ruff_config_formats_with_our_ruff_and_its_checked_values(
    tmp_path: Path,
) -> None:
    with machine(tmp_path) as m:
        project = hostile_project(tmp_path / "repo", HOSTILE, JOIN)
        ran = tmp_path / "planted-program-ran"
        for planted in (project / "ruff", project / "bin" / "ruff", project / ".venv/bin/ruff"):
            _plant(planted, ran)
        (project / "black.py").write_text(f"open({str(ran)!r}, 'w').close()\n")
        env = {**m.env, "PATH": f"{project / 'bin'}{os.pathsep}{m.env.get('PATH', '')}"}
        m.env = env
        result = m.cli("check", "--fix", ".", cwd=project)
        assert not ran.exists()
        assert "Fixed 1." in result.stdout, result.stdout + result.stderr
        assert result.stderr == ""
        fixed = (project / "app.py").read_text()
        # The injected quote style was dropped: ruff's default (double quotes) formatted it.
        assert '        and request.method in ("POST", "PUT")\n' in fixed
        assert fixed.startswith("def check(request):\n    if (\n")


def test_a_black_project_formats_with_our_black_not_a_planted_module(tmp_path: Path) -> None:
    with machine(tmp_path) as m:
        pyproject = '[tool.black]\nline-length = 88\n\n[tool.dspy-lsp]\nselect = ["DL111"]\n'
        project = hostile_project(tmp_path / "repo", pyproject, JOIN)
        ran = tmp_path / "planted-module-ran"
        (project / "black.py").write_text(f"open({str(ran)!r}, 'w').close()\n")
        (project / "black").mkdir()
        (project / "black" / "__init__.py").write_text(f"open({str(ran)!r}, 'w').close()\n")
        result = m.cli("check", "--fix", ".", cwd=project)
        assert not ran.exists()
        assert "Fixed 1." in result.stdout, result.stdout + result.stderr
        assert (project / "app.py").read_text().startswith("def check(request):\n    if (\n")
