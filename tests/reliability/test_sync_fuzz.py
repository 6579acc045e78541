"""Document sync under random incremental edits, through a real client (UTF-16 and UTF-8).

Hypothesis draws the edits (see benchmarks/sync_fuzz.py, which also runs the 10,000-edit
mode); after every batch the server's text must equal the client's and every diagnostic must
sit on the characters a fresh analysis of the client's text points at.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from benchmark_scripts import load_benchmark
from e2e.conftest import client, utf8_client, workspace_file  # noqa: F401  (the real server)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsp_client import change_and_wait, open_and_wait, text_in_range
from lsprotocol import types
from pytest_lsp import LanguageClient

pytestmark = pytest.mark.asyncio(loop_scope="module")

CI_DOCUMENTS = 18  # x 5 batches x up to 6 changes: a few hundred edits per client


fuzz = load_benchmark("sync_fuzz")
FIGURES = {encoding: fuzz.Figures(encoding) for encoding in ("utf-16", "utf-8")}
CI = settings(
    max_examples=CI_DOCUMENTS,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    print("\n" + fuzz.table(list(FIGURES.values())))


async def _fuzz(lsp: LanguageClient, data: st.DataObject, encoding: str) -> None:
    figures = FIGURES[encoding]
    seen = len(figures.problems)
    await fuzz.fuzz_document(lsp, data, encoding, figures)
    assert not figures.problems[seen:]


@CI
@given(data=st.data())
async def test_utf16_client_and_server_hold_the_same_text_and_positions(
    client: LanguageClient,  # noqa: F811
    data: st.DataObject,
) -> None:
    await _fuzz(client, data, "utf-16")


@CI
@given(data=st.data())
async def test_utf8_client_and_server_hold_the_same_text_and_positions(
    utf8_client: LanguageClient,  # noqa: F811
    data: st.DataObject,
) -> None:
    await _fuzz(utf8_client, data, "utf-8")


async def test_an_edit_past_the_end_of_the_last_line_lands_at_its_end(
    client: LanguageClient,  # noqa: F811
) -> None:
    """LSP: a character past the end of a line means the end; pygls put it one before."""
    uri = workspace_file("sync/past_end.py")
    await open_and_wait(client, uri, "x = None")
    past_end = types.Position(line=0, character=99)
    published = await _change(client, uri, 2, types.Range(start=past_end, end=past_end), " == None")
    [diagnostic] = published.diagnostics
    assert diagnostic.code == "DL104"
    assert text_in_range("x = None == None", diagnostic.range) == "None == None"


async def test_typing_into_an_emptied_document_still_gets_diagnostics(
    client: LanguageClient,  # noqa: F811
) -> None:
    """Deleting everything left no parts to reuse; the next edit crashed the analysis, and the
    document got no diagnostics again until it was reopened."""
    uri = workspace_file("sync/emptied.py")
    await open_and_wait(client, uri, "x = 1\n")
    everything = types.Range(
        start=types.Position(line=0, character=0), end=types.Position(line=1, character=0)
    )
    assert not (await _change(client, uri, 2, everything, "")).diagnostics
    origin = types.Range(
        start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)
    )
    published = await _change(client, uri, 3, origin, "y = x == None\n")
    assert [d.code for d in published.diagnostics] == ["DL104"]


async def _change(
    lsp: LanguageClient, uri: str, version: int, where: types.Range, text: str
) -> types.PublishDiagnosticsParams:
    return await change_and_wait(
        lsp,
        uri,
        lambda: lsp.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangePartial(range=where, text=text)],
            )
        ),
        version,
    )


async def test_the_ci_run_applied_a_few_hundred_edits() -> None:
    for figures in FIGURES.values():
        assert figures.edits >= 200 and figures.probes > 0, figures
