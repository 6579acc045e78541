"""The real dspy.LM network path (lm15 engine, HTTP over 127.0.0.1) against FakeOpenAI.

These tests pin down what dspy 3.4 actually raises for each provider failure and
check that classify_lm_error + call_with_retries turn those failures into the
intended behaviour. Timeouts are short so the whole module runs in a few seconds.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

import dspy
import pytest
from dspy.utils.exceptions import (
    LMAuthError,
    LMInvalidRequestError,
    LMProviderError,
    LMRateLimitError,
    LMServerError,
    LMTransportError,
    LMUnexpectedError,
)
from fakes import FakeOpenAI, Fault

from dspy_lsp.server.lm.errors import Failure, classify_lm_error
from dspy_lsp.server.lm.resilience import RetryPolicy, call_with_retries

pytestmark = pytest.mark.usefixtures("quiet_model_metadata")

CLIENT_TIMEOUT_S = 0.3
FAST = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=1.0, jitter=0.0)


class Review(dspy.Signature):
    """Judge a code snippet."""

    code: str = dspy.InputField()
    verdict: Literal["ok", "smelly"] = dspy.OutputField()
    reason: str = dspy.OutputField()


def chat_adapter_reply(messages: list[dict[str, Any]]) -> str:
    """What a well-behaved model would answer to ChatAdapter's prompt."""
    code = "print" if "print(" in messages[-1]["content"] else "other"
    return (
        f"[[ ## verdict ## ]]\nsmelly\n\n[[ ## reason ## ]]\nuses {code}\n\n[[ ## completed ## ]]"
    )


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def make_lm(base_url: str, timeout: float = CLIENT_TIMEOUT_S) -> dspy.LM:
    return dspy.LM(
        "openai/fake-model",
        api_base=base_url,
        api_key="test",
        num_retries=0,
        cache=False,
        timeout=timeout,
    )


@pytest.fixture
async def lm(server: FakeOpenAI) -> AsyncIterator[dspy.LM]:
    model = make_lm(server.base_url)
    yield model
    await model.aclose()  # native async pools are bound to this test's loop


