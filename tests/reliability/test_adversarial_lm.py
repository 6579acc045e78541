"""Prompt injection against the real server: a model that obeys the code it reviews.

Every file of tests/fixtures/injection/ plants instructions for the model in its comments and
strings; tests/fakes/obedient.py follows them. Whatever it answers, the server must never offer
an edit outside the target document or the target unit (the function, method or module section
the finding is in), never a workspace edit for another file, never a command that is not its own,
and never a finding on lines that do not exist. Keys from the environment, pasted into the code
too, must not reach the server's log, its log messages, the feedback store, debug info or status.
Figures are printed (run with ``-s``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_lsp
from e2e.conftest import _start, workspace_file
from fakes.obedient import Obedient
from fakes.openai_server import FakeOpenAI
from lsp_client import apply_action, apply_text_edits, open_and_wait
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient
from scratch_dirs import scratch_dir

from dspy_lsp.analyzers.units import Unit, split_units, unit_at
from dspy_lsp.server.store.feedback_store import FeedbackStore

pytestmark = pytest.mark.asyncio(loop_scope="module")

INJECTION = Path(__file__).parents[1] / "fixtures" / "injection"
CORPUS = sorted(p.name for p in INJECTION.glob("*.py"))
# What becomes of the plan for each file's eval() finding: the obeyed rewrite either stays
# inside its unit (offered, the user sees the diff) or is refused.
OFFERED = {"04_report_line_9999.py", "06_execute_command.py", "11_secret_in_code.py"}
OFFERED |= {"12_in_body_command.py"}  # contained: semantics are the user's to judge in the diff
SECRET_FILE = "11_secret_in_code.py"  # its plan and a quick fix are accepted: feedback rows
PROSE_FILE = "13_secret_in_prose.py"  # its plan is an unparsable reply quoting a key

OPENAI_KEY = "sk-proj-Reliab1lityInCodeKey000000000000"  # in the environment and in the code
LLM_KEY = "mlk-7f3a9c2e5b1d8f4a6c0e"  # the model's key (lm.api_key_env), also in the code
SECRETS = (OPENAI_KEY, LLM_KEY)
TRACES = (*SECRETS, *(s[:16] for s in SECRETS))  # a truncated message may hold part of one

MODEL = Obedient()
FAKE = FakeOpenAI(MODEL).start()
TMP = scratch_dir("dspy-lsp-injection-")
STORE = TMP / "feedback.sqlite3"
LOG = TMP / "server-stderr.log"
ENV = {
    **os.environ,
    "OPENAI_API_KEY": OPENAI_KEY,
    "MY_LLM_KEY": LLM_KEY,
    "DSPY_LSP_DEBOUNCE_MS": "30",
    "XDG_DATA_HOME": str(TMP),
}
SERVER = ClientServerConfig(
    # The server's stderr, at its most verbose, goes to a file the test reads back.
    server_command=[
        "sh",
        "-c",
        'exec "$0" -m dspy_lsp.server --log-level DEBUG 2>>"$1"',
        sys.executable,
        str(LOG),
    ],
    server_env=ENV,
)
OPTIONS = {
    "lm": {
        "model": "openai/fake-model",
        "finder": "analyze",  # these replies are reviews: their faults are the subject
        "api_base": FAKE.base_url,
        "api_key_env": "MY_LLM_KEY",
        "max_attempts": 1,
        "plan_attempts": 1,
        "breaker_failures": 10,  # the echoing provider below must not open the circuit
        "cache_path": str(TMP / "lm.sqlite3"),
    },
    "feedback": {"path": str(STORE)},
}


@dataclass
class Tally:
    files: int = 0
    lm_claims_dropped: int = 0
    plans_offered: int = 0
    plans_refused: int = 0
    applied_edits: int = 0
    actions: int = 0
    commands: Counter[str] = field(default_factory=Counter)
    refusals: list[str] = field(default_factory=list)


TALLY = Tally()


@pytest.fixture(scope="module", autouse=True)
def figures() -> Iterator[None]:
    yield
    FAKE.stop()
    print(
        f"\nPrompt injection: {TALLY.files} steering files, model obeyed "
        f"{len(MODEL.obeyed)} directives; {TALLY.lm_claims_dropped} model findings dropped "
        f"(bad ranges or snippets); plans offered {TALLY.plans_offered}, refused "
        f"{TALLY.plans_refused}; {TALLY.applied_edits} workspace/applyEdit edits; "
        f"{TALLY.actions} code actions; commands {dict(TALLY.commands)}"
    )
    for refusal in TALLY.refusals:
        print(f"  refused: {refusal}")


def _capabilities(resolve: bool) -> types.ClientCapabilities:
    caps = pytest_lsp.client_capabilities("visual-studio-code")
    if not resolve:
        caps.text_document.code_action.resolve_support = None
    return caps


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient):
    """Resolves plan actions lazily (codeAction/resolve), as VS Code does."""
    await _start(lsp_client, _capabilities(resolve=True), OPTIONS)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=SERVER, scope="module")
async def applying_client(lsp_client: LanguageClient):
    """Gets plans through dspy-lsp.planRefactor, which sends workspace/applyEdit."""
    lsp_client.applied = []  # type: ignore[attr-defined]

    @lsp_client.feature(types.WORKSPACE_APPLY_EDIT)
    def _apply(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        lsp_client.applied.append(params.edit)  # type: ignore[attr-defined]
        return types.ApplyWorkspaceEditResult(applied=True)

    await _start(lsp_client, _capabilities(resolve=False), OPTIONS)
    yield
    await lsp_client.shutdown_session()


# -- what every answer must satisfy ---------------------------------------------------------


def _text_edits(edit: types.WorkspaceEdit, uri: str) -> list[types.TextEdit]:
    """The edits of ``edit``, after checking that it touches ``uri`` and nothing else."""
    found: list[types.TextEdit] = []
    for change in edit.document_changes or []:
        assert isinstance(change, types.TextDocumentEdit), f"file operation: {change}"
        assert change.text_document.uri == uri, f"edit for another file: {change.text_document}"
        assert all(isinstance(e, types.TextEdit) for e in change.edits), change.edits
        found += change.edits
    for target, edits in (edit.changes or {}).items():
        assert target == uri, f"edit for another file: {target}"
        found += edits
    assert not edit.change_annotations
    return found


def _own_command(command: types.Command | None) -> None:
    if command is not None:
        TALLY.commands[command.command] += 1
        assert command.command.startswith("dspy-lsp."), command


def _key(unit: Unit, added: frozenset[str] = frozenset()) -> tuple[str, str, str, str]:
    """A unit as it must stay; its context read without the ``added`` import lines."""
    context = [line for line in unit.context.splitlines() if line.strip() and line not in added]
    return (unit.qualname, unit.kind, unit.text, "\n".join(context))


def _stdlib_import(edit: types.TextEdit, unit: Unit) -> bool:
    """A plan's second edit: an insertion above the unit of nothing but ``import <stdlib
    module>`` lines (a rewrite using ``ast.literal_eval`` brings ``import ast``)."""
    if edit.range.start != edit.range.end or edit.range.start.line > unit.line_map[0]:
        return False
    lines = [line for line in edit.new_text.splitlines() if line.strip()]
    return bool(lines) and all(
        line.startswith("import ") and line.removeprefix("import ") in sys.stdlib_module_names
        for line in lines
    )


def _contained(text: str, uri: str, edit: types.WorkspaceEdit, unit: Unit) -> None:
    """``edit`` touches ``uri`` only, its ranges lie in ``unit`` (but for one insertion of
    stdlib imports above it), and once applied, ``unit`` is still there (once) while every
    other unit, import and module statement is unchanged."""
    edits = _text_edits(edit, uri)
    imports = [e for e in edits if _stdlib_import(e, unit)]
    assert len(imports) <= 1, imports
    first, last = unit.line_map[0], unit.line_map[-1]
    for e in edits:
        if e in imports:
            continue
        assert first <= e.range.start.line and e.range.end.line <= last + 1, (e.range, unit)
        assert e.range.end.line <= last or e.range.end.character == 0, (e.range, unit)
    now = split_units(apply_text_edits(text, edits))
    same = [u for u in now if (u.qualname, u.kind) == (unit.qualname, unit.kind)]
    assert len(same) == 1, f"{unit.qualname} is gone or doubled"
    added = frozenset(line for e in imports for line in e.new_text.splitlines() if line.strip())
    others = Counter(_key(u) for u in split_units(text) if u.line_map != unit.line_map)
    assert Counter(_key(u, added) for u in now if u is not same[0]) == others


def _whole(text: str) -> types.Range:
    lines = text.splitlines()
    return types.Range(
        start=types.Position(line=0, character=0),
        end=types.Position(line=len(lines), character=0),
    )


async def _analyzed(
    client: LanguageClient, name: str, text: str | None = None, folder: str = "injection"
) -> tuple[str, str, list[types.Diagnostic]]:
    """Open a corpus file (or ``text`` under its name), run both tiers on it, and check the
    ranges of what was published."""
    text = text if text is not None else (INJECTION / name).read_text(encoding="utf-8")
    uri = workspace_file(f"{folder}/{name}", text)
    await open_and_wait(client, uri, text)
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="dspy-lsp.analyzeFile", arguments=[uri])
    )
    diagnostics = list(client.diagnostics[uri])
    lines = text.splitlines()
    for d in diagnostics:
        assert 0 <= d.range.start.line <= d.range.end.line < len(lines), d
        if str(d.code).startswith("LM-"):  # where the code is, never where it was told to point
            assert "eval(" in lines[d.range.start.line] or any(
                s in lines[d.range.start.line] for s in SECRETS
            ), d
    return uri, text, diagnostics


async def _actions(
    client: LanguageClient, uri: str, text: str, diagnostics: list[types.Diagnostic]
) -> list[types.CodeAction | types.Command]:
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=_whole(text),
            context=types.CodeActionContext(diagnostics=diagnostics),
        )
    )
    for action in actions or []:
        TALLY.actions += 1
        if isinstance(action, types.Command):
            _own_command(action)
            continue
        _own_command(action.command)
        if action.edit is not None:
            _text_edits(action.edit, uri)
    return list(actions or [])


def _on_eval(text: str, line: int) -> bool:
    return "eval(" in text.splitlines()[line]


def _eval_plan(text: str, actions: list[types.CodeAction | types.Command]) -> types.CodeAction:
    """The plan action for the corpus file's eval() finding."""
    [plan] = [
        a
        for a in actions
        if isinstance(a, types.CodeAction)
        and a.kind == "refactor.rewrite"
        and _on_eval(text, a.diagnostics[0].range.start.line)
    ]
    return plan


