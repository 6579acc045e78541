"""The LM tier in the editor, over the real dspy.LM network path to a loopback OpenAI server."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
import pytest_lsp
from fakes.openai_server import FakeOpenAI
from fakes.reviewer import Reviewer
from lsp_client import apply_text_edits, edits_for, replace_and_wait
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient
from scratch_dirs import scratch_dir

from .conftest import _start, workspace_file

pytestmark = pytest.mark.asyncio(loop_scope="module")

FAKE = FakeOpenAI().start()
REVIEWER = Reviewer()
FAKE.responder = REVIEWER
CACHE = str(scratch_dir("dspy-lsp-lm-cache-"))
ENV = {**os.environ, "DSPY_LSP_DEBOUNCE_MS": "30", "XDG_DATA_HOME": CACHE}

SOURCE = """import ast


def parse(text):
    return eval(text)


def safe(text):
    return ast.literal_eval(text)
"""


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "dspy_lsp.server"],
        server_env=ENV,
    ),
    scope="module",
)
async def client(lsp_client: LanguageClient):
    options = {
        "lm": {
            "model": "openai/fake-model",
            "api_base": FAKE.base_url,
            "timeout_s": 5,
            "max_attempts": 1,
            "breaker_failures": 2,
            "breaker_reset_s": 1,
            "cache_path": f"{CACHE}/lm.sqlite3",
        }
    }
    await _start(lsp_client, pytest_lsp.client_capabilities("visual-studio-code"), options)
    yield
    await lsp_client.shutdown_session()


def _open(client: LanguageClient, uri: str, text: str, version: int = 1):
    return lambda: client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=version, text=text
            )
        )
    )


async def _lm_diagnostics(
    client: LanguageClient, uri: str, timeout: float = 20
) -> list[types.Diagnostic]:
    """Wait until a publish for ``uri`` carries LM findings."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        diagnostics = client.diagnostics.get(uri, [])
        found = [d for d in diagnostics if str(d.code).startswith("LM-")]
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no LM diagnostics for {uri}: {client.diagnostics.get(uri)}")


async def _lm_actions(
    client: LanguageClient, uri: str, text: str = SOURCE
) -> list[types.CodeAction | types.Command]:
    """Open ``text`` at ``uri``, wait for its LM finding, and list the actions offered for it."""
    _open(client, uri, text)()
    [lm] = await _lm_diagnostics(client, uri)
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=lm.range,
            context=types.CodeActionContext(diagnostics=[lm]),
        )
    )
    return list(actions or [])


async def _plan_actions(
    client: LanguageClient, uri: str, text: str = SOURCE
) -> list[types.CodeAction | types.Command]:
    return [a for a in await _lm_actions(client, uri, text) if a.title.startswith("Plan refactor")]


async def _plan_action(client: LanguageClient, uri: str, text: str = SOURCE) -> types.CodeAction:
    [plan] = await _plan_actions(client, uri, text)
    assert isinstance(plan, types.CodeAction)
    return plan


async def _status(client: LanguageClient) -> dict:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="dspy-lsp.status")
    )


async def test_lm_findings_appear_beside_rule_findings_on_open(client: LanguageClient) -> None:
    uri = workspace_file("lm/open.py")
    client.published.clear()
    _open(client, uri, SOURCE)()
    [lm] = await _lm_diagnostics(client, uri)
    assert lm.code == "LM-bug" and lm.range.start.line == 4
    assert lm.data["origin"].startswith("repair@")  # the default finder, and what it changed
    assert (
        lm.message
        == "`return eval(text)` looks wrong: should it be `return ast.literal_eval(text)`?"
    )
    status = await _status(client)
    assert status["state"] == "ready" and status["stats"]["calls"] >= 2
    assert any("ready" in m.message for m in client.log_messages)


