"""'Report a missed bug here': a selection becomes a labelled ``missed`` event, which the
learning loop reads as a positive example the analyzer should have found."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from lsp_client import open_and_wait
from lsprotocol import types
from pytest_lsp import LanguageClient
from scratch_dirs import scratch_dir

from dspy_lsp.analyzers.learning.records import FeedbackKind
from dspy_lsp.analyzers.learning.sources import from_feedback
from dspy_lsp.server.store.feedback_store import FeedbackStore

from .conftest import lm_client_fixture, workspace_file

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOME = scratch_dir("dspy-lsp-missed-")
STORE = HOME / "feedback.sqlite3"
ENV = {**os.environ, "DSPY_LSP_FEEDBACK__PATH": str(STORE), "XDG_DATA_HOME": str(HOME)}
# The model is configured but never reached (nothing listens on port 9): the action is offered
# whenever an analyzer runs, and recording it needs no model.
client = lm_client_fixture(
    ENV,
    {"model": "openai/absent", "api_base": "http://127.0.0.1:9/v1", "max_attempts": 1},
)

SOURCE = (
    '"""Search."""\n'
    "\n"
    "\n"
    "def find_first(items, target):\n"
    "    lo, hi = 0, len(items)\n"
    "    while lo <= hi:\n"  # the bug: < hi
    "        mid = (lo + hi) // 2\n"
    "        if items[mid] < target:\n"
    "            lo = mid + 1\n"
    "        else:\n"
    "            hi = mid\n"
    "    return lo\n"
)
BUG_LINE = 5  # 0-based in the file: "    while lo <= hi:"


async def _actions(client: LanguageClient, uri: str, selection: types.Range) -> dict:
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=selection,
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    return {a.title: a for a in result or [] if isinstance(a, types.CodeAction)}


async def test_a_selection_reported_as_a_missed_bug_is_a_labelled_example(
    client: LanguageClient,
) -> None:
    uri = workspace_file("missed/search.py", SOURCE)
    await open_and_wait(client, uri, SOURCE)
    selection = types.Range(types.Position(BUG_LINE, 4), types.Position(BUG_LINE, 19))
    actions = await _actions(client, uri, selection)
    action = actions["dspy-lsp: report a missed bug here"]
    assert action.kind == "quickfix.dspy-lsp.reportMissed" and action.edit is None
    assert action.command is not None
    answer = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command=action.command.command, arguments=action.command.arguments
        )
    )
    assert answer["recorded"] == 1

    with FeedbackStore(STORE) as store:
        [event] = [stored.event for stored in store.events()]
    assert event.kind is FeedbackKind.MISSED
    assert event.code is not None and event.code.startswith("def find_first(items, target):")
    # Unit-relative and 1-based: the function's third line.
    assert (event.line, event.end_line) == (3, 3)
    assert event.code.splitlines()[event.line - 1] == "    while lo <= hi:"
    assert event.context is not None and '"""Search."""' in event.context

    [example], _ = from_feedback([event])
    assert [(p.line, p.end_line, p.category) for p in example.positives] == [(3, 3, "")]

    exported = subprocess.run(
        [sys.executable, "-m", "dspy_lsp.server.cli", "feedback", "export", "--format", "jsonl"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
    )
    assert '"kind": "missed"' in exported.stdout, exported.stderr


async def test_no_report_action_for_a_bare_cursor(
    client: LanguageClient,
) -> None:
    uri = workspace_file("missed/other.py", SOURCE)
    await open_and_wait(client, uri, SOURCE)
    cursor = types.Range(types.Position(BUG_LINE, 6), types.Position(BUG_LINE, 6))
    assert "dspy-lsp: report a missed bug here" not in await _actions(client, uri, cursor)
