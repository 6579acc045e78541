"""The DSPy modules the server runs, with a version id derived from their state."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import dspy

from .signatures import SIGNATURE_VERSION, AnalyzeChunk, PlanRefactor


class ChunkAnalyzer(dspy.Module):
    def __init__(self) -> None:
        super().__init__()
        self.analyze = dspy.Predict(AnalyzeChunk)

    def forward(self, code: str, context: str, rule_findings: str) -> dspy.Prediction:
        return self.analyze(code=code, context=context, rule_findings=rule_findings)

    async def aforward(self, code: str, context: str, rule_findings: str) -> dspy.Prediction:
        return await self.analyze.acall(code=code, context=context, rule_findings=rule_findings)


class RefactorPlanner(dspy.Module):
    def __init__(self) -> None:
        super().__init__()
        self.plan = dspy.Predict(PlanRefactor)

    def forward(self, code: str, problem: str, context: str) -> dspy.Prediction:
        return self.plan(code=code, problem=problem, context=context)

    async def aforward(self, code: str, problem: str, context: str) -> dspy.Prediction:
        return await self.plan.acall(code=code, problem=problem, context=context)


def program_version(name: str, program: dspy.Module) -> str:
    """``name@<hash of state>``: the same instructions and demos always give the same id."""
    state = program.dump_state()
    state.pop("metadata", None)  # dependency versions would change the id without a new prompt
    raw = json.dumps([SIGNATURE_VERSION, state], sort_keys=True, default=str)
    return f"{name}@{hashlib.sha256(raw.encode()).hexdigest()[:12]}"


def build(kind: str, state: dict[str, Any] | None = None) -> dspy.Module:
    """A fresh program of ``kind`` ("analyze" or "plan"), with optimized ``state`` if given."""
    program: dspy.Module = ChunkAnalyzer() if kind == "analyze" else RefactorPlanner()
    if state:
        program.load_state(state)
    return program
