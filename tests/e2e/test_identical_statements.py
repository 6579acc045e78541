"""Identical statements give findings with one id (ids survive moves): each is still published,
and a stale diagnostic's fix lands on its own statement, not its twin's."""

from __future__ import annotations

import pytest
from lsp_client import apply_text_edits, edits_for, open_and_wait, replace_and_wait
from lsprotocol import types
from pytest_lsp import LanguageClient

from .conftest import workspace_file

pytestmark = pytest.mark.asyncio(loop_scope="module")

TWINS = "if y == None: pass\n\nif y == None: pass\n"


async def test_both_of_two_identical_statements_are_reported(client: LanguageClient) -> None:
    uri = workspace_file("twins/both.py")
    await open_and_wait(client, uri, "y = 1\n")
    # A second version: by now the LM tier has been set up (no model), and its merge ran.
    params = await replace_and_wait(client, uri, TWINS, 2)
    lines = sorted(d.range.start.line for d in params.diagnostics if d.code == "DL104")
    assert lines == [0, 2]
    ids = {d.data["finding_id"] for d in params.diagnostics}
    assert len(ids) == 1  # the reason this test exists


async def test_a_stale_diagnostic_fixes_its_own_twin(client: LanguageClient) -> None:
    uri = workspace_file("twins/stale.py")
    params = await open_and_wait(client, uri, TWINS)
    second = max(params.diagnostics, key=lambda d: d.range.start.line)
    shifted = "import os\n" + TWINS
    await replace_and_wait(client, uri, shifted, 2)
    # An editor moves its markers with the text; the data stays version 1's.
    moved = types.Range(
        start=types.Position(line=3, character=second.range.start.character),
        end=types.Position(line=3, character=second.range.end.character),
    )
    second = types.Diagnostic(
        range=moved,
        message=second.message,
        code=second.code,
        source=second.source,
        data=second.data,
    )
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=second.range,
            context=types.CodeActionContext(diagnostics=[second]),  # version 1's diagnostic
        )
    )
    fix = next(a for a in result or [] if isinstance(a, types.CodeAction) and a.edit)
    fixed = apply_text_edits(shifted, edits_for(fix.edit, uri))
    assert fixed == "import os\nif y == None: pass\n\nif y is None: pass\n"
