"""The LM fault matrix: every way a model endpoint fails, through the real server and the tier.

The server talks to a loopback OpenAI server (tests/fakes/openai_server.py) over real HTTP, so
each fault arrives as the bytes a flaky provider sends. Per fault the suite checks what a user
would notice: the process lives and answers, rule diagnostics keep coming, the circuit opens
after at most ``lm.breaker_failures`` failed requests and says so once, and LM diagnostics come
back by themselves once the model answers again. Figures are printed (run with ``-s``).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import pytest_lsp
from e2e.conftest import _start, workspace_file
from fakes.openai_server import FakeOpenAI, Fault
from fakes.reviewer import Reviewer, reply
from lsp_client import open_and_wait, replace_and_wait
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient
from scratch_dirs import scratch_dir

from dspy_lsp.analyzers.engine import analyze_source
from dspy_lsp.analyzers.units import split_units
from dspy_lsp.server.lm.cache import LmCache
from dspy_lsp.server.lm.tier import LmTier
from dspy_lsp.server.settings import LmSettings

pytestmark = pytest.mark.asyncio(loop_scope="module")

BREAKER_FAILURES = 3
BREAKER_RESET_S = 1.0
CLIENT_TIMEOUT_S = 0.5
RECOVERY_LIMIT_S = 30.0
RETRY_AFTER_S = 1.0

FAKE = FakeOpenAI(Reviewer()).start()
CACHE = str(scratch_dir("dspy-lsp-faults-"))
ENV = {**os.environ, "DSPY_LSP_DEBOUNCE_MS": "30", "XDG_DATA_HOME": CACHE}


@dataclass
class Row:
    fault: str
    requests_until_open: int | str = "-"
    seconds_to_open: float | str = "-"
    rule_publishes: int = 0
    warnings: int = 0
    recovery_s: float | str = "-"


FIGURES: list[Row] = []


@pytest.fixture(scope="module", autouse=True)
def figures_table() -> Iterator[None]:
    yield
    FAKE.stop()
    print(f"\nLM fault matrix through the server (lm.breaker_failures = {BREAKER_FAILURES})")
    print(
        f"{'fault':<22}{'requests→open':>14}{'s→open':>8}{'rule pubs':>10}{'warnings':>9}"
        f"{'recovery s':>11}"
    )
    for row in FIGURES:
        print(
            f"{row.fault:<22}{row.requests_until_open!s:>14}{_fmt(row.seconds_to_open):>8}"
            f"{row.rule_publishes:>10}{row.warnings:>9}{_fmt(row.recovery_s):>11}"
        )


def _fmt(value: float | str) -> str:
    return f"{value:.2f}" if isinstance(value, float) else value


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "dspy_lsp.server"], server_env=ENV
    ),
    scope="module",
)
async def client(lsp_client: LanguageClient):
    options = {
        "lm": {
            "model": "openai/fake-model",
            "finder": "analyze",  # these replies are reviews: their faults are the subject
            "api_base": FAKE.base_url,
            "timeout_s": CLIENT_TIMEOUT_S,
            "max_attempts": 2,
            "plan_attempts": 1,
            "max_concurrency": 1,
            "breaker_failures": BREAKER_FAILURES,
            "breaker_reset_s": BREAKER_RESET_S,
            "cache_path": f"{CACHE}/lm.sqlite3",
        }
    }
    await _start(lsp_client, pytest_lsp.client_capabilities("visual-studio-code"), options)
    yield
    await lsp_client.shutdown_session()


def _source(tag: str) -> str:
    """Two units, each with a DL101 (a rule finding) and an eval() (the reviewer's finding);
    ``tag`` makes the units new to the LM cache."""
    return (
        f"def load_{tag}(raw, seen=[]):\n    seen.append(raw)\n    return eval(raw)\n\n\n"
        f"def parse_{tag}(text, memo={{}}):\n    memo[text] = 1\n    return eval(text)\n"
    )


def _lm(diagnostics: list[types.Diagnostic]) -> list[types.Diagnostic]:
    return [d for d in diagnostics if str(d.code).startswith("LM-")]


def _rules(diagnostics: list[types.Diagnostic]) -> list[str]:
    return sorted(str(d.code) for d in diagnostics if not str(d.code).startswith("LM-"))


async def _status(client: LanguageClient) -> dict:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="dspy-lsp.status")
    )


async def _until(predicate: Callable[[], object], timeout: float, step: float = 0.05) -> float:
    """Seconds until ``predicate()`` holds; fails the test after ``timeout``."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(step)
    return time.monotonic() - started


async def _state_until(client: LanguageClient, state: str, timeout: float) -> float:
    started = time.monotonic()
    while (await _status(client))["state"] != state:
        if time.monotonic() - started > timeout:
            raise AssertionError(f"LM state never became {state}: {await _status(client)}")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def _alive(client: LanguageClient) -> bool:
    process = client._server  # type: ignore[attr-defined]
    return process is not None and process.returncode is None


def _warnings(client: LanguageClient) -> int:
    return sum("is failing" in m.message for m in client.messages)


TRANSPORT_FAULTS = [
    Fault("timeout", hang_s=2.0),
    Fault("429", retry_after_s=RETRY_AFTER_S),
    Fault("500"),
    Fault("503"),
    Fault("reset"),
    Fault("garbage"),
    Fault("truncated"),
]


@pytest.mark.parametrize(
    "fault",
    TRANSPORT_FAULTS,
    ids=[f.kind + ("+Retry-After" if f.retry_after_s else "") for f in TRANSPORT_FAULTS],
)
async def test_a_failing_endpoint_opens_the_circuit_once_and_recovers_unaided(
    client: LanguageClient, fault: Fault
) -> None:
    row = Row(fault.kind + ("+Retry-After" if fault.retry_after_s else ""))
    FIGURES.append(row)
    tag = row.fault.replace("+", "_").replace("-", "_")
    uri = workspace_file(f"faults/{tag}.py")
    text = _source(tag)
    await _state_until(client, "ready", BREAKER_RESET_S * 3)
    warnings, before = _warnings(client), FAKE.request_count
    FAKE.fail_randomly({fault: 1.0})

    published = await open_and_wait(client, uri, text)
    assert _rules(published.diagnostics) == ["DL101", "DL101"]
    row.seconds_to_open = await _state_until(client, "circuit_open", 20)
    opened = time.monotonic()
    row.requests_until_open = FAKE.request_count - before
    assert 1 <= row.requests_until_open <= BREAKER_FAILURES

    # While it is open, editing goes on: rule diagnostics for every version, and no LM traffic
    # but one probe per lm.breaker_reset_s.
    for version in (2, 3):
        text = text.replace("memo[text] = 1", f"memo[text] = {version}")
        published = await replace_and_wait(client, uri, text, version)
        assert _rules(published.diagnostics) == ["DL101", "DL101"]
        client.text_document_did_save(
            types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
    row.rule_publishes = sum(1 for p in client.published if p.uri == uri and _rules(p.diagnostics))
    assert row.rule_publishes >= 3
    probes = FAKE.request_count - before - row.requests_until_open
    assert probes <= (time.monotonic() - opened) // BREAKER_RESET_S
    if fault.kind == "429":
        first, second = FAKE.requests[before : before + 2]
        assert second.received_at - first.received_at >= RETRY_AFTER_S  # Retry-After honoured

    FAKE.clear_faults()
    row.recovery_s = await _until(
        lambda: len(_lm(client.diagnostics.get(uri, []))) == 2, RECOVERY_LIMIT_S
    )
    assert (await _status(client))["state"] == "ready"
    row.warnings = _warnings(client) - warnings
    assert row.warnings == 1
    assert _alive(client)


@pytest.mark.parametrize("fault", ["500", "reset"])
async def test_a_plan_asked_for_during_an_outage_is_refused_and_counted(
    client: LanguageClient, fault: str
) -> None:
    """The plan's failure says what failed, and the breaker counts it (not as a success)."""
    uri = workspace_file(f"faults/plan_{fault}.py")
    text = _source(f"plan_{fault}")
    await _state_until(client, "ready", BREAKER_RESET_S * 3)
    await open_and_wait(client, uri, text)
    await _until(lambda: len(_lm(client.diagnostics.get(uri, []))) == 2, 20)
    [diagnostic, *_] = _lm(client.diagnostics[uri])
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic]),
        )
    )
    [plan] = [a for a in actions or [] if a.title.startswith("Plan refactor")]
    failures, before = (await _status(client))["stats"]["failures"], FAKE.request_count
    FAKE.fail_randomly({fault: 1.0})
    try:
        resolved = await client.code_action_resolve_async(plan)
    finally:
        FAKE.clear_faults()
    assert resolved.edit is None
    assert "LMServerError" in resolved.title or "LMTransportError" in resolved.title
    assert (await _status(client))["stats"]["failures"] - failures == 2  # lm.max_attempts
    assert FAKE.request_count - before == 2
    assert _alive(client)


