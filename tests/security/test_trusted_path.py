"""The trusted path still works: the same settings from the user's own config, after
``dspy-lsp trust``, with ``--trust-project``, or with the client's trust flag; and an editor
window in Restricted Mode keeps the LM off whatever the settings say.
"""

from __future__ import annotations

import json
from pathlib import Path

from security.harness import (
    USER_KEY,
    Machine,
    analyze,
    command,
    hostile_project,
    machine,
    server,
    shown_messages,
)


def _own_project(m: Machine, root: Path) -> Path:
    """A project whose pyproject names the user's own endpoint and key (trusted-only keys)."""
    pyproject = "[tool.dspy-lsp]\n" + m.user_lm_toml().replace("[lm]", "[tool.dspy-lsp.lm]")
    return hostile_project(root, pyproject)


def test_lm_settings_from_the_user_config_run_the_lm(tmp_path: Path) -> None:
    with machine(tmp_path) as m:
        m.user_config(m.user_lm_toml())
        project = hostile_project(tmp_path / "repo", "[tool.dspy-lsp]\nignore = []\n")
        result = m.cli("check", ".", cwd=project)
        assert "LM-bug" in result.stdout, result.stderr
        [request] = m.user_lm.requests
        assert request.headers["Authorization"] == f"Bearer {USER_KEY}"
        shown = m.cli("check", "--show-settings", ".", cwd=project).stdout
        assert f'lm.api_base = "{m.user_lm.base_url}"  [user config ' in shown
        assert "ignore = []  [" in shown and "pyproject.toml [tool.dspy-lsp]]" in shown


def test_dspy_lsp_trust_lets_the_project_choose_its_lm(tmp_path: Path) -> None:
    with machine(tmp_path) as m:
        project = _own_project(m, tmp_path / "repo")
        before = m.cli("check", ".", cwd=project)
        assert m.user_lm.request_count == 0 and "dspy-lsp trust" in before.stderr
        trusted = m.cli("trust", str(project), cwd=m.home)
        assert trusted.returncode == 0 and str(project) in trusted.stdout
        assert m.cli("trust", "--list", cwd=m.home).stdout.strip() == str(project)
        after = m.cli("check", ".", cwd=project)
        assert "LM-bug" in after.stdout and "dspy-lsp trust" not in after.stderr
        assert m.user_lm.request_count == 1
        shown = m.cli("check", "--show-settings", ".", cwd=project).stdout
        assert "(trusted)" in shown
        assert m.cli("trust", "--remove", str(project), cwd=m.home).returncode == 0
        m.cli("check", ".", cwd=project)
        assert m.user_lm.request_count == 1


def test_trust_project_flag_trusts_one_run_only(tmp_path: Path) -> None:
    with machine(tmp_path) as m:
        project = _own_project(m, tmp_path / "repo")
        result = m.cli("check", "--trust-project", ".", cwd=project)
        assert "LM-bug" in result.stdout and m.user_lm.request_count == 1
        assert m.cli("trust", "--list", cwd=m.home).stdout == ""


async def test_a_trusted_project_drives_the_server_too(tmp_path: Path) -> None:
    with machine(tmp_path) as m:
        project = _own_project(m, tmp_path / "repo")
        m.cli("trust", str(project), cwd=m.home)
        async with server(m, project) as client:
            result = await analyze(client, project / "app.py")
            info = await command(client, "dspy-lsp.debugInfo")
        assert result["lm_findings"] == 1
        assert info["trust"]["project_trusted"] is True
        assert info["settings_sources"]["lm.api_base"].endswith("pyproject.toml [tool.dspy-lsp]")


async def test_the_clients_trust_flag_trusts_the_project(tmp_path: Path) -> None:
    with machine(tmp_path) as m:
        project = _own_project(m, tmp_path / "repo")
        async with server(m, project, {"trustProject": True}) as client:
            result = await analyze(client, project / "app.py")
            messages = shown_messages(client)
        assert result["lm_findings"] == 1
        assert not [msg for msg in messages if "dspy-lsp trust" in msg]


async def test_restricted_mode_keeps_the_lm_off_whatever_the_settings_say(
    tmp_path: Path,
) -> None:
    with machine(tmp_path) as m:
        project = _own_project(m, tmp_path / "repo")
        options = {"restrictedMode": True, "dspy-lsp": {"lm": m.user_lm_settings()}}
        async with server(m, project, options) as client:
            result = await analyze(client, project / "app.py")
            status = await command(client, "dspy-lsp.status")
            info = await command(client, "dspy-lsp.debugInfo")
        assert result["rules"] == ["DL101"] and result["lm_findings"] == 0
        assert m.user_lm.request_count == 0
        assert "Restricted Mode" in status["off_reason"]
        assert info["settings_sources"]["lm.model"] == "restricted mode"
        assert "trustProject" not in json.dumps(info["settings"])
