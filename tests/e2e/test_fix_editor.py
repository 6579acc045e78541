"""The fix loop in the editor: picking "Plan refactor" on a finding in a project with tests runs
them on each plan in a copy of the project, over stdio against the real server and the real
dspy.LM path to a loopback OpenAI server.

The model's repair of ``a - b`` (the bug) is ``a * b``, which the tests fail; its plan, told
that, is ``a + b``. ``slow()``'s test hangs, for cancellation.
"""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from fakes.fixer import Fixer
from fakes.openai_server import FakeOpenAI
from lsp_client import apply_text_edits, edits_for, plan_action
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient
from scratch_dirs import scratch_dir

from dspy_lsp.analyzers.learning.records import FeedbackKind
from dspy_lsp.server.store.feedback_store import FeedbackStore, default_store_path

from .conftest import behave_like_an_editor

pytestmark = pytest.mark.asyncio(loop_scope="module")

CALC = textwrap.dedent(
    """\
    import time


    def add(a, b):
        return a - b


    def slow(x):
        return x - 1
    """
)
FIXED = CALC.replace("return a - b", "return a + b")
PROJECT = scratch_dir("dspy-lsp-fix-editor-")
DATA = scratch_dir("dspy-lsp-fix-editor-data-")
PIDS = PROJECT.parent / f"{PROJECT.name}-pids"


MODEL = Fixer(swaps={"x - 1": "x + 1"})
FAKE = FakeOpenAI(MODEL).start()


def _project() -> None:
    (PROJECT / "tests").mkdir(parents=True, exist_ok=True)
    PIDS.mkdir(exist_ok=True)
    (PROJECT / "pyproject.toml").write_text('[project]\nname = "calc"\n')
    (PROJECT / "conftest.py").write_text("")
    (PROJECT / "calc.py").write_text(CALC)
    (PROJECT / "tests" / "test_add.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    )
    (PROJECT / "tests" / "test_slow.py").write_text(
        "import os, time\nfrom calc import slow\n\n\ndef test_slow():\n"
        f"    open(os.path.join({str(PIDS)!r}, str(os.getpid())), 'w').close()\n"
        "    time.sleep(600)\n"
    )


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "dspy_lsp.server"],
        server_env={**os.environ, "DSPY_LSP_DEBOUNCE_MS": "30", "XDG_DATA_HOME": str(DATA)},
    ),
    scope="module",
)
async def client(lsp_client: LanguageClient):
    _project()
    behave_like_an_editor(lsp_client)
    lsp_client.set_configuration({}, section="dspy-lsp")

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def _register(params: types.RegistrationParams) -> None:
        """Watching pyproject.toml is accepted, as VS Code does."""

    options = {
        "lm": {
            "model": "openai/fake-model",
            "api_base": FAKE.base_url,
            "cache_path": f"{DATA}/lm.sqlite3",
            "plan_attempts": 3,
        },
        "tests": {"timeout_s": 120, "edits": 0},  # the plans, not the edits, under test
    }
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=pytest_lsp.client_capabilities("visual-studio-code"),
            root_uri=PROJECT.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=PROJECT.as_uri(), name="calc")],
            initialization_options=options,
        )
    )
    uri = (PROJECT / "calc.py").as_uri()
    lsp_client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=CALC
            )
        )
    )
    yield
    await lsp_client.shutdown_session()


async def _plan_for(client: LanguageClient, line: int) -> types.CodeAction:
    return await plan_action(client, (PROJECT / "calc.py").as_uri(), line)


def _events() -> list[Any]:
    path = default_store_path(PROJECT.resolve(), environ={"XDG_DATA_HOME": str(DATA)})
    with FeedbackStore(path) as store:
        return [stored.event for stored in store.events()]


async def test_picking_the_plan_runs_the_tests_until_a_plan_passes(client: LanguageClient) -> None:
    uri = (PROJECT / "calc.py").as_uri()
    plan = await _plan_for(client, 4)
    resolved = await client.code_action_resolve_async(plan)
    assert resolved.title == "Fix: Add, not subtract (tests pass: 1)", resolved.title
    assert resolved.is_preferred
    assert apply_text_edits(CALC, edits_for(resolved.edit, uri)) == FIXED
    assert (PROJECT / "calc.py").read_text() == CALC  # the user's file, untouched
    # the repair's own change ran first; the one plan asked was told how it failed
    assert len(MODEL.problems) == 1 and "assert 6 == 5" in MODEL.problems[0]
    kinds = [e.kind for e in _events() if e.action_kind == "fix_loop"]
    assert kinds == [FeedbackKind.FIX_FAILED, FeedbackKind.FIX_PASSED]
    progress = [r for reports in client.progress_reports.values() for r in reports]
    begun = [r for r in progress if isinstance(r, types.WorkDoneProgressBegin)]
    assert any(b.title == "dspy-lsp: fixing add" and b.cancellable for b in begun)
    assert any(
        isinstance(r, types.WorkDoneProgressReport) and "attempt 2/3: running 1 test" in r.message
        for r in progress
    )
    assert any(
        isinstance(r, types.WorkDoneProgressEnd)
        and r.message == "tests pass (1) after 2 attempt(s)"
        for r in progress
    )


async def test_picking_it_again_is_cached_until_its_tests_change(client: LanguageClient) -> None:
    plan = await _plan_for(client, 4)
    asked = len(MODEL.problems)
    again = await client.code_action_resolve_async(plan)
    assert again.title.startswith("Fix: ") and len(MODEL.problems) == asked  # no model, no tests
    test_file = PROJECT / "tests" / "test_add.py"
    test_file.write_text(
        test_file.read_text() + "\n\ndef test_zero():\n    assert add(0, 0) == 0\n"
    )
    changed = await client.code_action_resolve_async(await _plan_for(client, 4))
    assert changed.title == "Fix: Add, not subtract (tests pass: 2)"
    assert len(MODEL.problems) == asked + 1


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1]
    except OSError:
        return False
    return state != "Z"  # a zombie has stopped: only its exit status is left


@pytest.mark.parametrize("how", ["request", "progress"])
async def test_cancelling_stops_the_tests(client: LanguageClient, how: str) -> None:
    """Moving on (``$/cancelRequest``) or pressing cancel on the progress kills the hanging test."""
    for old in PIDS.iterdir():
        old.unlink()
    plan = await _plan_for(client, 8)
    tokens = set(client.progress_reports)
    msg_id = f"cancel-{how}"
    answer = asyncio.ensure_future(
        client.protocol.send_request_async(types.CODE_ACTION_RESOLVE, plan, msg_id=msg_id)
    )
    for _ in range(1200):
        started = list(PIDS.iterdir())
        if started:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the hanging test never started")
    pid = int(started[0].name)
    assert _alive(pid)
    if how == "request":
        client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
    else:
        [token] = set(client.progress_reports) - tokens
        client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    for _ in range(400):
        if not _alive(pid):
            break
        await asyncio.sleep(0.05)
    assert not _alive(pid), "the test run outlived the cancellation"
    if how == "request":  # the editor moved on: the answer is the protocol's cancellation
        with pytest.raises(Exception, match="cancel"):
            await answer
    else:  # the user stopped the fix: the action says so, with nothing to apply
        resolved = await answer
        assert resolved.edit is None and "cancelled" in resolved.title
