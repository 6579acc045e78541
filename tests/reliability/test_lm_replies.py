"""Hostile replies from a model endpoint (issue 12, "LM replies"), over real HTTP.

The endpoint is the loopback OpenAI server (tests/fakes/openai_server.py). Each test closes one
row: a reply that trickles in, a reply too large to read, texts too long to show, one bad
finding among good ones, a timeout told in dspy's words, and documents refused by a full queue.
Figures are printed (run with ``-s``).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e.conftest import lm_client_fixture, workspace_file
from fakes.openai_server import FakeOpenAI, Fault
from fakes.reviewer import Reviewer, fields, reply
from lsp_client import open_and_wait, replace_and_wait
from lsprotocol import types
from pytest_lsp import LanguageClient
from scratch_dirs import scratch_dir
from test_cli import run as run_cli

from dspy_lsp.server.lm.cache import LmCache
from dspy_lsp.server.lm.tier import LmTier, LmUnavailable
from dspy_lsp.server.settings import LmSettings

pytestmark = pytest.mark.asyncio(loop_scope="module")

DEADLINE_S = 1.0  # lm.timeout-s in the tier tests
TRICKLE_S = 0.2  # a byte every 0.2 s: every read returns well within lm.timeout-s
HUGE_BYTES = 100_000_000
MAX_QUEUE = 2
DOCUMENTS = 8
MAX_MESSAGE_CHARS = 500  # what an editor is shown of a model's finding, at most
MAX_RATIONALE_CHARS = 1_000

FAKE = FakeOpenAI(Reviewer()).start()
CACHE = str(scratch_dir("dspy-lsp-replies-"))
ENV = {**os.environ, "DSPY_LSP_DEBOUNCE_MS": "30", "XDG_DATA_HOME": CACHE}
FIGURES: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def figures_table() -> Iterator[None]:
    yield
    FAKE.stop()
    print("\nhostile LM replies")
    for name, figure in FIGURES.items():
        print(f"  {name:<52}{figure}")


client = lm_client_fixture(
    ENV,
    {
        "model": "openai/fake-model",
        "finder": "analyze",  # these replies are reviews: their faults are the subject
        "api_base": FAKE.base_url,
        "max_attempts": 1,
        "max_concurrency": 1,
        "max_queue": MAX_QUEUE,
        "cache_path": f"{CACHE}/lm.sqlite3",
    },
)


def _tier(fake: FakeOpenAI, **settings: Any) -> LmTier:
    """Reviews unless told otherwise: most rows are about a review's findings."""
    lm = LmSettings(
        model="openai/fake-model", api_base=fake.base_url, **{"finder": "analyze", **settings}
    )
    return LmTier(lm, LmCache(None), program_states={})


def _document(tag: str) -> str:
    """One unit whose line 2 calls eval(): the reviewer's one finding."""
    return f"def handler_{tag}(payload):\n    value = eval(payload)\n    return value\n"


def _lm(diagnostics: list[types.Diagnostic]) -> list[types.Diagnostic]:
    return [d for d in diagnostics if str(d.code).startswith("LM-")]


async def _status(client: LanguageClient) -> dict[str, Any]:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="dspy-lsp.status")
    )