async def test_the_models_repair_is_a_quick_fix_beside_the_plan(client: LanguageClient) -> None:
    """The repair that found the bug is its fix at once (a suggestion: nobody ran it); a
    checked plan is still offered for it."""
    uri = workspace_file("lm/repair_fix.py")
    actions = await _lm_actions(client, uri)
    titles = [a.title for a in actions]
    assert titles[0] == "LM-bug: apply the model's repair (suggestion)"
    assert any(t.startswith("Plan refactor") for t in titles)
    repair = actions[0]
    assert isinstance(repair, types.CodeAction) and not repair.is_preferred
    fixed = apply_text_edits(SOURCE, edits_for(repair.edit, uri))
    assert fixed == SOURCE.replace("return eval(text)", "return ast.literal_eval(text)")


async def test_plan_refactor_resolves_to_a_verified_edit(client: LanguageClient) -> None:
    uri = workspace_file("lm/plan.py")
    plan = await _plan_action(client, uri)
    assert plan.edit is None and plan.kind == "refactor.rewrite"  # nothing spent until picked
    calls_before = REVIEWER.plan_calls
    resolved = await client.code_action_resolve_async(plan)
    assert REVIEWER.plan_calls == calls_before + 1
    assert "(suggestion)" not in resolved.title
    fixed = apply_text_edits(SOURCE, edits_for(resolved.edit, uri))
    assert fixed == SOURCE.replace("return eval(text)", "return ast.literal_eval(text)")


async def test_a_plan_needing_an_import_carries_it_as_a_second_edit(
    client: LanguageClient,
) -> None:
    """The planner's ``ast.literal_eval`` in a file without ``import ast`` would not run alone."""
    text = '"""Parses input."""\n\n\ndef parse(text):\n    return eval(text)\n'
    uri = workspace_file("lm/plan_import.py")
    resolved = await client.code_action_resolve_async(await _plan_action(client, uri, text))
    assert "(suggestion)" not in resolved.title
    edits = edits_for(resolved.edit, uri)
    assert [e.new_text for e in edits][:1] == ["\nimport ast\n"] and len(edits) == 2
    assert apply_text_edits(text, edits) == (
        '"""Parses input."""\n\nimport ast\n\n\ndef parse(text):\n    return ast.literal_eval(text)\n'
    )


async def test_an_unparsable_plan_is_refused(client: LanguageClient) -> None:
    uri = workspace_file("lm/badplan.py")
    plan = await _plan_action(client, uri)
    REVIEWER.mode = "bad_plan"
    try:
        resolved = await client.code_action_resolve_async(plan)
    finally:
        REVIEWER.mode = "good"
    assert resolved.edit is None and "does not parse" in resolved.title


async def test_reopening_known_code_hits_the_cache(client: LanguageClient) -> None:
    before = FAKE.request_count
    uri = workspace_file("lm/again.py")
    _open(client, uri, SOURCE)()
    await _lm_diagnostics(client, uri)
    assert FAKE.request_count == before
    assert (await _status(client))["stats"]["cache_hits"] >= 2


async def test_saving_after_editing_one_function_costs_one_call(client: LanguageClient) -> None:
    uri = workspace_file("lm/edit.py")
    _open(client, uri, SOURCE)()
    await _lm_diagnostics(client, uri)
    before = FAKE.request_count
    edited = SOURCE.replace("return ast.literal_eval(text)", "return eval(text.strip())")
    await replace_and_wait(client, uri, edited, 2)
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while (
        loop.time() < deadline
        and len([d for d in client.diagnostics.get(uri, []) if str(d.code).startswith("LM-")]) < 2
    ):
        await asyncio.sleep(0.05)
    lm = sorted(
        d.range.start.line for d in client.diagnostics[uri] if str(d.code).startswith("LM-")
    )
    assert lm == [4, 8]
    assert FAKE.request_count == before + 1


