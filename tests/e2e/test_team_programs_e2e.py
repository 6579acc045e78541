"""Shared programs: with ``store.url`` naming PostgreSQL, ``dspy-lsp programs activate`` run by
someone else (another process, as CI's ``optimize`` would) changes the program a running
server uses, and so does a shared rollback: the server's next LM diagnostics carry the version
the team store says is active."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_lsp
from fakes.openai_server import FakeOpenAI
from fakes.reviewer import Reviewer
from lsp_client import open_and_wait
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient
from test_registry import save, team_choice

from dspy_lsp.server.children import CLI
from dspy_lsp.server.store.registry_choice import open_registry

from .conftest import behave_like_an_editor

pytestmark = pytest.mark.asyncio(loop_scope="function")

SOURCE = "import ast\n\n\ndef parse(text):\n    return eval(text)\n"
FAKE = FakeOpenAI(responder=Reviewer()).start()


async def _lm_versions(client: LanguageClient, uri: str) -> set[str]:
    return {d.data["origin"] for d in client.diagnostics.get(uri, []) if d.data["origin"] != "rule"}


async def _wait_for_version(client: LanguageClient, uri: str, version: str | None) -> str:
    """The one version on ``uri``'s LM diagnostics once it is ``version`` (any, if None)."""
    deadline = asyncio.get_running_loop().time() + 30
    while asyncio.get_running_loop().time() < deadline:
        found = await _lm_versions(client, uri)
        if len(found) == 1 and (version is None or found == {version}):
            return found.pop()
        await asyncio.sleep(0.1)
    raise AssertionError(f"diagnostics carry {await _lm_versions(client, uri)}, not {version}")


async def test_an_activation_and_a_rollback_elsewhere_reach_the_running_server(
    pg_url: str, tmp_path: Path
) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "acme-app"\n')
    source = project / "parse.py"
    source.write_text(SOURCE)
    env = {
        **os.environ,
        "DSPY_LSP_DEBOUNCE_MS": "30",
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "DSPY_LSP_STORE__URL": pg_url,
    }
    registry = open_registry(team_choice(pg_url, "acme-app", "ci"), tmp_path / "unused")
    optimized = save(registry, "Look for eval. THE TEAM'S PROMPT")

    client = await ClientServerConfig(
        [sys.executable, "-m", "dspy_lsp.server"], server_env=env
    ).start()
    behave_like_an_editor(client)
    client.set_configuration({}, section="dspy-lsp")
    lm = {
        "model": "openai/fake-model",
        "api_base": FAKE.base_url,
        "max_attempts": 1,
        "finder": "analyze",
    }
    await client.initialize_session(
        types.InitializeParams(
            capabilities=pytest_lsp.client_capabilities("visual-studio-code"),
            root_uri=project.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=project.as_uri(), name="app")],
            initialization_options={"lm": lm},
        )
    )
    try:
        uri = source.as_uri()
        await open_and_wait(client, uri, SOURCE)
        builtin = await _wait_for_version(client, uri, None)
        assert builtin != optimized.version

        def programs(*args: str) -> None:
            done = subprocess.run(
                [*CLI, "programs", *args],
                capture_output=True,
                text=True,
                env=env,
                cwd=project,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr

        await asyncio.to_thread(programs, "activate", optimized.version[:12])
        await _wait_for_version(client, uri, optimized.version)

        await asyncio.to_thread(programs, "rollback", "analyze")
        await _wait_for_version(client, uri, builtin)
    finally:
        await client.shutdown_session()