async def _until(predicate: Callable[[], object], timeout: float) -> float:
    """Seconds until ``predicate()`` holds; fails the test after ``timeout``."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def _most_waiting(client: LanguageClient, seconds: float) -> int:
    """The most documents the status showed waiting for room, polled while the opens' rule
    passes finish (each document's LM pass starts after its rules published)."""
    most = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and most == 0:
        most = max(most, (await _status(client)).get("waiting_jobs") or 0)
        await asyncio.sleep(0.02)
    return most


class LoopLag:
    """The longest the event loop went without running a 10 ms ticker."""

    def __init__(self) -> None:
        self.worst = 0.0

    async def run(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, time.monotonic() - before - 0.01)


# -- a reply that trickles in ------------------------------------------------------------------


async def test_a_reply_that_trickles_in_ends_at_the_deadline_and_counts_as_a_failure() -> None:
    with FakeOpenAI(Reviewer()) as fake:
        fake.script(Fault("trickle", trickle_s=TRICKLE_S))
        tier = _tier(fake, timeout_s=DEADLINE_S, max_attempts=1)
        started = time.monotonic()
        with pytest.raises(LmUnavailable, match=r"lm\.timeout-s = 1s"):
            await asyncio.wait_for(tier.analyze(_document("trickle"), []), 10 * DEADLINE_S)
        elapsed = time.monotonic() - started
    FIGURES["trickling reply (lm.timeout-s = 1): ends after"] = f"{elapsed:.2f} s"
    assert tier.stats.failures == 1
    assert tier.breaker.consecutive_failures == 1
    assert "lm.timeout-s" in tier.status().stats["last_error"]


async def test_calls_cut_at_the_deadline_give_their_slot_back() -> None:
    """With one slot, two trickling replies in a row end, and the next document is answered."""
    with FakeOpenAI(Reviewer()) as fake:
        fake.script(*[Fault("trickle", trickle_s=TRICKLE_S)] * 2)
        tier = _tier(fake, timeout_s=DEADLINE_S, max_attempts=1, max_concurrency=1)
        stalled = await asyncio.wait_for(
            asyncio.gather(
                tier.analyze(_document("slot_a"), []),
                tier.analyze(_document("slot_b"), []),
                return_exceptions=True,
            ),
            20 * DEADLINE_S,
        )
        assert all(isinstance(result, LmUnavailable) for result in stalled)
        answered = await asyncio.wait_for(tier.analyze(_document("slot_c"), []), 10)
    assert [f.span.start.line for f in answered] == [1]
    assert tier.stats.failures == 2 and tier.stats.calls == 1


# -- a reply too large to read -----------------------------------------------------------------


async def test_a_huge_reply_is_cut_off_unread_off_the_event_loop_and_counts_as_a_failure() -> None:
    with FakeOpenAI(Reviewer()) as fake:
        fake.script(Fault("huge", size_bytes=HUGE_BYTES))
        tier = _tier(fake, timeout_s=60, max_attempts=1)
        lag = LoopLag()
        ticker = asyncio.create_task(lag.run())
        started = time.monotonic()
        try:
            with pytest.raises(LmUnavailable, match="too large"):
                await tier.analyze(_document("huge"), [])
        finally:
            ticker.cancel()
        elapsed = time.monotonic() - started
        sent = fake.body_bytes_sent
    FIGURES["100 MB reply: ends after"] = f"{elapsed:.2f} s"
    FIGURES["100 MB reply: bytes sent before the hang-up"] = f"{sent / 1e6:.1f} MB"
    FIGURES["100 MB reply: longest event-loop stall"] = f"{lag.worst * 1000:.0f} ms"
    assert sent < HUGE_BYTES // 4  # the client stopped reading
    assert lag.worst < 2.0
    assert tier.stats.failures == 1 and tier.breaker.consecutive_failures == 1
    assert tier.stats.unparsable_replies == 0


# -- one bad finding among good ones -----------------------------------------------------------


def _finding(line: int, snippet: str, confidence: float) -> dict[str, Any]:
    return {
        "line": line,
        "end_line": line,
        "category": "security",
        "severity": "warning",
        "message": "eval() runs arbitrary code from its input",
        "rationale": "Use ast.literal_eval for data.",
        "confidence": confidence,
        "snippet": snippet,
    }


async def test_one_finding_with_an_out_of_range_confidence_costs_only_itself() -> None:
    text = (
        "def handler(first, second, third):\n"
        "    a = eval(first)\n"
        "    b = eval(second)\n"
        "    c = eval(third)\n"
        "    return a, b, c\n"
    )
    findings = [
        _finding(2, "a = eval(first)", 0.9),
        _finding(3, "b = eval(second)", 7),
        _finding(4, "c = eval(third)", 0.8),
    ]
    with FakeOpenAI(lambda _messages: reply(findings=findings)) as fake:
        tier = _tier(fake, timeout_s=10, max_attempts=1)
        found = await tier.analyze(text, [])
    assert [f.span.start.line for f in found] == [1, 3]
    assert tier.stats.dropped_claims == 1
    assert tier.stats.unparsable_replies == 0 and tier.stats.failures == 0


# -- repairs that are not fixes ----------------------------------------------------------------


def _repairs(messages: list[dict[str, Any]]) -> str:
    """A fenced fix, prose, a rewrite of everything, and a fix with a 300 kB line, by unit."""
    code = fields([m for m in messages if m["role"] == "user"][-1]["content"])["code"]
    fixed = code.replace("eval(", "ast.literal_eval(")
    if "fenced" in code:
        return reply(fixed_code=f"```python\n{fixed}\n```")
    if "prose" in code:
        return reply(fixed_code="There is no bug in this code: it evaluates the payload.")
    if "rewrite" in code:
        return reply(fixed_code="def other():\n    x = 1\n    y = 2\n    return x + y\n")
    return reply(fixed_code=code.replace("eval(payload)", "'" + "x" * 300_000 + "'"))


async def test_a_repair_that_is_not_a_fix_says_nothing_and_a_long_one_is_capped() -> None:
    with FakeOpenAI(_repairs) as fake:
        tier = _tier(fake, timeout_s=10, max_attempts=1, finder="repair")
        found = {
            tag: await tier.analyze(_document(tag), [])
            for tag in ("fenced", "prose", "rewrite", "long")
        }
    assert [f.span.start.line for f in found["fenced"]] == [1]
    assert "should it be `value = ast.literal_eval(payload)`?" in found["fenced"][0].message
    assert found["prose"] == found["rewrite"] == []
    [long] = found["long"]
    assert len(long.message) <= MAX_MESSAGE_CHARS
    assert tier.stats.unparsable_replies == 0 and tier.stats.failures == 0


# -- texts too long to show --------------------------------------------------------------------


def _long_texts(messages: list[dict[str, Any]]) -> str:
    """A finding on the unit's eval() line, with a 200 kB message and a 300 kB rationale."""
    user = [m for m in messages if m["role"] == "user"][-1]["content"]
    numbered = fields(user)["code"].splitlines()
    lines = [i for i, raw in enumerate(numbered, start=1) if "eval(" in raw]
    if not lines:
        return reply(findings=[])
    finding = _finding(lines[0], "eval(", 0.9)
    finding["message"] = "eval is dangerous " * 11_000
    finding["rationale"] = "because " * 37_500
    return reply(findings=[finding])


async def test_long_model_texts_are_published_capped_and_stay_capped_on_every_edit(
    client: LanguageClient,
) -> None:
    """Edits to another unit re-publish the held finding: capped each time."""
    uri = workspace_file("replies/long_texts.py")
    text = _document("long") + "\n\ndef other():\n    return 1\n"
    FAKE.responder = _long_texts
    try:
        await open_and_wait(client, uri, text)
        await _until(lambda: _lm(client.diagnostics.get(uri, [])), 60)  # dspy loads first
    finally:
        FAKE.responder = Reviewer()
    for version in (2, 3):
        text = text.replace(f"return {version - 1}", f"return {version}")
        await replace_and_wait(client, uri, text, version)
    publishes = [p for p in client.published if p.uri == uri]  # type: ignore[attr-defined]
    shown = [d for p in publishes for d in _lm(p.diagnostics)]
    assert len(shown) >= 3  # the first LM publish and both edits
    for diagnostic in shown:
        assert len(diagnostic.message) <= MAX_MESSAGE_CHARS
        assert len(diagnostic.data["rationale"]) <= MAX_RATIONALE_CHARS
    sent = sum(len(d.message) + len(json.dumps(d.data)) for d in shown)
    FIGURES["500 kB of model text: LM bytes over 3 publishes"] = f"{sent:,}"
    assert sent < 10 * len(shown) * (MAX_MESSAGE_CHARS + MAX_RATIONALE_CHARS)


# -- a timeout told in our settings' words -----------------------------------------------------


async def test_a_timeout_names_our_setting_not_dspys(tmp_path: Path) -> None:
    """``dspy-lsp check`` (in a thread: it runs its own event loop) against a model that hangs."""
    with FakeOpenAI(Reviewer()) as fake:
        fake.script(Fault("timeout", hang_s=3.0))
        (tmp_path / "pyproject.toml").write_text(
            "[tool.dspy-lsp.lm]\n"
            f'cache_path = "{(tmp_path / "cache.sqlite3").as_posix()}"\n'
            "max_attempts = 1\ntimeout_s = 0.5\n"
        )
        (tmp_path / "mod.py").write_text(_document("timeout"))
        flags = ("--lm", "openai/fake", "--api-base", fake.base_url, "--trust-project")
        result = await asyncio.to_thread(run_cli, "check", *flags, "mod.py", cwd=tmp_path)
    [told] = [line for line in result.stderr.splitlines() if "LM unavailable" in line]
    FIGURES["a timeout, as the CLI tells it"] = told.partition("LM unavailable: ")[2]
    assert "lm.timeout-s = 0.5s" in told
    assert "Timeouts(" not in result.stderr


# -- documents refused by a full queue ---------------------------------------------------------


async def test_documents_refused_by_a_full_queue_get_their_lm_pass_when_it_drains(
    client: LanguageClient,
) -> None:
    """Documents past ``lm.max-queue`` wait (the status counts them) and each gets its LM pass,
    the newest version only: a document edited while waiting is analysed as edited."""
    reviewer = Reviewer()
    FAKE.responder, FAKE.latency_s = reviewer, 0.2
    uris = [workspace_file(f"replies/queue_{i}.py") for i in range(DOCUMENTS)]
    last = DOCUMENTS - 1
    try:
        for i, uri in enumerate(uris):  # at once, as an editor restoring a session does
            client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=uri, language_id="python", version=1, text=_document(f"queue_{i}")
                    )
                )
            )
        waiting = await _most_waiting(client, seconds=5)
        await replace_and_wait(client, uris[last], _document(f"queue_{last}_edited"), 2)
        seconds = await _until(
            lambda: all(_lm(client.diagnostics.get(uri, [])) for uri in uris), 30
        )
    finally:
        FAKE.responder, FAKE.latency_s = Reviewer(), 0.0
    status = await _status(client)
    FIGURES[f"{DOCUMENTS} documents, lm.max-queue = {MAX_QUEUE}: waiting"] = str(waiting)
    FIGURES[f"{DOCUMENTS} documents: all with LM findings after"] = f"{seconds:.2f} s"
    assert waiting > 0
    assert status["waiting_jobs"] == 0 and status["pending_jobs"] == 0
    seen = "\n".join(reviewer.seen_code)
    assert all(f"handler_queue_{i}(" in seen for i in range(last))
    assert f"handler_queue_{last}_edited(" in seen and f"handler_queue_{last}(" not in seen
