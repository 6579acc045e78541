"""Jupyter notebooks through LSP notebook sync: the code cells are analysed as one module and
each cell gets its own diagnostics, in its own lines; a change updates them, closing clears them.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable

import pytest
import pytest_lsp
from fakes.openai_server import FakeOpenAI
from fakes.reviewer import Reviewer
from lsp_client import WAIT_S, apply_text_edits, edits_for
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient
from scratch_dirs import scratch_dir

from .conftest import SERVER, _start, workspace_file

pytestmark = pytest.mark.asyncio(loop_scope="module")

DEFINES = "import json\n\n\ndef load(path, strict):\n    return json.loads(path)\n"
NOTES = "# Notes\nNot Python: `x == None` here is prose.\n"
CALLS = "%matplotlib inline\nresult = load('a.json')\nif result == None:\n    print('none')"
Cells = dict[str, types.PublishDiagnosticsParams]


FAKE = FakeOpenAI(responder=Reviewer()).start()
LM_CACHE = str(scratch_dir("dspy-lsp-notebook-lm-"))


def _notebook_capabilities() -> types.ClientCapabilities:
    """VS Code's capabilities, with notebook sync (VS Code has it since 1.67)."""
    caps = pytest_lsp.client_capabilities("visual-studio-code")
    caps.notebook_document = types.NotebookDocumentClientCapabilities(
        synchronization=types.NotebookDocumentSyncClientCapabilities()
    )
    return caps


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient):
    await _start(lsp_client, _notebook_capabilities())
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "dspy_lsp.server"],
        server_env={**os.environ, "DSPY_LSP_DEBOUNCE_MS": "30", "XDG_DATA_HOME": LM_CACHE},
    ),
    scope="module",
)
async def lm_client(lsp_client: LanguageClient):
    lm = {"model": "openai/fake-model", "api_base": FAKE.base_url, "max_attempts": 1}
    lm["cache_path"] = f"{LM_CACHE}/lm.sqlite3"
    await _start(lsp_client, _notebook_capabilities(), {"lm": lm})
    yield
    await lsp_client.shutdown_session()


def _cell_uri(notebook: str, n: int) -> str:
    """As VS Code names cells: the notebook's path, the cell in the (quoted) fragment."""
    return f"vscode-notebook-cell:{notebook.removeprefix('file:')}#W{n}sZmlsZQ%3D%3D"


async def _published_for(client: LanguageClient, uris: set[str], action: Callable[[], None]):
    """Run ``action`` and wait for a publish for each of ``uris``: the last one of each."""
    published: list[types.PublishDiagnosticsParams] = client.published  # type: ignore[attr-defined]
    seen = len(published)
    action()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while loop.time() < deadline:
        found = {p.uri: p for p in published[seen:] if p.uri in uris}
        if set(found) == uris:
            return found
        await asyncio.sleep(0.01)
    raise AssertionError(f"no diagnostics for {uris - set(found)}: {published[seen:]}")


def _codes(params: types.PublishDiagnosticsParams) -> list[tuple[str, int]]:
    return sorted((str(d.code), d.range.start.line) for d in params.diagnostics)


async def _open(
    client: LanguageClient, name: str, last: str = CALLS
) -> tuple[str, list[str], Cells]:
    notebook = workspace_file(name)
    cells = [_cell_uri(notebook, n) for n in range(3)]
    kinds = [
        types.NotebookCellKind.Code,
        types.NotebookCellKind.Markup,
        types.NotebookCellKind.Code,
    ]
    texts = [(DEFINES, "python"), (NOTES, "markdown"), (last, "python")]
    params = types.DidOpenNotebookDocumentParams(
        notebook_document=types.NotebookDocument(
            uri=notebook,
            notebook_type="jupyter-notebook",
            version=1,
            cells=[
                types.NotebookCell(kind=k, document=u) for k, u in zip(kinds, cells, strict=True)
            ],
        ),
        cell_text_documents=[
            types.TextDocumentItem(uri=u, language_id=language, version=1, text=text)
            for u, (text, language) in zip(cells, texts, strict=True)
        ],
    )
    code = {cells[0], cells[2]}
    found = await _published_for(client, code, lambda: client.notebook_document_did_open(params))
    return notebook, cells, found


async def test_the_server_asks_for_the_python_cells_of_any_notebook(client: LanguageClient):
    sync = client.initialize_result.capabilities.notebook_document_sync  # type: ignore[attr-defined]
    [selector] = sync.notebook_selector
    assert [cell.language for cell in selector.cells] == ["python"]
    assert selector.notebook == "*"


