"""Quick fixes, suppressions and fix-all, applied the way an editor applies them."""

from __future__ import annotations

import pytest
from lsp_client import apply_text_edits, edits_for, open_and_wait
from lsprotocol import types
from pytest_lsp import LanguageClient

from .conftest import workspace_file

pytestmark = pytest.mark.asyncio(loop_scope="module")

SOURCE = (
    "def load(path, cache={}):\n"
    "    if path == None:\n"
    "        return cache\n"
    "    for key in cache.keys():\n"
    "        print(key)\n"
    "    return cache\n"
)


async def _actions(
    client: LanguageClient,
    uri: str,
    diagnostics: list[types.Diagnostic],
    only: list[str] | None = None,
) -> list[types.CodeAction]:
    rng = (
        diagnostics[0].range
        if diagnostics
        else types.Range(
            start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)
        )
    )
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=rng,
            context=types.CodeActionContext(diagnostics=diagnostics, only=only),
        )
    )
    return [a for a in result or [] if isinstance(a, types.CodeAction)]


def _by_code(params: types.PublishDiagnosticsParams, code: str) -> types.Diagnostic:
    return next(d for d in params.diagnostics if d.code == code)


async def test_quick_fix_for_a_safe_finding_is_preferred_and_yields_the_fixed_text(
    client: LanguageClient,
) -> None:
    uri = workspace_file("actions/safe.py")
    params = await open_and_wait(client, uri, SOURCE)
    diag = _by_code(params, "DL104")
    actions = await _actions(client, uri, [diag])
    fix = next(a for a in actions if a.title.startswith("DL104"))
    assert fix.is_preferred and fix.kind == types.CodeActionKind.QuickFix
    fixed = apply_text_edits(SOURCE, edits_for(fix.edit, uri))
    assert fixed == SOURCE.replace("path == None", "path is None")


async def test_unsafe_fix_is_offered_but_not_preferred(client: LanguageClient) -> None:
    uri = workspace_file("actions/unsafe.py")
    params = await open_and_wait(client, uri, SOURCE)
    diag = _by_code(params, "DL101")
    actions = await _actions(client, uri, [diag])
    fix = next(a for a in actions if a.title.startswith("DL101"))
    assert "(unsafe)" in fix.title and not fix.is_preferred
    fixed = apply_text_edits(SOURCE, edits_for(fix.edit, uri))
    assert fixed.startswith(
        "def load(path, cache=None):\n    if cache is None:\n        cache = {}\n"
    )


async def test_suppress_action_adds_a_comment_that_silences_only_that_rule(
    client: LanguageClient,
) -> None:
    # The dismissals as actions of their own (the default, "menu", asks which: test_dismiss.py).
    workspace_file("actions_all/pyproject.toml", '[tool.dspy-lsp]\nactions = {dismiss = "all"}\n')
    uri = workspace_file("actions_all/suppress.py")
    params = await open_and_wait(client, uri, SOURCE)
    diag = _by_code(params, "DL104")
    actions = await _actions(client, uri, [diag])
    suppress = next(
        a for a in actions if a.title == "Dismiss DL104: false positive (suppress on this line)"
    )
    suppressed = apply_text_edits(SOURCE, edits_for(suppress.edit, uri))
    assert "    if path == None:  # dspy-lsp: ignore[DL104]\n" in suppressed
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    after = await open_and_wait(client, uri, suppressed, version=2)
    codes = sorted(str(d.code) for d in after.diagnostics)
    assert "DL104" not in codes and "DL101" in codes


async def test_fix_all_applies_only_safe_fixes(client: LanguageClient) -> None:
    uri = workspace_file("actions/fixall.py")
    await open_and_wait(client, uri, SOURCE)
    actions = await _actions(client, uri, [], only=["source.fixAll"])
    [fix_all] = actions
    assert fix_all.kind == "source.fixAll.dspy-lsp"
    fixed = apply_text_edits(SOURCE, edits_for(fix_all.edit, uri))
    assert "path is None" in fixed
    assert "cache={}" in fixed  # DL101's fix is unsafe: left for a human
    assert "cache.keys()" in fixed  # so is DL113's on a receiver not known to be a dict


async def test_stale_diagnostic_data_is_resolved_against_the_current_text(
    client: LanguageClient,
) -> None:
    uri = workspace_file("actions/stale.py")
    params = await open_and_wait(client, uri, SOURCE)
    diag = _by_code(params, "DL104")
    shifted = "import os\n" + SOURCE
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=shifted)],
        )
    )
    actions = await _actions(client, uri, [diag])  # the client still holds version 1's diagnostic
    fix = next(a for a in actions if a.title.startswith("DL104"))
    assert apply_text_edits(shifted, edits_for(fix.edit, uri)) == shifted.replace(
        "path == None", "path is None"
    )


async def test_meta_diagnostics_offer_no_actions(client: LanguageClient) -> None:
    uri = workspace_file("actions/syntax.py")
    params = await open_and_wait(client, uri, "def f(:\n")
    assert await _actions(client, uri, list(params.diagnostics)) == []