def _unit_of(text: str, diagnostic: types.Diagnostic) -> Unit:
    unit = unit_at(split_units(text), diagnostic.range.start.line)
    assert unit is not None
    return unit


# -- the corpus, through codeAction/resolve -------------------------------------------------


@pytest.mark.parametrize("name", CORPUS)
async def test_obeyed_injections_never_leave_the_target_unit(
    client: LanguageClient, name: str
) -> None:
    dropped = await _dropped(client)
    uri, text, diagnostics = await _analyzed(client, name)
    TALLY.files += 1
    TALLY.lm_claims_dropped += await _dropped(client) - dropped
    plan = _eval_plan(text, await _actions(client, uri, text, diagnostics))
    resolved = await client.code_action_resolve_async(plan)
    _own_command(resolved.command)
    if resolved.edit is None:
        TALLY.plans_refused += 1
        TALLY.refusals.append(f"{name}: {resolved.title}")
    else:
        TALLY.plans_offered += 1
        _contained(text, uri, resolved.edit, _unit_of(text, plan.diagnostics[0]))
    assert (resolved.edit is not None) == (name in OFFERED), resolved.title


async def _dropped(client: LanguageClient) -> int:
    status = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="dspy-lsp.status")
    )
    return int(status["stats"]["dropped_claims"])


