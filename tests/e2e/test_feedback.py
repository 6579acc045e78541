"""Accepting and dismissing findings through real code actions lands exact events in the store."""

from __future__ import annotations

import asyncio

import pytest
import pytest_lsp
from lsp_client import apply_action, change_and_wait, open_and_wait, replace_and_wait
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient
from scratch_dirs import scratch_dir

from dspy_lsp.server.lsp.constants import CMD_FEEDBACK
from dspy_lsp.server.store.feedback_store import FeedbackStore

from .conftest import SERVER, _capabilities, _start, workspace_file

pytestmark = pytest.mark.asyncio(loop_scope="module")

STORE = scratch_dir("dspy-lsp-feedback-") / "feedback.sqlite3"

SOURCE = (
    "import json\n"
    "\n"
    "\n"
    "def load(path):\n"
    "    data = json.load(open(path))\n"
    "    if data == None:\n"
    "        return {}\n"
    "    return data\n"
)


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient):
    options = {
        "dspy-lsp": {
            "feedback": {"path": str(STORE), "ignore_after_saves": 2},
            "actions": {"dismiss": "all"},  # the dismissals as actions of their own
        }
    }
    await _start(lsp_client, _capabilities("visual-studio-code", None), options)
    yield
    await lsp_client.shutdown_session()


def _events(path: str | None = None) -> list:
    """Events of one workspace file (finding ids are content-based: files here share them)."""
    with FeedbackStore(STORE) as store:
        events = [stored.event for stored in store.events()]
    return [e for e in events if path is None or e.path == path]


async def _actions(client: LanguageClient, uri: str, diagnostic: types.Diagnostic) -> dict:
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic]),
        )
    )
    return {a.title: a for a in result or [] if isinstance(a, types.CodeAction)}


async def _apply(
    client: LanguageClient, uri: str, text: str, action: types.CodeAction, version: int
) -> str:
    assert action.command is not None and action.command.command == CMD_FEEDBACK
    text, result = await apply_action(client, uri, text, action, version)
    assert result["recorded"] == len(action.command.arguments or [])
    return text


def _diagnostic(params: types.PublishDiagnosticsParams, code: str) -> types.Diagnostic:
    return next(d for d in params.diagnostics if d.code == code)


async def test_an_applied_quick_fix_is_logged_as_accepted_with_its_edit(
    client: LanguageClient,
) -> None:
    uri = workspace_file("feedback/accept.py")
    params = await open_and_wait(client, uri, SOURCE)
    diagnostic = _diagnostic(params, "DL104")
    action = (await _actions(client, uri, diagnostic))["DL104: Use an identity comparison"]
    await _apply(client, uri, SOURCE, action, version=2)

    [event] = _events("feedback/accept.py")
    assert event.finding_id == diagnostic.data["finding_id"]
    assert (event.kind, event.rule, event.category, event.action_kind) == (
        "accepted",
        "DL104",
        "bug",
        "quickfix",
    )
    assert event.program_version == "rule" and event.path == "feedback/accept.py"
    assert (event.line, event.end_line) == (3, 3)  # the unit's own numbering
    assert event.code.startswith("def load(path):") and "data == None" in event.code
    assert "data is None" in event.edit and "data == None" not in event.edit
    assert event.unit_hash and event.context == "import json\n"


async def test_dismissing_as_false_positive_suppresses_and_logs_it(
    client: LanguageClient,
) -> None:
    uri = workspace_file("feedback/false_positive.py")
    params = await open_and_wait(client, uri, SOURCE)
    diagnostic = _diagnostic(params, "DL104")
    actions = await _actions(client, uri, diagnostic)
    dismiss = actions["Dismiss DL104: false positive (suppress on this line)"]
    text = await _apply(client, uri, SOURCE, dismiss, version=2)

    assert "# dspy-lsp: ignore[DL104]" in text
    assert not any(d.code == "DL104" for d in client.diagnostics[uri])
    [event] = _events("feedback/false_positive.py")
    assert event.finding_id == diagnostic.data["finding_id"]
    assert (event.kind, event.action_kind) == ("dismissed_false_positive", "dismiss")