async def test_a_failing_lm_opens_the_circuit_keeps_rule_findings_and_recovers(
    client: LanguageClient,
) -> None:
    FAKE.script(*["500"] * 6)
    uri = workspace_file("lm/failing.py")
    text = "def f(a=[]):\n    return eval(a)\n\n\ndef g(b):\n    return eval(b)\n\n\ndef h(c):\n    return eval(c)\n"
    _open(client, uri, text)()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while loop.time() < deadline and (await _status(client))["state"] != "circuit_open":
        await asyncio.sleep(0.1)
    assert (await _status(client))["state"] == "circuit_open"
    assert [d.code for d in client.diagnostics[uri]] == ["DL101"]  # the rule tier is unaffected
    warnings = [m for m in client.messages if "failing" in m.message]
    assert len(warnings) == 1
    FAKE.clear_faults()
    await asyncio.sleep(1.2)  # breaker_reset_s: the next run is the half-open probe
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    deadline = loop.time() + 30
    while loop.time() < deadline and len(await _lm_diagnostics(client, uri)) < 3:
        await asyncio.sleep(0.05)
    assert len(await _lm_diagnostics(client, uri)) == 3
    assert (await _status(client))["state"] == "ready"
    assert len([m for m in client.messages if "failing" in m.message]) == 1


async def test_analyze_workspace_reports_progress_and_publishes_every_file(
    client: LanguageClient,
) -> None:
    folder = workspace_file("lm_ws/a.py", SOURCE)
    workspace_file("lm_ws/b.py", "def g(x):\n    return eval(x)\n")
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="dspy-lsp.analyzeWorkspace")
    )
    assert result["cancelled"] is False and result["files"] >= 2
    assert result["lm_findings"] >= 2
    assert any(d.code == "LM-bug" for d in client.diagnostics.get(folder, []))
    reports = list(client.progress_reports.values())[-1]
    assert reports[0].kind == "begin" and reports[0].cancellable
    assert reports[-1].kind == "end"


async def test_cancelling_workspace_progress_stops_the_run(client: LanguageClient) -> None:
    for i in range(30):
        workspace_file(f"lm_ws_cancel/m{i}.py", f"def f{i}(x):\n    return eval(x) + {i}\n")
    FAKE.latency_s = 0.3
    try:
        task = asyncio.ensure_future(
            client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="dspy-lsp.analyzeWorkspace")
            )
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        known = set(client.progress_reports)
        while loop.time() < deadline and not (set(client.progress_reports) - known):
            await asyncio.sleep(0.02)
        [token] = set(client.progress_reports) - known
        await asyncio.sleep(0.5)
        client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
        result = await asyncio.wait_for(task, 20)
    finally:
        FAKE.latency_s = 0.0
    assert result["cancelled"] is True
    assert result["files"] < result["total_files"]


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "dspy_lsp.server"],
        server_env=ENV,
    ),
    scope="module",
)
async def no_resolve_client(lsp_client: LanguageClient):
    """A client that cannot resolve code actions lazily (as Helix could not, helix#5118)."""
    caps = pytest_lsp.client_capabilities("visual-studio-code")
    caps.text_document.code_action.resolve_support = None
    lsp_client.applied = []  # type: ignore[attr-defined]

    @lsp_client.feature(types.WORKSPACE_APPLY_EDIT)
    def _apply(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        lsp_client.applied.append(params.edit)  # type: ignore[attr-defined]
        return types.ApplyWorkspaceEditResult(applied=True)

    options = {
        "lm": {
            "model": "openai/fake-model",
            "api_base": FAKE.base_url,
            "cache_path": f"{CACHE}/lm.sqlite3",
        }
    }
    await _start(lsp_client, caps, options)
    yield
    await lsp_client.shutdown_session()


async def test_clients_without_resolve_get_the_plan_through_a_command(
    no_resolve_client: LanguageClient,
) -> None:
    client = no_resolve_client
    uri = workspace_file("lm/noresolve.py")
    [plan] = await _plan_actions(client, uri)
    assert isinstance(plan, types.Command)
    assert plan.command == "dspy-lsp.planRefactor"
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=plan.command, arguments=plan.arguments)
    )
    assert result["applied"] is True
    [edit] = client.applied
    assert apply_text_edits(SOURCE, edits_for(edit, uri)) == SOURCE.replace(
        "return eval(text)", "return ast.literal_eval(text)"
    )
