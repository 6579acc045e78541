"""The whole loop: accept and dismiss in the editor → events → ``dspy-lsp optimize`` in its own
process → the running server's next diagnostics carry the new version → rollback restores it.

The model is a scripted learner behind a loopback OpenAI server: it reviews badly until an
optimizer gives it demos, so only a real compile can raise the dev score.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
import pytest_lsp
from fakes.learner import CLEAN_CODE, Learner
from fakes.openai_server import FakeOpenAI
from lsp_client import apply_action, open_and_wait
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient
from scratch_dirs import scratch_dir

from dspy_lsp.server.children import CLI
from dspy_lsp.server.store.feedback_store import FeedbackStore
from dspy_lsp.server.store.registry import ProgramRegistry

from .conftest import _start, workspace_file

pytestmark = pytest.mark.asyncio(loop_scope="module")

FAKE = FakeOpenAI(responder=Learner()).start()
HOME = scratch_dir("dspy-lsp-loop-")
PROGRAMS = HOME / "programs"
STORE = HOME / "feedback.sqlite3"
ENV = {**os.environ, "DSPY_LSP_DEBOUNCE_MS": "30", "XDG_DATA_HOME": str(HOME)}

SOURCE = """import json


def load(path):
    with open(path) as handle:
        data = json.load(handle)
    if data == None:
        return {}
    return eval(data["expr"])
"""


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "dspy_lsp.server"], server_env=ENV
    ),
    scope="module",
)
async def client(lsp_client: LanguageClient):
    options = {
        "lm": {
            "model": "openai/learner",
            "api_base": FAKE.base_url,
            "timeout_s": 5,
            "max_attempts": 1,
            "cache_path": str(HOME / "lm.sqlite3"),
            "programs_dir": str(PROGRAMS),
            "finder": "analyze",  # the learner reviews; the repair finder has its own test
        },
        "feedback": {"path": str(STORE)},
        "actions": {"dismiss": "all"},  # the dismissals as actions of their own
    }
    await _start(lsp_client, pytest_lsp.client_capabilities("visual-studio-code"), options)
    yield
    await lsp_client.shutdown_session()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
        cwd=HOME,
    )


async def _lm_versions(client: LanguageClient, uri: str, timeout: float = 20) -> set[str]:
    """The program versions on the LM diagnostics of ``uri``, once there are some."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        origins = {
            d.data["origin"] for d in client.diagnostics.get(uri, []) if d.data["origin"] != "rule"
        }
        if origins:
            return origins
        await asyncio.sleep(0.05)
    raise AssertionError(f"no LM diagnostics on {uri} within {timeout}s")


async def _wait_for_version(client: LanguageClient, uri: str, version: str) -> None:
    deadline = asyncio.get_running_loop().time() + 20
    while asyncio.get_running_loop().time() < deadline:
        if await _lm_versions(client, uri) == {version}:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(
        f"diagnostics still carry {await _lm_versions(client, uri)}, not {version}"
    )


async def _action(client: LanguageClient, uri: str, diagnostic: types.Diagnostic, title: str):
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic]),
        )
    )
    return next(a for a in actions or [] if a.title.startswith(title))


async def test_feedback_then_optimize_then_hot_reload_then_rollback(client: LanguageClient) -> None:
    uri = workspace_file("loop/load.py", SOURCE)
    await open_and_wait(client, uri, SOURCE)
    [builtin] = await _lm_versions(client, uri)

    # The user's verdicts, through the code actions the editor shows.
    diagnostics = client.diagnostics[uri]
    false_positive = next(
        d for d in diagnostics if d.data["origin"] != "rule" and d.range.start.line == 3
    )
    dismiss = await _action(client, uri, false_positive, f"Dismiss {false_positive.code}: false")
    text, result = await apply_action(client, uri, SOURCE, dismiss, version=2)
    assert result["recorded"] == 1
    dl104 = next(d for d in client.diagnostics[uri] if d.code == "DL104")
    fix = await _action(client, uri, dl104, "DL104:")
    text, result = await apply_action(client, uri, text, fix, version=3)
    assert result["recorded"] == 1 and "data is None" in text
    with FeedbackStore(STORE) as store:
        kinds = [(e.event.kind, e.event.rule) for e in store.events()]
    assert kinds == [("dismissed_false_positive", false_positive.code), ("accepted", "DL104")]

    # optimize, in its own process, on the feedback and mutations of the project's clean code.
    project = HOME / "project"
    project.mkdir(exist_ok=True)
    (project / "clean.py").write_text(CLEAN_CODE)
    run = _cli(
        "optimize", "--program", "analyze", "--optimizer", "bootstrap", "--budget", "2",
        "--lm", "openai/learner", "--api-base", FAKE.base_url, "--workspace", str(project),
        "--no-rule-examples",
        "--programs-dir", str(PROGRAMS), "--store", str(STORE), "--max-train", "8", "--max-dev", "8",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    new = ProgramRegistry(PROGRAMS).active("analyze")
    assert new is not None and new != builtin and f"{new} (activated)" in run.stdout

    # The running server notices, and its next diagnostics carry the new version.
    await _wait_for_version(client, uri, new)

    # Rollback restores the built-in program, in the server too.
    back = _cli("programs", "rollback", "analyze", "--programs-dir", str(PROGRAMS))
    assert back.returncode == 0, back.stderr
    assert ProgramRegistry(PROGRAMS).active("analyze") is None
    await _wait_for_version(client, uri, builtin)
