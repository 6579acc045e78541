"""An editor session that opens one file, takes the quick fix of one rule and applies it, as a
user accepting a fix does: what the feedback tests need before they look at the store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest_lsp
from lsp_client import apply_action, open_and_wait
from lsprotocol import types
from pytest_lsp import ClientServerConfig

from .conftest import behave_like_an_editor


async def accept_fix(
    folder: Path, source: Path, rule: str, env: dict[str, str]
) -> tuple[types.Diagnostic, Any]:
    """A server started with ``env`` on ``folder``; the diagnostic of ``rule`` in ``source``
    and what the feedback command answered once its fix was applied."""
    text = source.read_text()
    client = await ClientServerConfig(
        [sys.executable, "-m", "dspy_lsp.server"], server_env=env
    ).start()
    behave_like_an_editor(client)
    client.set_configuration({}, section="dspy-lsp")
    await client.initialize_session(
        types.InitializeParams(
            capabilities=pytest_lsp.client_capabilities("visual-studio-code"),
            root_uri=folder.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=folder.as_uri(), name=folder.name)],
        )
    )
    try:
        uri = source.as_uri()
        published = await open_and_wait(client, uri, text)
        [diagnostic] = [d for d in published.diagnostics if d.code == rule]
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=diagnostic.range,
                context=types.CodeActionContext(diagnostics=[diagnostic]),
            )
        )
        fix = next(a for a in actions or [] if isinstance(a, types.CodeAction) and a.edit)
        _, result = await apply_action(client, uri, text, fix, 2)
    finally:
        await client.shutdown_session()
    return diagnostic, result
