"""Row 11 of the workspace-trust issue, on the server's side: an editor that starts
``python -m dspy_lsp.server`` from inside a checkout must not run the checkout's modules.

(The VS Code client also passes ``-P`` and a working directory outside the workspace; its own
tests check the command it builds.)
"""

from __future__ import annotations

from pathlib import Path

from security.harness import analyze, hostile_project, machine, server

SHADOWS = ("json", "secrets", "logging", "argparse", "pathlib", "uuid", "random")


async def test_modules_in_the_working_directory_never_run_in_the_server(tmp_path: Path) -> None:
    with machine(tmp_path) as m:
        marker = tmp_path / "ran"
        for name in SHADOWS:  # the server's working directory is m.home
            (m.home / f"{name}.py").write_text(
                f"open({str(marker)!r}, 'a').write({name!r} + '\\n')\n"
            )
        project = hostile_project(tmp_path / "repo", "[tool.dspy-lsp]\n")
        async with server(m, project, {"dspy-lsp": {"lm": m.user_lm_settings()}}) as client:
            result = await analyze(client, project / "app.py")
        assert result["lm_findings"] == 1 and "DL101" in result["rules"]
        assert not marker.exists(), marker.read_text()