class RecordingSleep:
    """Fake ``sleep`` for call_with_retries: records the delays, waits for nothing."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


# -- happy path --------------------------------------------------------------------


async def test_predict_parses_scripted_chat_adapter_reply(server: FakeOpenAI, lm: dspy.LM) -> None:
    server.responder = chat_adapter_reply
    with dspy.context(lm=lm, adapter=dspy.ChatAdapter(use_json_adapter_fallback=False)):
        pred = await dspy.Predict(Review).acall(code="print('x')")

    assert (pred.verdict, pred.reason) == ("smelly", "uses print")
    assert server.request_count == 1
    sent = server.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["Authorization"] == "Bearer test"
    assert sent.body["model"] == "fake-model"
    assert sent.messages[0]["role"] == "system"
    assert "`verdict`" in sent.messages[0]["content"]
    assert "print('x')" in sent.messages[-1]["content"]


def test_sync_call_returns_responder_text(server: FakeOpenAI) -> None:
    server.responder = lambda messages: f"{len(messages)} message(s)"
    assert make_lm(server.base_url)("hello") == ["1 message(s)"]


# -- fault mapping -----------------------------------------------------------------

FAULT_CASES = [
    (Fault("429", retry_after_s=2), LMRateLimitError, Failure(True, 2.0, "rate_limit")),
    (Fault("429"), LMRateLimitError, Failure(True, None, "rate_limit")),
    (Fault("500"), LMServerError, Failure(True, None, "server")),
    (Fault("503", retry_after_s=1.5), LMServerError, Failure(True, 1.5, "server")),
    (Fault("timeout", hang_s=2.0), LMTransportError, Failure(True, None, "timeout")),
    (Fault("reset"), LMTransportError, Failure(True, None, "transport")),
    (Fault("garbage"), LMProviderError, Failure(True, None, "bad_response")),
    (Fault("truncated"), LMProviderError, Failure(True, None, "bad_response")),
]
FAULT_IDS = [f"{f.kind}{'+retry-after' if f.retry_after_s else ''}" for f, _, _ in FAULT_CASES]


@pytest.mark.parametrize(("fault", "error_type", "expected"), FAULT_CASES, ids=FAULT_IDS)
async def test_fault_maps_to_failure(
    server: FakeOpenAI,
    lm: dspy.LM,
    fault: Fault,
    error_type: type[Exception],
    expected: Failure,
) -> None:
    server.script(fault)
    with pytest.raises(dspy.LMError) as raised:
        await lm.acall("hi")

    error = raised.value
    assert type(error) is error_type
    assert classify_lm_error(error) == expected
    # We deliberately disagree with dspy only about unparseable 2xx bodies.
    if expected.reason != "bad_response":
        assert dspy.is_retryable_lm_error(error) is expected.retryable
    assert server.request_count == 1  # num_retries=0: dspy itself did not retry


@pytest.mark.parametrize("kind", ["429", "timeout", "reset", "garbage"])
def test_sync_path_raises_the_same_errors(server: FakeOpenAI, kind: str) -> None:
    fault, error_type, expected = next(c for c in FAULT_CASES if c[0].kind == kind)
    server.script(fault)
    with pytest.raises(error_type) as raised:
        make_lm(server.base_url)("hi")
    assert classify_lm_error(raised.value) == expected


async def test_lm_errors_escape_predict_without_adapter_fallback(
    server: FakeOpenAI,
    lm: dspy.LM,
) -> None:
    server.script(Fault("429", retry_after_s=1))
    with dspy.context(lm=lm), pytest.raises(LMRateLimitError):
        await dspy.Predict(Review).acall(code="x = 1")
    assert server.request_count == 1


async def test_wrong_route_is_not_retryable(server: FakeOpenAI) -> None:
    model = make_lm(server.base_url + "/nope")
    sleep = RecordingSleep()
    try:
        with pytest.raises(LMInvalidRequestError) as raised:
            await call_with_retries(
                lambda: model.acall("hi"),
                FAST,
                classify=classify_lm_error,
                sleep=sleep,
            )
    finally:
        await model.aclose()
    assert raised.value.status == 404
    assert not classify_lm_error(raised.value).retryable
    assert (server.request_count, sleep.delays) == (1, [])


@pytest.mark.parametrize(
    "error",
    [
        LMAuthError("bad key", status=401),
        LMInvalidRequestError("bad", status=400),
        LMUnexpectedError("engine bug"),
        dspy.ContextWindowExceededError(model="m"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_permanent_dspy_errors_are_not_retryable(error: Exception) -> None:
    assert not classify_lm_error(error).retryable


def test_provider_5xx_without_a_specific_class_is_retryable() -> None:
    assert classify_lm_error(LMProviderError("gateway", status=502, retry_after=4)) == Failure(
        True,
        4.0,
        "server",
    )


# -- retries around the real network call -------------------------------------------


@pytest.mark.parametrize(
    ("first", "expected_delay"),
    [(Fault("429", retry_after_s=0.5), 0.5), (Fault("500"), FAST.base_delay_s)],
    ids=["429-retry-after", "500"],
)
async def test_retry_recovers_after_one_fault(
    server: FakeOpenAI,
    lm: dspy.LM,
    first: Fault,
    expected_delay: float,
) -> None:
    server.script(first)
    sleep = RecordingSleep()
    result = await call_with_retries(
        lambda: lm.acall("hello"),
        FAST,
        classify=classify_lm_error,
        sleep=sleep,
    )
    assert result == ["echo: hello"]
    assert sleep.delays == [expected_delay]
    assert server.request_count == 2


async def test_retry_after_is_honoured_in_real_time(server: FakeOpenAI, lm: dspy.LM) -> None:
    server.script(Fault("429", retry_after_s=0.3))
    started = time.monotonic()
    result = await call_with_retries(lambda: lm.acall("hello"), FAST, classify=classify_lm_error)
    assert result == ["echo: hello"]
    first, second = server.requests
    assert second.received_at - first.received_at >= 0.3
    assert time.monotonic() - started >= 0.3


async def test_retry_recovers_a_whole_predict_call(server: FakeOpenAI, lm: dspy.LM) -> None:
    server.responder = chat_adapter_reply
    server.script(Fault("503"), Fault("reset"))
    sleep = RecordingSleep()
    with dspy.context(lm=lm):
        pred = await call_with_retries(
            lambda: dspy.Predict(Review).acall(code="print(1)"),
            FAST,
            classify=classify_lm_error,
            sleep=sleep,
        )
    assert pred.verdict == "smelly"
    assert server.request_count == 3
    assert sleep.delays == [0.01, 0.02]


async def test_retry_gives_up_after_max_attempts(server: FakeOpenAI, lm: dspy.LM) -> None:
    server.script("500", "500", "500", "500")
    sleep = RecordingSleep()
    with pytest.raises(LMServerError):
        await call_with_retries(
            lambda: lm.acall("hi"),
            FAST,
            classify=classify_lm_error,
            sleep=sleep,
        )
    assert server.request_count == FAST.max_attempts


async def test_random_faults_are_absorbed_by_retries(server: FakeOpenAI, lm: dspy.LM) -> None:
    server.fail_randomly({"500": 0.3, "429": 0.2}, seed=3)
    policy = RetryPolicy(max_attempts=10, base_delay_s=0.0, jitter=0.0)
    for n in range(10):
        result = await call_with_retries(
            lambda n=n: lm.acall(f"q{n}"),
            policy,
            classify=classify_lm_error,
        )
        assert result == [f"echo: q{n}"]
    faults = [r.fault.kind for r in server.requests if r.fault]
    assert faults  # the seeded RNG did inject failures
    assert server.request_count == 10 + len(faults)


# -- the fake server itself ---------------------------------------------------------


def post(url: str, payload: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/chat/completions"])
def test_fake_speaks_openai_json(server: FakeOpenAI, path: str) -> None:
    url = f"http://127.0.0.1:{server.port}{path}"
    status, _, raw = post(url, {"model": "m", "messages": [{"role": "user", "content": "a b c"}]})
    body = json.loads(raw)
    assert status == 200
    assert body["object"] == "chat.completion"
    assert body["model"] == "m"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "echo: a b c"}
    assert body["choices"][0]["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert {"id", "created"} <= body.keys()


def test_fake_sends_retry_after_header(server: FakeOpenAI) -> None:
    server.script(Fault("429", retry_after_s=7))
    status, headers, _ = post(server.base_url + "/chat/completions", {"messages": []})
    assert (status, headers["Retry-After"]) == (429, "7")


def test_fake_applies_latency(server: FakeOpenAI) -> None:
    server.latency_s = 0.2
    started = time.monotonic()
    post(server.base_url + "/chat/completions", {"messages": []})
    assert time.monotonic() - started >= 0.2


def test_fake_stops_promptly_while_a_request_hangs() -> None:
    fake = FakeOpenAI().start()
    fake.script(Fault("timeout", hang_s=30))
    outcome: list[BaseException] = []

    def hung_client() -> None:
        try:
            post(fake.base_url + "/chat/completions", {})
        except OSError as error:  # URLError / RemoteDisconnected / reset: all OSError
            outcome.append(error)

    client = threading.Thread(target=hung_client, daemon=True)
    client.start()
    deadline = time.monotonic() + 2
    while fake.request_count == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 10  # a deadline for a hang, not a speed test
    client.join(2)
    assert not client.is_alive()
    assert len(outcome) == 1  # the client got a disconnect, not a completion
