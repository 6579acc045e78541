"""A model for the fix loop's tests: a repair finder and a planner that learns from failures.

Its repair puts ``repair`` where ``bug`` is; its plan puts ``wrong`` there until the problem it
is asked says the project's tests failed, then ``right`` (unless it does not ``learn``). Every
other ``swaps`` pair is applied to both, for a second function. It keeps the problems the
planner was asked, and hands any other program to ``other``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fakes.reviewer import fields, reply


@dataclass
class Fixer:
    bug: str = "a - b"
    repair: str = "a * b"
    wrong: str = "a * b"
    right: str = "a + b"
    learn: bool = True
    swaps: Mapping[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def __call__(self, messages: list[dict[str, Any]]) -> str:
        system = next(m["content"] for m in messages if m["role"] == "system")
        inputs = fields(messages[-1]["content"])
        code = inputs.get("code", "")
        if "rewritten_code" in system:
            self.problems.append(inputs["problem"])
            told = self.learn and "failed the project's tests" in inputs["problem"]
            body = self._swapped(code.replace(self.bug, self.right if told else self.wrong))
            return reply(title="Add, not subtract", steps=["use +"], rewritten_code=body)
        if "fixed_code" in system:
            return reply(fixed_code=self._swapped(code.replace(self.bug, self.repair)))
        return self.other(inputs)

    def other(self, inputs: dict[str, str]) -> str:
        raise AssertionError(f"not a repair or a plan: {sorted(inputs)}")

    def _swapped(self, code: str) -> str:
        for old, new in self.swaps.items():
            code = code.replace(old, new)
        return code
