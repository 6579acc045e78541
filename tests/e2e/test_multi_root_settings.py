"""A multi-root workspace: each folder's own editor settings (pulled with its scopeUri, as VS
Code answers resource-scoped settings) decide the rules for the documents under it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsp_client import change_and_wait, open_and_wait
from lsprotocol import types
from pytest_lsp import ClientServerConfig

from .conftest import behave_like_an_editor

pytestmark = pytest.mark.asyncio(loop_scope="module")

SOURCE = "def check(x):\n    return x == None\n"


@pytest.mark.parametrize(
    "pushed",
    [None, {"dspy-lsp": {"debounce_ms": 0}}],
    ids=["pulled", "pushed-with-the-notification"],  # VS Code pushes the window's settings
)
async def test_each_folder_gets_its_own_editor_settings(
    tmp_path: Path, pushed: dict | None
) -> None:
    quiet, loud = tmp_path / "quiet", tmp_path / "loud"
    for folder in (quiet, loud):
        folder.mkdir()
        (folder / "app.py").write_text(SOURCE)
    env = {**os.environ, "DSPY_LSP_DEBOUNCE_MS": "0"}
    client = await ClientServerConfig(
        [sys.executable, "-m", "dspy_lsp.server"], server_env=env
    ).start()
    behave_like_an_editor(client)
    client.set_configuration({})  # the window: nothing set
    client.set_configuration({"ignore": ["DL104"]}, section="dspy-lsp", scope_uri=quiet.as_uri())
    client.set_configuration({}, section="dspy-lsp", scope_uri=loud.as_uri())
    await client.initialize_session(
        types.InitializeParams(
            capabilities=pytest_lsp.client_capabilities("visual-studio-code"),
            root_uri=loud.as_uri(),
            workspace_folders=[
                types.WorkspaceFolder(uri=loud.as_uri(), name="loud"),
                types.WorkspaceFolder(uri=quiet.as_uri(), name="quiet"),
            ],
        )
    )
    try:
        loud_uri, quiet_uri = (loud / "app.py").as_uri(), (quiet / "app.py").as_uri()
        await open_and_wait(client, loud_uri, SOURCE)
        before = await open_and_wait(client, quiet_uri, SOURCE)
        after = await change_and_wait(
            client,
            quiet_uri,
            lambda: client.workspace_did_change_configuration(
                types.DidChangeConfigurationParams(settings=pushed)
            ),
            None,
        )
        loud_after = client.diagnostics[loud_uri]
    finally:
        await client.shutdown_session()
    assert [d.code for d in before.diagnostics] == ["DL104"]  # before the folder's settings
    assert list(after.diagnostics) == []
    assert [d.code for d in loud_after] == ["DL104"]
