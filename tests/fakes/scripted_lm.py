"""``dspy.LM`` with a custom engine that answers from a Python function: no network at all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dspy
from dspy.lm15 import Message, Request, Response, Usage

Answer = Callable[[list[dict[str, Any]]], str]


class ScriptedEngine:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.calls = 0

    def complete(self, request: Request) -> Response:
        self.calls += 1
        messages: list[dict[str, Any]] = []
        if request.system:
            system = request.system if isinstance(request.system, str) else str(request.system)
            messages.append({"role": "system", "content": system})
        messages += [{"role": str(m.role), "content": m.text} for m in request.messages]
        text = self.answer(messages)
        prompt_tokens = sum(len(m["content"]) for m in messages) // 4
        return Response(
            id=None,
            model=request.model,
            message=Message.assistant(text),
            finish_reason="stop",
            usage=Usage(input_tokens=prompt_tokens, output_tokens=len(text) // 4),
        )

    def close(self) -> None:
        pass


class AsyncScriptedEngine:
    def __init__(self, sync: ScriptedEngine) -> None:
        self.sync = sync

    async def complete(self, request: Request) -> Response:
        return self.sync.complete(request)

    async def aclose(self) -> None:
        pass


def scripted_lm(answer: Answer) -> tuple[dspy.LM, ScriptedEngine]:
    engine = ScriptedEngine(answer)
    lm = dspy.LM(
        "scripted/reviewer",
        engine=engine,
        async_engine=AsyncScriptedEngine(engine),
        cache=False,
    )
    return lm, engine
