"""Honest accounting of the LM tier: failed, unparsable and truncated replies are counted and
shown; a model that cannot run is an error (exit 2), not a warning and "0 failures"; output
is bounded (max tokens sized to the schema, a local model's loops stopped)."""

from __future__ import annotations

import logging
import types
from pathlib import Path
from typing import Any

import numpy
import pytest
from dspy.lm15 import Response
from fakes.llama_api import check_chat_completion_keywords
from fakes.reviewer import Reviewer
from fakes.scripted_lm import AsyncScriptedEngine, ScriptedEngine
from test_cli import BUGGY, LM_CODE, run

from dspy_lsp.server.lm import llama_loading
from dspy_lsp.server.lm.cache import LmCache
from dspy_lsp.server.lm.errors import truncated_replies
from dspy_lsp.server.lm.llama_loading import model_label
from dspy_lsp.server.lm.local_engine import RepetitionStop
from dspy_lsp.server.lm.tier import LmTier, LmUnavailable
from dspy_lsp.server.settings import LmSettings


class CutOffEngine(ScriptedEngine):
    """The scripted model, each reply marked as stopped at max_tokens."""

    def complete(self, request):  # type: ignore[no-untyped-def]
        done = super().complete(request)
        return Response(
            id=None,
            model=done.model,
            message=done.message,
            finish_reason="length",
            usage=done.usage,
        )


async def test_truncated_replies_are_counted_and_in_the_status() -> None:
    import dspy

    engine = CutOffEngine(lambda messages: "I cannot answer in that format.")
    lm = dspy.LM("scripted/x", engine=engine, async_engine=AsyncScriptedEngine(engine), cache=False)
    tier = LmTier(LmSettings(model="scripted/x", max_attempts=1), LmCache(None), {}, lm=lm)
    with pytest.raises(LmUnavailable, match="LmUnparsable"):  # every unit: no answer at all
        await tier.analyze("def f(x):\n    return x\n\n\ndef g():\n    pass\n", [])
    stats = tier.status().stats
    assert stats["truncated_replies"] == 2 and stats["unparsable_replies"] == 2
    assert stats["calls"] == 0 and lm.history == []  # each call counted on its own copy


def test_truncation_is_read_from_native_and_litellm_replies() -> None:
    native = types.SimpleNamespace(finish_reason="length")
    litellm = {"choices": [{"finish_reason": "stop"}, {"finish_reason": "length"}]}
    whole = types.SimpleNamespace(finish_reason="stop")
    history = [{"response": native}, {"response": litellm}, {"response": whole}, {}]
    assert truncated_replies(history) == 2


