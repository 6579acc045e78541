"""``local/<model.gguf>``: a GGUF run in-process by llama-cpp-python as a dspy engine.

Most tests need neither llama-cpp-python nor a model. The last one loads the real model when
both are present (``DSPY_LSP_LOCAL_GGUF`` or the cache path of shared/tools/local-model.sh)
and is skipped otherwise; it never downloads anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import sys
import threading
import time
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import dspy
import pytest
from fakes.llama_api import check_chat_completion_keywords

from dspy_lsp.server.lm import llama_loading, local_engine
from dspy_lsp.server.lm.local_engine import (
    LOOKUP_TOKENS,
    AsyncLlamaEngine,
    LlamaEngine,
    LocalModelError,
    local_lm,
)

DEFAULT_GGUF = (
    Path(os.environ.get("DSPY_LSP_MODEL_DIR", Path.home() / ".cache/dspy-lsp/models"))
    / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
)


class Sum(dspy.Signature):
    """Add the two numbers."""

    a: int = dspy.InputField()
    b: int = dspy.InputField()
    total: int = dspy.OutputField()


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    """A file that passes the GGUF magic check (llama.cpp itself would reject it)."""
    path = tmp_path / "tiny.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 60)
    return path


@pytest.fixture
def no_llama_cpp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # `import llama_cpp` now fails
    monkeypatch.setattr(llama_loading, "_llama_cpp", None)


# -- without llama-cpp-python -----------------------------------------------------------------
def test_missing_llama_cpp_is_a_clear_error(gguf: Path, no_llama_cpp: None) -> None:
    with pytest.raises(
        LocalModelError, match=r"llama-cpp-python.*not installed.*dspy-lsp\[local\]"
    ):
        local_lm(f"local/{gguf}", max_tokens=64, temperature=0.0)
    engine = LlamaEngine(gguf)  # building is fine: the import waits for the first call
    with pytest.raises(LocalModelError, match=r"dspy-lsp\[local\]"):
        engine.load()
    # Through dspy the same text arrives as a non-retryable configuration error.
    lm = dspy.LM(
        "local/x", engine=engine, async_engine=AsyncLlamaEngine(engine), cache=False, num_retries=0
    )
    with pytest.raises(dspy.LMError, match=r"dspy-lsp\[local\]") as caught:
        lm("hi")
    assert not dspy.is_retryable_lm_error(caught.value)


def test_non_gguf_file_is_a_clear_error(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_text("<html>404 Not Found</html>")
    with pytest.raises(LocalModelError, match=r"not a GGUF model file .*b'<htm'"):
        LlamaEngine(fake)
    with pytest.raises(LocalModelError, match="not a GGUF"):
        local_lm(f"local/{fake}", max_tokens=64, temperature=0.0)


def test_missing_file_and_empty_name_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(LocalModelError, match="local model file not found"):
        local_lm(f"local/{tmp_path / 'absent.gguf'}", max_tokens=64, temperature=0.0)
    with pytest.raises(LocalModelError, match="is not a file"):
        LlamaEngine(tmp_path)
    with pytest.raises(LocalModelError, match="names no file"):
        local_lm("local/", max_tokens=64, temperature=0.0)


def test_model_string_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/me")
    assert local_engine.model_path_of("local//abs/m.gguf") == Path("/abs/m.gguf")
    assert local_engine.model_path_of("local/~/m.gguf") == Path("/home/me/m.gguf")
    assert local_engine.model_path_of("local/rel/m.gguf") == Path("rel/m.gguf")


# -- the engine contract, with a stand-in for llama_cpp.Llama ----------------------------------
class FakeLlama:
    instances: ClassVar[list[FakeLlama]] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.calls: list[dict[str, Any]] = []
        self.active = 0
        self.closed = False
        FakeLlama.instances.append(self)

    def create_chat_completion(self, messages: list[dict[str, str]], **kwargs: Any) -> dict:
        check_chat_completion_keywords(kwargs)
        self.active += 1
        assert self.active == 1, "two threads inside one Llama at once"
        time.sleep(0.01)
        self.active -= 1
        self.calls.append({"messages": messages, **kwargs})
        return {
            "id": "chatcmpl-1",
            "choices": [
                {
                    "message": {
                        "role": "assistant",
                        "content": "[[ ## total ## ]]\n5\n\n[[ ## completed ## ]]",
                    },
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 120, "completion_tokens": 12, "total_tokens": 132},
        }

    def token_eos(self) -> int:
        return 0

    def close(self) -> None:
        self.closed = True


@dataclass(frozen=True)
class PromptLookup:
    num_pred_tokens: int


@pytest.fixture
def fake_llama(monkeypatch: pytest.MonkeyPatch) -> type[FakeLlama]:
    FakeLlama.instances = []
    drafting = types.SimpleNamespace(LlamaPromptLookupDecoding=PromptLookup)
    module = types.SimpleNamespace(Llama=FakeLlama, llama_speculative=drafting)
    monkeypatch.setattr(local_engine, "import_llama_cpp", lambda: module)
    monkeypatch.setattr(local_engine, "_stop_when", lambda cancel, looping, llm: "processor")
    # The fake has no llama.cpp library under it to take model parameters from.
    monkeypatch.setattr(local_engine, "model_params", lambda **_: contextlib.nullcontext())
    return FakeLlama


async def test_predict_through_the_engine(gguf: Path, fake_llama: type[FakeLlama]) -> None:
    lm = local_lm(f"local/{gguf}", max_tokens=64, temperature=0.0)
    assert lm.model == f"local/{gguf}"
    with dspy.context(
        lm=lm, adapter=dspy.ChatAdapter(use_json_adapter_fallback=False), track_usage=True
    ):
        pred = dspy.Predict(Sum)(a=2, b=3)
        apred = await dspy.Predict(Sum).acall(a=2, b=3)
    assert pred.total == 5 and apred.total == 5
    usage = pred.get_lm_usage()[lm.model]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (120, 12)

    (llama,) = fake_llama.instances  # one load, shared by the sync and async paths
    assert llama.kwargs["verbose"] is False and llama.kwargs["n_ctx"] == 4096
    # A repair copies its prompt: drafts looked up there are checked a batch at a time.
    assert llama.kwargs["draft_model"] == PromptLookup(num_pred_tokens=LOOKUP_TOKENS)
    assert llama.kwargs["logits_all"] is True  # what llama-cpp-python's drafting needs
    sync_call, async_call = llama.calls
    assert [m["role"] for m in sync_call["messages"]] == ["system", "user"]
    assert "total" in sync_call["messages"][0]["content"]
    assert sync_call["temperature"] == 0.0 and sync_call["max_tokens"] == 64
    # Every call stops on a loop; async calls can be cancelled too (through the same processor).
    assert sync_call["logits_processor"] == async_call["logits_processor"] == "processor"


def test_calls_are_serialized_and_close_reloads(gguf: Path, fake_llama: type[FakeLlama]) -> None:
    engine = LlamaEngine(gguf, n_threads=2, chat_format="chatml", lookup_tokens=0)
    request = dspy.lm15.Request(
        model="local/x", messages=(dspy.lm15.Message.user("hi"),), system="be brief"
    )
    threads = [threading.Thread(target=engine.complete, args=(request,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (llama,) = fake_llama.instances
    assert len(llama.calls) == 4
    assert llama.kwargs["n_threads"] == 2 and llama.kwargs["chat_format"] == "chatml"
    assert "draft_model" not in llama.kwargs and "logits_all" not in llama.kwargs  # turned off
    response = engine.complete(request)
    assert response.message.text.startswith("[[ ## total ## ]]")
    assert response.finish_reason == "stop" and response.usage.total_tokens == 132
    engine.close()
    assert llama.closed and not engine.loaded
    engine.complete(request)
    assert len(fake_llama.instances) == 2


def test_shared_engine_and_saved_state(gguf: Path) -> None:
    a = LlamaEngine.shared(gguf)
    assert LlamaEngine.shared(str(gguf)) is a
    assert LlamaEngine.load_state(a.dump_state()) is a
    assert LlamaEngine.shared(gguf, n_ctx=2048) is not a


def test_context_overflow_maps_to_context_window_error(
    gguf: Path, fake_llama: type[FakeLlama], monkeypatch: pytest.MonkeyPatch
) -> None:
    def too_long(self: FakeLlama, messages: Any, **kwargs: Any) -> dict:
        raise ValueError("Requested tokens (5000) exceed context window of 4096")

    monkeypatch.setattr(FakeLlama, "create_chat_completion", too_long)
    engine = LlamaEngine(gguf)
    lm = dspy.LM("local/x", engine=engine, cache=False, num_retries=0)
    with pytest.raises(dspy.ContextWindowExceededError, match="exceed context window"):
        lm("hi")


# -- the real model ---------------------------------------------------------------------------
def _real_model() -> Path:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip('llama-cpp-python is not installed (pip install "dspy-lsp[local]")')
    path = Path(os.environ.get("DSPY_LSP_LOCAL_GGUF") or DEFAULT_GGUF).expanduser()
    if not path.is_file():
        pytest.skip(
            f"no GGUF at {path}: set DSPY_LSP_LOCAL_GGUF or run shared/tools/local-model.sh"
        )
    return path


async def test_real_model_typed_predict(capfd: pytest.CaptureFixture[str]) -> None:
    path = _real_model()
    lm = local_lm(f"local/{path}", max_tokens=64, temperature=0.0)
    started = time.monotonic()
    with dspy.context(
        lm=lm, adapter=dspy.ChatAdapter(use_json_adapter_fallback=False), track_usage=True
    ):
        pred = await dspy.Predict(Sum).acall(a=2, b=3)
    elapsed = time.monotonic() - started
    engine = LlamaEngine.shared(path)
    usage = pred.get_lm_usage()[lm.model]
    assert capfd.readouterr().out == ""  # nothing from llama.cpp on the JSON-RPC fd
    print(f"\nload {engine.load_seconds:.1f}s, load+call {elapsed:.1f}s, usage {usage}")
    assert isinstance(pred.total, int)
    assert pred.total == 5
    assert usage["prompt_tokens"] > 0 and 0 < usage["completion_tokens"] <= 64
    await asyncio.to_thread(engine.close)


def test_real_model_drafting_from_the_prompt_leaves_a_greedy_reply_unchanged() -> None:
    path = _real_model()
    code = "def gcd(a, b):\n    if b == 0:\n        return a\n    return gcd(a % b, b)\n"
    replies = []
    for lookup in (0, LOOKUP_TOKENS):
        engine = LlamaEngine(path, lookup_tokens=lookup)
        lm = dspy.LM(f"local/{path}", engine=engine, cache=False, max_tokens=120, temperature=0)
        replies.append(lm(f"Fix the bug and return only the code:\n{code}")[0])
        engine.close()
    assert replies[0] == replies[1] and "def gcd" in replies[0]


def test_real_model_is_most_surprised_by_the_bug_in_gcd() -> None:
    """One forward pass, no generation: the swapped arguments are the least expected tokens."""
    from dspy_lsp.analyzers.surprisal import PREFIX, line_surprisal

    path = _real_model()
    code = "def gcd(a, b):\n    if b == 0:\n        return a\n    return gcd(a % b, b)\n"
    engine = LlamaEngine(path)
    try:
        tokens = engine.token_logprobs(PREFIX + code)
        # the model still chats afterwards: its context was reset
        lm = dspy.LM(f"local/{path}", engine=engine, cache=False, max_tokens=8, temperature=0)
        assert lm("Say OK.")[0].strip()
    finally:
        engine.close()
    assert all(logprob <= 0 for _, logprob in tokens)
    surprise = line_surprisal(code, tokens)
    assert set(surprise) == {1, 2, 3, 4}
    assert max(surprise, key=lambda line: surprise[line]) in (1, 4)


def test_real_model_scores_texts_alike_reusing_what_they_share_and_prefers_the_fix() -> None:
    """``text_logprobs`` gives what one forward pass per text gives, evaluating only where each
    text parts from the one before; the fixed gcd reads likelier than the buggy one."""
    from dspy_lsp.analyzers.surprisal import PREFIX

    path = _real_model()
    head = PREFIX + "def gcd(a, b):\n    if b == 0:\n        return a\n"
    texts = [head + "    return gcd(a % b, b)\n", head + "    return gcd(b, a % b)\n", "x"]
    engine = LlamaEngine(path)
    try:
        batch = engine.text_logprobs(texts)
        alone = [sum(lp for _, lp in engine.token_logprobs(t)) for t in texts[:2]]
        lm = dspy.LM(f"local/{path}", engine=engine, cache=False, max_tokens=8, temperature=0)
        assert lm("Say OK.")[0].strip()  # it still chats afterwards
    finally:
        engine.close()
    assert batch[:2] == pytest.approx(alone, abs=0.05)
    assert batch[2] == 0.0  # one token: nothing to score
    assert batch[1] > batch[0]


def test_real_model_departure_gains_are_the_first_departing_tokens_own() -> None:
    """``departure_logprobs`` gives, from one pass over the text, what scoring each variant
    whole gives at its first departing token; the fix gains there, and a variant that only
    goes on past the text's end gains nothing. Scoring texts next reads on from the text it
    holds, and gives what one pass per text gives."""
    from dspy_lsp.analyzers.surprisal import PREFIX

    path = _real_model()
    head = PREFIX + "def gcd(a, b):\n    if b == 0:\n        return a\n    return gcd("
    buggy, fixed = head + "a % b, b)\n", head + "b, a % b)\n"
    engine = LlamaEngine(path)
    try:
        [gain, same, longer] = engine.departure_logprobs(buggy, [fixed, buggy, buggy + "x = 1\n"])
        scored = engine.text_logprobs([buggy, fixed])  # reads on from the text held
        tokens = {t: engine.token_logprobs(t) for t in (buggy, fixed)}
    finally:
        engine.close()
    pairs = zip(tokens[buggy], tokens[fixed], strict=False)
    at = next(i for i, ((_, a), (_, b)) in enumerate(pairs) if abs(a - b) > 1e-3)
    assert gain == pytest.approx(tokens[fixed][at][1] - tokens[buggy][at][1], abs=0.05)
    assert gain > 0 and same == 0.0 and longer == 0.0
    whole = [sum(lp for _, lp in tokens[t]) for t in (buggy, fixed)]
    assert scored == pytest.approx(whole, abs=0.05)


def test_real_model_likelier_finder_flags_the_gcd_bug_and_not_the_fixed_gcd(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``dspy-lsp check`` on the real model with the default finder (``auto``: likelier on a
    local model): the swapped arguments are the finding, with the swap as its fix; the fixed
    function draws nothing."""
    from dspy_lsp.server.cli.main import main

    path = _real_model()
    buggy = "def gcd(a, b):\n    if b == 0:\n        return a\n    return gcd(a % b, b)\n"
    (tmp_path / "buggy.py").write_text(buggy)
    (tmp_path / "fixed.py").write_text(buggy.replace("gcd(a % b, b)", "gcd(b, a % b)"))
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_DATA_HOME": str(tmp_path / "data")}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        code = main(["check", str(tmp_path), "--lm", f"local/{path}", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    found = [(Path(f["path"]).name, f["start"]["line"], f["rule"]) for f in report]
    assert code != 2 and found == [("buggy.py", 4, "LM-bug")], report
    assert "gcd(b, a % b)" in report[0]["message"] and report[0]["fix"] is not None