async def test_each_code_cell_gets_its_findings_in_its_own_lines(client: LanguageClient) -> None:
    _, cells, found = await _open(client, "nb/open.ipynb")
    assert _codes(found[cells[0]]) == []
    # DL122: `load` of the first cell takes two arguments; DL104 on the cell's third line.
    # The magic is not a syntax error.
    assert _codes(found[cells[2]]) == [("DL104", 2), ("DL122", 1)]
    dl104 = next(d for d in found[cells[2]].diagnostics if d.code == "DL104")
    assert (dl104.range.start.character, dl104.range.end.character) == (3, 17)  # result == None
    assert found[cells[2]].version == 1
    assert cells[1] not in client.diagnostics  # the Markdown cell is not analysed


async def test_editing_a_cell_updates_its_diagnostics(client: LanguageClient) -> None:
    notebook, cells, _ = await _open(client, "nb/edit.ipynb")
    fixed = types.TextDocumentContentChangePartial(
        range=types.Range(
            start=types.Position(line=2, character=10), end=types.Position(line=2, character=17)
        ),
        text="is None",
    )
    change = types.DidChangeNotebookDocumentParams(
        notebook_document=types.VersionedNotebookDocumentIdentifier(uri=notebook, version=2),
        change=types.NotebookDocumentChangeEvent(
            cells=types.NotebookDocumentCellChanges(
                text_content=[
                    types.NotebookDocumentCellContentChanges(
                        document=types.VersionedTextDocumentIdentifier(uri=cells[2], version=2),
                        changes=[fixed],
                    )
                ]
            )
        ),
    )
    found = await _published_for(
        client, {cells[2]}, lambda: client.notebook_document_did_change(change)
    )
    assert found[cells[2]].version == 2
    assert _codes(found[cells[2]]) == [("DL122", 1)]


async def test_removing_the_defining_cell_clears_it_and_what_it_explained(
    client: LanguageClient,
) -> None:
    notebook, cells, _ = await _open(client, "nb/remove.ipynb")
    change = types.DidChangeNotebookDocumentParams(
        notebook_document=types.VersionedNotebookDocumentIdentifier(uri=notebook, version=2),
        change=types.NotebookDocumentChangeEvent(
            cells=types.NotebookDocumentCellChanges(
                structure=types.NotebookDocumentCellChangeStructure(
                    array=types.NotebookCellArrayChange(start=0, delete_count=1),
                    did_close=[types.TextDocumentIdentifier(uri=cells[0])],
                )
            )
        ),
    )
    found = await _published_for(
        client, {cells[0], cells[2]}, lambda: client.notebook_document_did_change(change)
    )
    assert list(found[cells[0]].diagnostics) == []
    # Without the cell defining `load`, the call is no longer checked against it.
    assert _codes(found[cells[2]]) == [("DL104", 2)]


async def test_closing_the_notebook_clears_its_cells(client: LanguageClient) -> None:
    notebook, cells, _ = await _open(client, "nb/close.ipynb")
    close = types.DidCloseNotebookDocumentParams(
        notebook_document=types.NotebookDocumentIdentifier(uri=notebook),
        cell_text_documents=[types.TextDocumentIdentifier(uri=u) for u in cells],
    )
    found = await _published_for(
        client, set(cells), lambda: client.notebook_document_did_close(close)
    )
    assert all(not params.diagnostics for params in found.values())


async def test_hovering_a_cell_explains_its_finding(client: LanguageClient) -> None:
    _, cells, found = await _open(client, "nb/hover.ipynb")
    dl104 = next(d for d in found[cells[2]].diagnostics if d.code == "DL104")
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=cells[2]), position=dl104.range.start
        )
    )
    assert hover is not None and hover.range == dl104.range
    assert hover.contents.value.startswith(f"**DL104**: {dl104.message}")


async def test_a_cells_quick_fix_edits_that_cell(client: LanguageClient) -> None:
    _, cells, found = await _open(client, "nb/fix.ipynb")
    dl104 = next(d for d in found[cells[2]].diagnostics if d.code == "DL104")
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=cells[2]),
            range=dl104.range,
            context=types.CodeActionContext(diagnostics=[dl104]),
        )
    )
    by_title = {a.title: a for a in actions or [] if isinstance(a, types.CodeAction)}
    fix = by_title["DL104: Use an identity comparison"]
    assert apply_text_edits(CALLS, edits_for(fix.edit, cells[2])) == CALLS.replace(
        "result == None", "result is None"
    )
    assert "Dismiss DL104…" in by_title


async def test_the_lm_reviews_the_notebook_and_its_findings_land_on_their_cell(
    lm_client: LanguageClient,
) -> None:
    _, cells, _ = await _open(
        lm_client, "nb/lm.ipynb", last="def parse(text):\n    return eval(text)\n"
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not (found := [d for d in lm_client.diagnostics.get(cells[2], []) if d.code == "LM-bug"]):
        assert loop.time() < deadline, lm_client.diagnostics.get(cells[2])
        await asyncio.sleep(0.05)
    [finding] = found
    assert finding.range.start.line == 1  # `return eval(text)`, in the cell's own lines
    assert finding.data["origin"].startswith("repair@")
    assert not [d for d in lm_client.diagnostics.get(cells[0], []) if d.code == "LM-bug"]