# -- check: a model that cannot run is an error -----------------------------------------------
def test_check_with_a_missing_local_model_exits_2_before_analysing(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(BUGGY)
    result = run("check", "--lm", "local/nope.gguf", "m.py", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("dspy-lsp: error: --lm local/nope.gguf: local model file not found")


def test_check_with_a_file_that_is_not_gguf_exits_2(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(BUGGY)
    model = tmp_path / "model.gguf"
    model.write_text("<html>404</html>")
    result = run("check", "--lm", f"local/{model}", "m.py", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert f"--lm local:{model}:" in line and "not a GGUF" in line  # no "local//"


def test_model_label_has_no_doubled_slash() -> None:
    assert model_label("local//home/me/m.gguf") == "local:/home/me/m.gguf"
    assert model_label("local/models/m.gguf") == "local/models/m.gguf"
    assert model_label("openai/gpt-4o-mini") == "openai/gpt-4o-mini"


def _endpoint(tmp_path: Path, fake) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    (tmp_path / "pyproject.toml").write_text(
        "[tool.dspy-lsp.lm]\n"
        f'cache_path = "{(tmp_path / "cache.sqlite3").as_posix()}"\n'
        "max_attempts = 1\ntimeout_s = 5\nbreaker_failures = 10\n"
    )
    return ("--lm", "openai/fake", "--api-base", fake.base_url, "--trust-project")


def test_unparsable_replies_only_are_an_error_too(tmp_path: Path) -> None:
    from fakes.openai_server import FakeOpenAI

    (tmp_path / "mod.py").write_text(LM_CODE)
    with FakeOpenAI() as fake:
        fake.responder = lambda messages: "I cannot answer in that format."
        result = run("check", *_endpoint(tmp_path, fake), "mod.py", cwd=tmp_path)
    assert result.returncode == 2
    assert "0 failures, 1 unparsable, 0 truncated" in result.stderr
    told = result.stderr.splitlines()[-1]
    assert told.startswith("dspy-lsp: error: LM unavailable: LmUnparsable: ")
    assert told.endswith("(openai/fake: 1 calls, none answered)")


def test_a_model_failing_on_some_files_only_is_a_warning(tmp_path: Path) -> None:
    from fakes.openai_server import FakeOpenAI

    (tmp_path / "a.py").write_text(LM_CODE)
    (tmp_path / "b.py").write_text(LM_CODE.replace("parse", "load"))
    with FakeOpenAI() as fake:
        fake.responder = Reviewer()
        fake.script("200", "500")
        result = run("check", *_endpoint(tmp_path, fake), "a.py", "b.py", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "1 calls" in result.stderr and "1 failures" in result.stderr
    assert "warning: LM unavailable" in result.stderr and "dspy-lsp: error" not in result.stderr


# -- bounded output ---------------------------------------------------------------------------
def test_max_tokens_default_is_sized_to_the_findings_schema() -> None:
    assert LmSettings().max_tokens == 1024


def test_repetition_stop_fires_on_loops_not_on_json_lists() -> None:
    finding = list(range(100, 190))  # one finding's tokens
    loop = RepetitionStop()
    assert not loop([1, 2, 3, *finding, *finding])
    assert loop([1, 2, 3, *finding, *finding, *finding]) and loop.fired
    assert RepetitionStop()([7, *[5] * 48])
    assert not RepetitionStop()([7, *[5] * 40])  # a run of spaces in indentation
    keys = [10, 11, 12]  # the same keys, different values between them
    listing = [t for n in range(20) for t in (*keys, 200 + n, 300 + n)]
    assert not RepetitionStop()(listing)


def test_the_local_engine_passes_the_stop_and_reports_a_loop_as_length(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import contextlib

    import dspy

    from dspy_lsp.server.lm import local_engine

    seen: dict[str, object] = {}

    class LoopingLlama:
        def __init__(self, **kwargs: object) -> None:
            pass

        def token_eos(self) -> int:
            return 2

        def create_chat_completion(self, messages: object, **kwargs: Any) -> dict:
            check_chat_completion_keywords(kwargs)
            seen.update(kwargs)
            scores = numpy.zeros(4)
            scores[1] = 5.0  # the model wants token 1 ...
            processors = kwargs["logits_processor"]
            for processor in processors:  # llama.cpp's sampler iterates them, one by one
                scores = processor([9] * 60, scores)
            assert int(numpy.argmax(scores)) == 2  # ... but a loop leaves only end-of-generation
            choice = {"message": {"content": "x x x"}, "finish_reason": "stop"}
            return {"choices": [choice], "usage": {}}

    monkeypatch.setattr(
        local_engine, "import_llama_cpp", lambda: types.SimpleNamespace(Llama=LoopingLlama)
    )
    monkeypatch.setattr(local_engine, "model_params", lambda **_: contextlib.nullcontext())
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 60)
    request = dspy.lm15.Request(model="local/x", messages=(dspy.lm15.Message.user("hi"),))
    response = local_engine.LlamaEngine(gguf, lookup_tokens=0).complete(request)
    assert response.finish_reason == "length" and "repeat_penalty" not in seen


def test_llama_cpp_model_file_quirks_stay_off_stderr(caplog: pytest.LogCaptureFixture) -> None:
    registered = []
    fake = types.SimpleNamespace(
        llama_log_callback=lambda function: function,
        llama_log_set=lambda callback, _: registered.append(callback),
    )
    llama_loading._route_logs(fake)
    (callback,) = registered
    with caplog.at_level(logging.DEBUG, logger="dspy_lsp.llama_cpp"):
        callback(3, b"load: control-looking token: 128247 '</s>' was not control-type\n", None)
        callback(5, b"its type will be overridden\n", None)
        callback(3, b"something else is wrong\n", None)
    levels = [(r.levelno, r.getMessage()[:9]) for r in caplog.records]
    assert levels == [
        (logging.DEBUG, "load: con"),
        (logging.DEBUG, "its type "),
        (logging.WARNING, "something"),
    ]
