"""``actions.dismiss``: "menu" (the default) offers one "Dismiss…" action per finding, after the
fixes, that asks which dismissal through ``window/showMessageRequest``; "all" offers both as
actions of their own; "none" offers none. Whichever way, a dismissal does the same and is
recorded as the same feedback event."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import pytest_lsp
from lsp_client import apply_text_edits, change_and_wait, edits_for, open_and_wait
from lsprotocol import types
from pytest_lsp import LanguageClient
from scratch_dirs import scratch_dir

from dspy_lsp.server.lsp.dismiss_menu import FALSE_POSITIVE, NOT_NOW
from dspy_lsp.server.store.feedback_store import FeedbackStore

from .conftest import SERVER, _capabilities, _start, workspace_file
from .test_feedback import SOURCE

pytestmark = pytest.mark.asyncio(loop_scope="module")

STORE = scratch_dir("dspy-lsp-dismiss-") / "feedback.sqlite3"


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient):
    lsp_client.answer = None  # type: ignore[attr-defined]  # the title the "user" picks
    lsp_client.questions = []  # type: ignore[attr-defined]
    lsp_client.applied = []  # type: ignore[attr-defined]

    @lsp_client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def _ask(params: types.ShowMessageRequestParams) -> types.MessageActionItem | None:
        if not params.message.startswith("Dismiss "):
            return None  # not ours to answer (another question of the server's)
        lsp_client.questions.append(params)  # type: ignore[attr-defined]
        answer = lsp_client.answer  # type: ignore[attr-defined]
        return types.MessageActionItem(title=answer) if answer else None

    @lsp_client.feature(types.WORKSPACE_APPLY_EDIT)
    def _apply(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        lsp_client.applied.append(params.edit)  # type: ignore[attr-defined]
        return types.ApplyWorkspaceEditResult(applied=True)

    options = {"feedback": {"path": str(STORE)}}
    await _start(lsp_client, _capabilities("visual-studio-code", None), options)
    yield
    await lsp_client.shutdown_session()


def _in(folder: str, dismiss: str | None, name: str) -> str:
    """A file of a project whose pyproject.toml sets ``actions.dismiss`` (None: unset)."""
    if dismiss is not None:
        workspace_file(
            f"{folder}/pyproject.toml", f'[tool.dspy-lsp]\nactions = {{dismiss = "{dismiss}"}}\n'
        )
    return workspace_file(f"{folder}/{name}")


async def _actions(
    client: LanguageClient, uri: str, diagnostics: list[types.Diagnostic]
) -> list[types.CodeAction]:
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=diagnostics[0].range,
            context=types.CodeActionContext(diagnostics=diagnostics),
        )
    )
    return [a for a in result or [] if isinstance(a, types.CodeAction)]


async def _pick(client: LanguageClient, action: types.CodeAction, answer: str | None) -> Any:
    client.answer = answer  # type: ignore[attr-defined]
    assert action.command is not None and action.command.command == "dspy-lsp.dismiss"
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command=action.command.command, arguments=action.command.arguments
        )
    )


def _events(finding_id: str) -> list:
    with FeedbackStore(STORE) as store:
        return [s.event for s in store.events() if s.event.finding_id == finding_id]


def _dl104(params: types.PublishDiagnosticsParams) -> types.Diagnostic:
    return next(d for d in params.diagnostics if d.code == "DL104")


async def test_menu_is_the_default_one_dismiss_action_per_finding_after_the_fixes(
    client: LanguageClient,
) -> None:
    uri = _in("dismiss_menu", None, "listed.py")
    params = await open_and_wait(client, uri, SOURCE)
    assert len(params.diagnostics) == 2  # DL105 (no fix) and DL104 (a fix)
    titles = [a.title for a in await _actions(client, uri, params.diagnostics)]
    dismissals = [t for t in titles if t.startswith("Dismiss")]
    assert sorted(dismissals) == ["Dismiss DL104…", "Dismiss DL105…"]
    assert titles[-2:] == dismissals  # after every fix
    assert "DL104: Use an identity comparison" in titles


async def test_menu_false_positive_writes_the_suppression_and_records_it(
    client: LanguageClient,
) -> None:
    uri = _in("dismiss_menu", None, "false_positive.py")
    diagnostic = _dl104(await open_and_wait(client, uri, SOURCE))
    [menu] = [a for a in await _actions(client, uri, [diagnostic]) if a.title == "Dismiss DL104…"]
    assert menu.edit is None  # nothing changes until the user answers
    client.applied.clear()  # type: ignore[attr-defined]
    result = await _pick(client, menu, FALSE_POSITIVE)

    assert result == {"choice": "false_positive", "applied": True, "recorded": 1, "reason": None}
    question = client.questions[-1]  # type: ignore[attr-defined]
    assert question.message == f"Dismiss DL104: {diagnostic.message}"
    assert [item.title for item in question.actions] == [FALSE_POSITIVE, NOT_NOW]
    [edit] = client.applied  # type: ignore[attr-defined]
    text = apply_text_edits(SOURCE, edits_for(edit, uri))
    assert "    if data == None:  # dspy-lsp: ignore[DL104]\n" in text
    [event] = _events(diagnostic.data["finding_id"])
    assert (event.kind, event.action_kind, event.rule) == (
        "dismissed_false_positive",
        "dismiss",
        "DL104",
    )


async def test_menu_not_now_hides_the_finding_and_records_it(client: LanguageClient) -> None:
    uri = _in("dismiss_menu", None, "later.py")
    diagnostic = _dl104(await open_and_wait(client, uri, SOURCE.replace("data", "value")))
    [menu] = [a for a in await _actions(client, uri, [diagnostic]) if a.title == "Dismiss DL104…"]
    picked: list[asyncio.Future[Any]] = []
    after = await change_and_wait(
        client, uri, lambda: picked.append(asyncio.ensure_future(_pick(client, menu, NOT_NOW))), 1
    )
    results = [await picked[0]]
    assert results == [{"choice": "later", "applied": False, "recorded": 1, "reason": None}]
    assert [d.code for d in after.diagnostics] == ["DL105"]
    [event] = _events(diagnostic.data["finding_id"])
    assert (event.kind, event.action_kind) == ("dismissed_later", "dismiss")


async def test_closing_the_question_dismisses_nothing(client: LanguageClient) -> None:
    uri = _in("dismiss_menu", None, "closed.py")
    diagnostic = _dl104(await open_and_wait(client, uri, SOURCE.replace("path", "name")))
    [menu] = [a for a in await _actions(client, uri, [diagnostic]) if a.title == "Dismiss DL104…"]
    client.applied.clear()  # type: ignore[attr-defined]
    assert await _pick(client, menu, None) == {
        "choice": None,
        "applied": False,
        "recorded": 0,
        "reason": None,
    }
    assert client.applied == []  # type: ignore[attr-defined]
    assert _events(diagnostic.data["finding_id"]) == []


async def test_all_offers_both_dismissals_as_actions_of_their_own(client: LanguageClient) -> None:
    uri = _in("dismiss_all", "all", "listed.py")
    params = await open_and_wait(client, uri, SOURCE)
    titles = [a.title for a in await _actions(client, uri, params.diagnostics)]
    assert [t for t in titles if t.startswith("Dismiss")] == [
        "Dismiss DL105: false positive (suppress on this line)",
        "Dismiss DL105: not now (hide this session)",
        "Dismiss DL104: false positive (suppress on this line)",
        "Dismiss DL104: not now (hide this session)",
    ]


async def test_none_offers_no_dismissal_and_keeps_the_fixes(client: LanguageClient) -> None:
    uri = _in("dismiss_none", "none", "listed.py")
    params = await open_and_wait(client, uri, SOURCE)
    titles = [a.title for a in await _actions(client, uri, params.diagnostics)]
    assert titles == ["DL104: Use an identity comparison"]