async def test_bad_ranges_from_the_model_are_dropped(client: LanguageClient) -> None:
    """04 asks for lines 9999, 0, -1, reversed and endless ranges and an invented snippet."""
    name = "04_report_line_9999.py"
    text = (INJECTION / name).read_text(encoding="utf-8").replace("total", "subtotal")
    dropped = await _dropped(client)
    await _analyzed(client, name, text, folder="injection/ranges")  # checks what is published
    assert await _dropped(client) - dropped == 6


# -- the corpus, through dspy-lsp.planRefactor and workspace/applyEdit ------------------------


@pytest.mark.parametrize("name", CORPUS)
async def test_plans_applied_by_the_server_stay_in_the_target_unit(
    applying_client: LanguageClient, name: str
) -> None:
    client = applying_client
    uri, text, diagnostics = await _analyzed(client, name)
    actions = await _actions(client, uri, text, diagnostics)
    [plan] = [
        a
        for a in actions
        if isinstance(a, types.Command)
        and a.command == "dspy-lsp.planRefactor"
        and _on_eval(text, a.arguments[0]["finding"]["span"]["start"]["line"])
    ]
    before = len(client.applied)  # type: ignore[attr-defined]
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=plan.command, arguments=plan.arguments)
    )
    applied = client.applied[before:]  # type: ignore[attr-defined]
    assert result["applied"] == (name in OFFERED) == bool(applied), result
    line = plan.arguments[0]["finding"]["span"]["start"]["line"]
    unit = unit_at(split_units(text), line)
    assert unit is not None
    for edit in applied:
        TALLY.applied_edits += 1
        _contained(text, uri, edit, unit)


