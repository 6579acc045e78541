"""A real client over stdio against ``python -m dspy_lsp.server`` in a temporary workspace.

One server per test module (start-up dominates otherwise); tests use distinct files.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient
from scratch_dirs import scratch_dir

WORKSPACE = scratch_dir("dspy-lsp-e2e-")
SERVER = ClientServerConfig(
    server_command=[sys.executable, "-m", "dspy_lsp.server"],
    server_env={**os.environ, "DSPY_LSP_DEBOUNCE_MS": "50"},
)


def _capabilities(client: str, encodings: list[str] | None) -> types.ClientCapabilities:
    caps = pytest_lsp.client_capabilities(client)
    if encodings is not None:
        caps.general = types.GeneralClientCapabilities(position_encodings=encodings)
    return caps


def decode_actions_like_editors(lsp_client: LanguageClient) -> None:
    """lsprotocol decodes every code action that carries a ``command`` as a bare Command;
    editors tell them apart by the type of ``command`` (a string only on a Command)."""
    converter = lsp_client.protocol._converter

    def hook(obj: Any, _: type) -> types.Command | types.CodeAction:
        kind = types.Command if isinstance(obj.get("command"), str) else types.CodeAction
        return converter.structure(obj, kind)

    converter.register_structure_hook(types.Command | types.CodeAction, hook)


def behave_like_an_editor(lsp_client: LanguageClient) -> None:
    """Decode actions as editors do, and record every publish in ``lsp_client.published``
    (pytest-lsp keeps only the last one per URI)."""
    decode_actions_like_editors(lsp_client)
    lsp_client.published = []  # type: ignore[attr-defined]
    lsp_client.protocol.fm.features.pop(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, None)

    @lsp_client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def _published(params: types.PublishDiagnosticsParams) -> None:
        lsp_client.diagnostics[params.uri] = params.diagnostics
        lsp_client.published.append(params)  # type: ignore[attr-defined]


async def _start(
    lsp_client: LanguageClient, caps: types.ClientCapabilities, options: dict | None = None
):
    behave_like_an_editor(lsp_client)
    lsp_client.set_configuration({}, section="dspy-lsp")
    lsp_client.registrations = []  # type: ignore[attr-defined]

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def _register(params: types.RegistrationParams) -> None:
        lsp_client.registrations.extend(params.registrations)  # type: ignore[attr-defined]

    result = await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=caps,
            root_uri=WORKSPACE.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=WORKSPACE.as_uri(), name="ws")],
            initialization_options=options,
        )
    )
    lsp_client.initialize_result = result  # type: ignore[attr-defined]


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient):
    """VS Code's capabilities: UTF-16 positions, documentChanges, watched-files registration."""
    await _start(lsp_client, _capabilities("visual-studio-code", None))
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=SERVER, scope="module")
async def utf8_client(lsp_client: LanguageClient):
    """Neovim's capabilities, offering UTF-8 first."""
    await _start(lsp_client, _capabilities("neovim", ["utf-8", "utf-16"]))
    yield
    await lsp_client.shutdown_session()


def lm_client_fixture(env: dict[str, str], lm: dict[str, Any]) -> Any:
    """A module-scoped ``client`` fixture: VS Code's capabilities, a server started with ``env``
    and the LM settings ``lm`` (assign it to ``client`` in the test module)."""

    @pytest_lsp.fixture(
        config=ClientServerConfig(
            server_command=[sys.executable, "-m", "dspy_lsp.server"], server_env=env
        ),
        scope="module",
    )
    async def client(lsp_client: LanguageClient):
        await _start(lsp_client, pytest_lsp.client_capabilities("visual-studio-code"), {"lm": lm})
        yield
        await lsp_client.shutdown_session()

    return client


def workspace_file(name: str, text: str | None = None) -> str:
    path = WORKSPACE / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if text is not None:
        path.write_text(text, encoding="utf-8")
    return path.as_uri()
