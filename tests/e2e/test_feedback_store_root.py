"""An editor opened on a folder inside a git repository records feedback in the store the CLI
reads for that repository (keyed by the git root), not in one keyed by the folder opened."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsp_client import apply_action, open_and_wait
from lsprotocol import types
from pytest_lsp import ClientServerConfig

from dspy_lsp.server.store.feedback_store import FeedbackStore, default_store_path

from .conftest import behave_like_an_editor

pytestmark = pytest.mark.asyncio(loop_scope="module")

SOURCE = "def check(x):\n    return x == None\n"


async def test_a_subfolder_of_a_repository_shares_the_repositorys_store(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    opened = repo / "service"
    opened.mkdir()
    app = opened / "app.py"
    app.write_text(SOURCE)
    data = tmp_path / "data"
    env = {**os.environ, "DSPY_LSP_DEBOUNCE_MS": "0", "XDG_DATA_HOME": str(data)}
    client = await ClientServerConfig(
        [sys.executable, "-m", "dspy_lsp.server"], server_env=env
    ).start()
    behave_like_an_editor(client)
    client.set_configuration({}, section="dspy-lsp")
    await client.initialize_session(
        types.InitializeParams(
            capabilities=pytest_lsp.client_capabilities("visual-studio-code"),
            root_uri=opened.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=opened.as_uri(), name="service")],
        )
    )
    try:
        uri = app.as_uri()
        published = await open_and_wait(client, uri, SOURCE)
        [diagnostic] = [d for d in published.diagnostics if d.code == "DL104"]
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=diagnostic.range,
                context=types.CodeActionContext(diagnostics=[diagnostic]),
            )
        )
        fix = next(a for a in actions or [] if isinstance(a, types.CodeAction) and a.edit)
        await apply_action(client, uri, SOURCE, fix, 2)
    finally:
        await client.shutdown_session()
    env_data = {"XDG_DATA_HOME": str(data)}
    assert not default_store_path(opened, env_data).exists()
    with FeedbackStore(default_store_path(repo, env_data)) as store:
        [event] = [stored.event for stored in store.events()]
    assert event.rule == "DL104" and event.path == "service/app.py"
