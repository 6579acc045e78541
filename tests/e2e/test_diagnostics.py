"""Diagnostics as an editor sees them: on open, after incremental edits, in the right place."""

from __future__ import annotations

import asyncio

import pytest
from lsp_client import change_and_wait, open_and_wait, text_in_range
from lsprotocol import types
from pytest_lsp import LanguageClient

from .conftest import workspace_file

pytestmark = pytest.mark.asyncio(loop_scope="module")

MUTABLE = "def add(item, items=[]):\n    items.append(item)\n    return items\n"


async def test_open_publishes_rule_findings_with_code_source_and_data(
    client: LanguageClient,
) -> None:
    uri = workspace_file("diag/open.py")
    params = await open_and_wait(client, uri, MUTABLE)
    [diag] = params.diagnostics
    assert diag.code == "DL101" and diag.source == "dspy-lsp"
    assert diag.severity == types.DiagnosticSeverity.Warning
    assert text_in_range(MUTABLE, diag.range) == "items=[]"
    assert diag.data["finding_id"] and diag.data["fix"]["edits"]
    assert diag.code_description is not None
    assert diag.code_description.href.endswith("/docs/rules/DL101.md")
    assert params.version == 1


async def test_incremental_change_updates_diagnostics(client: LanguageClient) -> None:
    uri = workspace_file("diag/change.py")
    await open_and_wait(client, uri, MUTABLE)
    # Replace "[]" with "None" on line 0: the finding must go away.
    start = MUTABLE.index("[]")
    change = types.TextDocumentContentChangePartial(
        range=types.Range(
            start=types.Position(line=0, character=start),
            end=types.Position(line=0, character=start + 2),
        ),
        text="None",
    )
    params = await change_and_wait(
        client,
        uri,
        lambda: client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[change],
            )
        ),
        version=2,
    )
    assert list(params.diagnostics) == []


async def test_utf16_columns_on_a_line_with_emoji(client: LanguageClient) -> None:
    text = 'def greet(face="😀👍", seen={}):\n    return face\n'
    uri = workspace_file("diag/emoji.py")
    params = await open_and_wait(client, uri, text)
    [diag] = params.diagnostics
    # Two astral characters count as 4 UTF-16 units: code points would give 28, UTF-16 gives 30.
    assert diag.range.start.character == text.index("seen") + 2
    assert text_in_range(text, diag.range, "utf-16") == "seen={}"


async def test_utf8_is_used_when_the_client_offers_it(utf8_client: LanguageClient) -> None:
    text = 'def greet(face="é😀", seen={}):\n    return face\n'
    uri = workspace_file("diag/emoji8.py")
    params = await open_and_wait(utf8_client, uri, text)
    [diag] = params.diagnostics
    assert utf8_client.initialize_result.capabilities.position_encoding == "utf-8"
    assert diag.range.start.character == len(text[: text.index("seen")].encode("utf-8"))
    assert text_in_range(text, diag.range, "utf-8") == "seen={}"


async def test_crlf_and_tabs_keep_ranges_exact(client: LanguageClient) -> None:
    text = "x = 1\r\n\r\nclass C:\r\n\tdef m(self, a=[]):\r\n\t\treturn a\r\n"
    uri = workspace_file("diag/crlf.py")
    params = await open_and_wait(client, uri, text)
    [diag] = params.diagnostics
    assert diag.range.start.line == 3
    assert text_in_range(text, diag.range) == "a=[]"


async def test_form_feed_does_not_shift_lines_under_incremental_edits(
    client: LanguageClient,
) -> None:
    text = "import os\n\x0c\ndef f(a=[]):\n    return a\n"
    uri = workspace_file("diag/formfeed.py")
    await open_and_wait(client, uri, text)
    # Insert a line at the top; the finding moves from line 2 to line 3.
    change = types.TextDocumentContentChangePartial(
        range=types.Range(
            start=types.Position(line=3, character=4), end=types.Position(line=3, character=4)
        ),
        text="# hi\n    ",
    )
    params = await change_and_wait(
        client,
        uri,
        lambda: client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[change],
            )
        ),
        version=2,
    )
    expected = "import os\n\x0c\ndef f(a=[]):\n    # hi\n    return a\n"
    [diag] = params.diagnostics
    assert text_in_range(expected, diag.range) == "a=[]"
    info = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="dspy-lsp.debugInfo")
    )
    assert info["open_documents"] >= 1


async def test_syntax_error_file_gets_one_diagnostic_at_the_error(client: LanguageClient) -> None:
    text = "def ok():\n    return 1\n\ndef broken(:\n    pass\n"
    uri = workspace_file("diag/syntax.py")
    params = await open_and_wait(client, uri, text)
    [diag] = params.diagnostics
    assert diag.code == "DL000" and diag.severity == types.DiagnosticSeverity.Error
    assert diag.range.start.line == 3
    assert "SyntaxError" in diag.message


async def test_close_clears_diagnostics(client: LanguageClient) -> None:
    uri = workspace_file("diag/close.py")
    await open_and_wait(client, uri, MUTABLE)
    params = await change_and_wait(
        client,
        uri,
        lambda: client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        ),
        version=None,
    )
    assert list(params.diagnostics) == []


async def test_rapid_edits_never_publish_an_older_version_last(client: LanguageClient) -> None:
    uri = workspace_file("diag/rapid.py")
    await open_and_wait(client, uri, MUTABLE)
    published: list[int | None] = []
    for version in range(2, 12):
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    types.TextDocumentContentChangeWholeDocument(text=MUTABLE + f"x = {version}\n")
                ],
            )
        )
        await asyncio.sleep(0.005)
    params = await change_and_wait(client, uri, lambda: None, version=11)
    published.append(params.version)
    await asyncio.sleep(0.3)
    assert client.diagnostics[uri] == params.diagnostics
    assert len(params.diagnostics) == 1


async def test_analyze_file_command_and_debug_info(client: LanguageClient) -> None:
    uri = workspace_file("diag/command.py")
    await open_and_wait(client, uri, MUTABLE)
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="dspy-lsp.analyzeFile", arguments=[uri])
    )
    assert result["findings"] == 1 and result["rules"] == ["DL101"]
    info = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="dspy-lsp.debugInfo")
    )
    assert info["position_encoding"] == "utf-16"
    assert any(rule.startswith("DL101 ") for rule in info["rules"])
    assert info["settings"]["debounce_ms"] == 50


async def test_huge_and_binary_documents_get_a_note_not_a_crash(client: LanguageClient) -> None:
    huge = await open_and_wait(client, workspace_file("diag/huge.py"), MUTABLE * 60_000)  # ~5 MB
    [note] = huge.diagnostics
    assert note.code == "DL001" and "too large" in note.message
    assert note.severity == types.DiagnosticSeverity.Information
    binary = await open_and_wait(client, workspace_file("diag/blob.py"), "x = 1\x00\x01\n")
    assert [d.code for d in binary.diagnostics] == ["DL001"]
    still_alive = await open_and_wait(client, workspace_file("diag/after.py"), MUTABLE)
    assert [d.code for d in still_alive.diagnostics] == ["DL101"]