async def test_dismissing_for_now_hides_the_finding_and_logs_it(client: LanguageClient) -> None:
    uri = workspace_file("feedback/later.py")
    params = await open_and_wait(client, uri, SOURCE)
    diagnostic = _diagnostic(params, "DL104")
    later = (await _actions(client, uri, diagnostic))["Dismiss DL104: not now (hide this session)"]
    assert later.edit is None  # nothing to change in the file
    await change_and_wait(
        client,
        uri,
        lambda: client.workspace_execute_command(
            types.ExecuteCommandParams(
                command=later.command.command, arguments=later.command.arguments
            )
        ),
        1,
    )
    codes = [d.code for d in client.diagnostics[uri]]
    assert "DL104" not in codes and "DL105" in codes  # only the dismissed finding is hidden
    [event] = _events("feedback/later.py")
    assert (event.kind, event.finding_id) == ("dismissed_later", diagnostic.data["finding_id"])


def _save(client: LanguageClient, uri: str) -> None:
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )


async def _wait_for_events(path: str, count: int, timeout: float = 10) -> list:
    """Implicit events are recorded after the save notification, with no reply to wait on."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        found = _events(path)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} events for {path} within {timeout}s")


async def test_a_finding_left_standing_for_n_saves_is_logged_once_as_ignored(
    client: LanguageClient,
) -> None:
    uri = workspace_file("feedback/ignored.py")
    params = await open_and_wait(client, uri, SOURCE)
    ids = {d.data["finding_id"] for d in params.diagnostics}
    for _ in range(4):  # the threshold is 2 saves; later saves add nothing
        _save(client, uri)
    await _wait_for_events("feedback/ignored.py", len(ids))
    await asyncio.sleep(0.3)  # more saves must not log more
    events = _events("feedback/ignored.py")
    assert {e.kind for e in events} == {"ignored"}
    assert sorted(e.finding_id for e in events) == sorted(ids)


async def test_a_finding_the_user_fixes_by_hand_is_self_fixed_with_the_users_edit(
    client: LanguageClient,
) -> None:
    uri = workspace_file("feedback/self_fixed.py")
    params = await open_and_wait(client, uri, SOURCE)
    diagnostic = _diagnostic(params, "DL104")
    fixed = SOURCE.replace("if data == None:", "if not data:")
    await replace_and_wait(client, uri, fixed, 2)
    _save(client, uri)
    [event] = await _wait_for_events("feedback/self_fixed.py", 1)
    assert event.kind == "self_fixed"
    assert event.finding_id == diagnostic.data["finding_id"]
    assert "if not data:" in event.edit and "data == None" in event.code
    assert event.action_kind == "implicit"


async def test_a_malformed_feedback_call_is_an_error_and_stores_nothing(
    client: LanguageClient,
) -> None:
    before = len(_events())
    with pytest.raises(JsonRpcException):
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=CMD_FEEDBACK, arguments=[{"kind": "accepted"}])
        )
    assert len(_events()) == before


async def test_with_capture_turned_off_nothing_is_stored_but_dismissing_still_hides(
    client: LanguageClient,
) -> None:
    off = {
        "dspy-lsp": {
            "feedback": {"path": str(STORE), "enabled": False},
            "actions": {"dismiss": "all"},
        }
    }
    uri = workspace_file("feedback/off.py")
    await open_and_wait(client, uri, SOURCE)
    await change_and_wait(
        client,
        uri,
        lambda: client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings=off)
        ),
        None,
    )
    diagnostic = _diagnostic(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=client.diagnostics[uri]), "DL104"
    )
    later = (await _actions(client, uri, diagnostic))["Dismiss DL104: not now (hide this session)"]
    before = len(_events())
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=CMD_FEEDBACK, arguments=later.command.arguments)
    )
    assert result["recorded"] == 0 and len(_events()) == before
    await asyncio.sleep(0.2)
    assert "DL104" not in [d.code for d in client.diagnostics[uri]]
