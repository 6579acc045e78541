"""With ``store.url`` naming PostgreSQL (``DSPY_LSP_STORE__URL``), an accepted fix and a
dismissal in the editor land in the team store's feedback_events under the project's key and
the user, not in a local file."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psycopg
import pytest
import pytest_lsp
from lsp_client import apply_action, open_and_wait
from lsprotocol import types
from pytest_lsp import ClientServerConfig

from .conftest import behave_like_an_editor

pytestmark = pytest.mark.asyncio(loop_scope="function")

SOURCE = "def check(x):\n    return x == None\n"


async def test_feedback_from_the_editor_lands_in_the_team_store(
    pg_url: str, tmp_path: Path
) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "acme-app"\n')
    source = project / "check.py"
    source.write_text(SOURCE)
    data = tmp_path / "data"
    env = {
        **os.environ,
        "DSPY_LSP_DEBOUNCE_MS": "0",
        "XDG_DATA_HOME": str(data),
        "DSPY_LSP_STORE__URL": pg_url,
        "DSPY_LSP_STORE__USER": "ana@example.com",
    }
    client = await ClientServerConfig(
        [sys.executable, "-m", "dspy_lsp.server"], server_env=env
    ).start()
    behave_like_an_editor(client)
    client.set_configuration({}, section="dspy-lsp")
    await client.initialize_session(
        types.InitializeParams(
            capabilities=pytest_lsp.client_capabilities("visual-studio-code"),
            root_uri=project.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=project.as_uri(), name="app")],
        )
    )
    try:
        uri = source.as_uri()
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
        _, result = await apply_action(client, uri, SOURCE, fix, 2)
        assert result["recorded"] == 1
    finally:
        await client.shutdown_session()
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT project, user_name, kind, rule, path, finding_id FROM feedback_events"
        ).fetchall()
    assert rows == [
        (
            "acme-app",
            "ana@example.com",
            "accepted",
            "DL104",
            "check.py",
            diagnostic.data["finding_id"],
        )
    ]
    assert not (data / "dspy-lsp" / "feedback").exists()  # nothing went to a local file