async def test_replies_that_break_the_format_cost_no_circuit_and_no_crash(
    client: LanguageClient,
) -> None:
    """The model is reachable, just wrong: nothing is cached, nothing is shown as LM findings,
    the circuit stays closed (an answering model is not an outage) and rules go on. A finding
    that breaks its own schema (``bad_enum``) costs only itself: the reply is read, the finding
    dropped and counted."""
    broken = {
        "prose": "Sure! I reviewed the code and it looks mostly fine.",
        "wrong_type": reply(findings="several"),
        "bad_enum": reply(
            findings=[
                {
                    "line": 3,
                    "end_line": 3,
                    "category": "catastrophe",
                    "severity": "fatal",
                    "message": "x",
                    "rationale": "y",
                    "confidence": 7,
                }
            ]
        ),
        "no_fields": "[[ ## completed ## ]]",
    }
    row = Row("format-breaking reply")
    FIGURES.append(row)
    warnings = _warnings(client)
    counted = (await _status(client))["stats"]
    for name, answer in broken.items():
        FAKE.responder = lambda _messages, answer=answer: answer
        uri = workspace_file(f"faults/format_{name}.py")
        before = FAKE.request_count
        try:
            published = await open_and_wait(client, uri, _source(f"format_{name}"))
            assert _rules(published.diagnostics) == ["DL101", "DL101"]
            await _until(lambda before=before: FAKE.request_count - before >= 2, 10)
            await asyncio.sleep(0.3)
        finally:
            FAKE.responder = Reviewer()
        assert not _lm(client.diagnostics[uri])
        row.rule_publishes += sum(
            1 for p in client.published if p.uri == uri and _rules(p.diagnostics)
        )
    status = await _status(client)
    assert status["state"] == "ready"
    assert status["stats"]["unparsable_replies"] - counted["unparsable_replies"] == 2 * 3
    assert status["stats"]["dropped_claims"] - counted["dropped_claims"] == 2  # bad_enum
    row.warnings = _warnings(client) - warnings
    assert row.warnings == 0
    assert _alive(client)