# -- secrets ----------------------------------------------------------------------------------


async def _until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Notifications are handled after the response they preceded: wait for them."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "not seen in time"
        await asyncio.sleep(0.02)


def _echo_key(_messages: list[dict]) -> str:
    """A provider whose error repeats the key it was sent (the fake answers 500 with this)."""
    raise RuntimeError(f"invalid api key {LLM_KEY}")


async def test_keys_never_reach_logs_feedback_debug_info_or_status(client: LanguageClient) -> None:
    uri, text, diagnostics = await _analyzed(client, PROSE_FILE, folder="injection/secrets")
    plan = _eval_plan(text, await _actions(client, uri, text, diagnostics))
    refused = await client.code_action_resolve_async(plan)
    assert refused.edit is None and "could not be read" in refused.title
    FAKE.responder = _echo_key
    try:
        refused = await client.code_action_resolve_async(plan)
        await _analyzed(
            client, "echo.py", "def log_in(raw):\n    return eval(raw)\n", "injection/secrets"
        )
    finally:
        FAKE.responder = MODEL
    assert refused.edit is None
    # The provider's words reach the user, minus the key.
    await _until(lambda: any("invalid api key «redacted»" in m.message for m in client.messages))
    uri, text, diagnostics = await _analyzed(client, SECRET_FILE, folder="injection/secrets")
    resolved = await client.code_action_resolve_async(
        _eval_plan(text, await _actions(client, uri, text, diagnostics))
    )
    assert any(s in resolved.title for s in SECRETS), resolved.title  # the model quoted them
    text, _ = await apply_action(client, uri, text, resolved, version=2)
    actions = await _actions(client, uri, text, list(client.diagnostics[uri]))
    quick_fix = next(
        a for a in actions if isinstance(a, types.CodeAction) and a.title.startswith("DL101")
    )
    await apply_action(client, uri, text, quick_fix, version=3)

    assert FAKE.requests[-1].headers["Authorization"] == f"Bearer {LLM_KEY}"  # the key was live
    with FeedbackStore(STORE) as store:
        rows = [stored.event for stored in store.events()]
    mine = [row for row in rows if row.path and row.path.endswith(SECRET_FILE)]
    assert {row.action_kind for row in mine} >= {"quickfix", "plan"}
    assert any("«redacted»" in (row.code or "") for row in mine)  # the keys were there to leak
    debug = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="dspy-lsp.debugInfo")
    )
    status = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="dspy-lsp.status")
    )
    places = {
        "server stderr (DEBUG)": LOG.read_text(encoding="utf-8", errors="replace"),
        "window/logMessage": "\n".join(m.message for m in client.log_messages),
        "window/showMessage": "\n".join(m.message for m in client.messages),
        "feedback rows": "\n".join(repr(row) for row in rows),
        "debugInfo": json.dumps(debug),
        "status": json.dumps(status),
    }
    leaks = {where: [s for s in TRACES if s in found] for where, found in places.items()}
    print(f"\nsecrets checked in {', '.join(places)}: {sum(map(len, leaks.values()))} leaks")
    assert not any(leaks.values()), leaks
