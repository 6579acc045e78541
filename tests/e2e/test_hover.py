"""Hovering a diagnostic explains it: the rule, its message and rationale and a link to its page;
for an LM finding, the program version that found it and its confidence. Hover reads what was
published, so it never starts an analysis."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
import pytest_lsp
from fakes.openai_server import FakeOpenAI
from fakes.reviewer import Reviewer
from lsp_client import open_and_wait
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient
from scratch_dirs import scratch_dir

from dspy_lsp.analyzers.rule_docs import rule_doc_url
from dspy_lsp.analyzers.rules import ALL_RULES

from .conftest import _start, workspace_file

pytestmark = pytest.mark.asyncio(loop_scope="module")

SOURCE = "def check(x):\n    if x == None:\n        return 1\n    return 2\n"
LM_SOURCE = "import ast\n\n\ndef parse(text):\n    return eval(text)\n"

FAKE = FakeOpenAI(responder=Reviewer()).start()
CACHE = str(scratch_dir("dspy-lsp-hover-lm-"))


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "dspy_lsp.server"],
        server_env={**os.environ, "DSPY_LSP_DEBOUNCE_MS": "30", "XDG_DATA_HOME": CACHE},
    ),
    scope="module",
)
async def lm_client(lsp_client: LanguageClient):
    lm = {"model": "openai/fake-model", "api_base": FAKE.base_url, "max_attempts": 1}
    lm["cache_path"] = f"{CACHE}/lm.sqlite3"
    await _start(lsp_client, pytest_lsp.client_capabilities("visual-studio-code"), {"lm": lm})
    yield
    await lsp_client.shutdown_session()


async def _hover(client: LanguageClient, uri: str, position: types.Position) -> types.Hover | None:
    return await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=position)
    )


async def _published(client: LanguageClient) -> int:
    info = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="dspy-lsp.debugInfo")
    )
    return info["published"]


async def test_hovering_a_rule_finding_shows_its_rule_message_rationale_and_page(
    client: LanguageClient,
) -> None:
    uri = workspace_file("hover/rule.py")
    params = await open_and_wait(client, uri, SOURCE)
    [diagnostic] = [d for d in params.diagnostics if d.code == "DL104"]
    middle = types.Position(line=1, character=diagnostic.range.start.character + 3)
    hover = await _hover(client, uri, middle)
    assert hover is not None and hover.range == diagnostic.range
    assert isinstance(hover.contents, types.MarkupContent)
    assert hover.contents.kind == types.MarkupKind.Markdown
    assert hover.contents.value == (
        f"**DL104**: {diagnostic.message}\n\n{ALL_RULES['DL104'].RATIONALE}\n\n"
        f"[DL104 documentation]({rule_doc_url('DL104')})"
    )


async def test_hovering_where_nothing_is_reported_shows_nothing(client: LanguageClient) -> None:
    uri = workspace_file("hover/quiet.py")
    await open_and_wait(client, uri, SOURCE)
    assert await _hover(client, uri, types.Position(line=3, character=6)) is None
    assert (
        await _hover(
            client, workspace_file("hover/never_opened.py"), types.Position(line=0, character=0)
        )
        is None
    )


async def test_hovering_analyses_nothing(client: LanguageClient) -> None:
    uri = workspace_file("hover/count.py")
    params = await open_and_wait(client, uri, SOURCE)
    before = await _published(client)
    for _ in range(5):
        assert await _hover(client, uri, params.diagnostics[0].range.start) is not None
    assert await _published(client) == before


async def test_hovering_an_lm_finding_shows_its_program_version_and_confidence(
    lm_client: LanguageClient,
) -> None:
    uri = workspace_file("hover/lm.py")
    await open_and_wait(lm_client, uri, LM_SOURCE)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not (found := [d for d in lm_client.diagnostics.get(uri, []) if d.code == "LM-bug"]):
        assert loop.time() < deadline, lm_client.diagnostics.get(uri)
        await asyncio.sleep(0.05)
    [diagnostic] = found
    hover = await _hover(lm_client, uri, diagnostic.range.start)
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    origin, confidence = diagnostic.data["origin"], diagnostic.data["confidence"]
    assert origin.startswith("repair@")
    assert hover.contents.value.startswith(f"**LM-bug**: {diagnostic.message}\n\n")
    assert f"Found by `{origin}` (program version), confidence {confidence:.2f}" in (
        hover.contents.value
    )
    assert f"[LM-bug documentation]({rule_doc_url('LM-bug')})" in hover.contents.value