async def test_hallucinated_line_ranges_never_reach_the_editor(client: LanguageClient) -> None:
    row = Row("hallucinated ranges")
    FIGURES.append(row)
    FAKE.responder = Reviewer(mode="hallucinate")
    dropped = (await _status(client))["stats"]["dropped_claims"]
    uri = workspace_file("faults/hallucinate.py")
    text = _source("hallucinate")
    try:
        await open_and_wait(client, uri, text)
        await _until(lambda: len(_lm(client.diagnostics.get(uri, []))) == 2, 20)
    finally:
        FAKE.responder = Reviewer()
    lines = text.splitlines()
    for diagnostic in _lm(client.diagnostics[uri]):
        assert "eval(" in lines[diagnostic.range.start.line]
        assert diagnostic.range.end.line < len(lines)
    status = await _status(client)
    assert status["stats"]["dropped_claims"] - dropped == 4  # two made-up claims per unit
    row.rule_publishes = sum(1 for p in client.published if p.uri == uri and _rules(p.diagnostics))
    assert _alive(client)


# -- many analyses at once, straight through the tier -----------------------------------------

DOCUMENTS = 100
FAILURE_RATE = 0.10
CONCURRENT_FAULTS: dict[Fault, float] = {
    Fault("429", retry_after_s=0.2): 0.02,
    Fault("500"): 0.02,
    Fault("503"): 0.01,
    Fault("timeout", hang_s=8.0): 0.01,
    Fault("reset"): 0.02,
    Fault("garbage"): 0.01,
    Fault("truncated"): 0.01,
}


def _document(i: int) -> str:
    return f"def handler_{i}(payload):\n    value = eval(payload)\n    return value + {i}\n"


async def test_one_hundred_concurrent_analyses_survive_ten_percent_failures() -> None:
    """An analysis is one document through ``LmTier.analyze`` over real HTTP, with the default
    retries and breaker; it succeeds when every unit was answered and the eval() is found."""
    assert sum(CONCURRENT_FAULTS.values()) == pytest.approx(FAILURE_RATE)
    with FakeOpenAI(Reviewer()) as fake:
        fake.fail_randomly(CONCURRENT_FAULTS, seed=6)
        # A timeout well above a healthy reply's time on a loaded machine, below the hang's.
        settings = LmSettings(model="openai/fake-model", api_base=fake.base_url, timeout_s=5.0)
        tier = LmTier(settings, LmCache(None), program_states={})
        texts = [_document(i) for i in range(DOCUMENTS)]
        started = time.monotonic()
        results = await asyncio.gather(
            *(tier.analyze(t, analyze_source(t).findings) for t in texts), return_exceptions=True
        )
        elapsed = time.monotonic() - started
        succeeded = sum(
            1
            for text, result in zip(texts, results, strict=True)
            if not isinstance(result, BaseException)
            and all(tier.knows_unit(u.hash) for u in split_units(text))
            and [f.span.start.line for f in result] == [1]
        )
        injected = sum(1 for r in fake.requests if r.fault is not None)
        requests = fake.request_count
    rate = succeeded / DOCUMENTS
    print(
        f"\n{DOCUMENTS} concurrent analyses, {FAILURE_RATE:.0%} injected failures: "
        f"{succeeded} succeeded ({rate:.0%}), {requests} requests, {injected} faults injected, "
        f"{tier.stats.failures} failed attempts, breaker {tier.breaker.state}, {elapsed:.1f}s"
    )
    assert rate >= 0.95
