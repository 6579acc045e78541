"""The DSPy modules the server runs, with a version id derived from their state."""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar

import dspy

from ..neighbours import without_neighbours
from ..repair_claims import Hunk, offerable, repair_hunks
from .artifact import ArtifactError, ProgramState, parse_state
from .inputs import NO_CONTEXT
from .kinds import ProgramKind
from .signatures import (
    SIGNATURE_VERSION,
    AnalyzeUnit,
    Findings,
    PlanRefactor,
    RepairFinding,
    RepairUnit,
)


class _OnePredictor(dspy.Module):
    """One ``dspy.Predict`` under a fixed attribute name: saved artifacts key their state by it.

    Called with the keyword arguments ``inputs`` builds for ``kind``, never hand-made ones.
    """

    kind: ClassVar[ProgramKind]
    signature: ClassVar[type[dspy.Signature]]
    predictor_name: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        setattr(self, self.predictor_name, dspy.Predict(self.signature))

    def _predictor(self) -> dspy.Predict:
        predictor: dspy.Predict = getattr(self, self.predictor_name)
        return predictor

    def forward(self, **inputs: str) -> dspy.Prediction:
        return self._predictor()(**inputs)

    async def aforward(self, **inputs: str) -> dspy.Prediction:
        return await self._predictor().acall(**inputs)


class UnitAnalyzer(_OnePredictor):
    """Called with ``inputs.analyze_inputs``."""

    kind = ProgramKind.ANALYZE
    signature = AnalyzeUnit
    predictor_name = "analyze"


class RefactorPlanner(_OnePredictor):
    """Called with ``inputs.plan_inputs``; ``verified_plan`` asks it until a plan verifies."""

    kind = ProgramKind.PLAN
    signature = PlanRefactor
    predictor_name = "plan"


class UnitRepairer(_OnePredictor):
    """Called with ``inputs.repair_inputs``. Finds bugs by asking for the unit fixed: its
    ``findings`` are the hunks the repair changed (``repair_claims``), smallest first, beside
    the repair itself (``fixed_code``)."""

    kind = ProgramKind.REPAIR
    signature = RepairUnit
    predictor_name = "repair"

    def forward(self, **inputs: str) -> dspy.Prediction:
        return _with_findings(inputs, self._predictor()(**inputs))

    async def aforward(self, **inputs: str) -> dspy.Prediction:
        return _with_findings(inputs, await self._predictor().acall(**inputs))


def _with_findings(inputs: dict[str, str], repair: dspy.Prediction) -> dspy.Prediction:
    code, fixed = inputs["code"], str(repair.get("fixed_code") or "")
    context = "" if inputs["context"] == NO_CONTEXT else without_neighbours(inputs["context"])
    hunks = repair_hunks(code, fixed)
    findings = Findings(
        _finding(hunk, len(hunks), offerable(code, context, hunk)) for hunk in hunks
    )
    return dspy.Prediction(fixed_code=fixed, findings=findings)


def _finding(hunk: Hunk, hunks: int, offered: bool) -> RepairFinding:
    """A hunk as a finding, with its lines as the fix when they stand alone. Its confidence is
    its share of the repair: a repair that changes one place is surer of it than one that
    changes three."""
    elsewhere = f", and {hunks - 1} other place(s)" if hunks > 1 else ""
    return RepairFinding(
        line=hunk.line,
        end_line=hunk.end_line,
        category="bug",
        severity="warning",
        message=hunk.message,
        rationale=f"Asked to fix this code, the model changed these lines{elsewhere}.",
        confidence=round(1 / hunks, 2),
        replacement=hunk.replacement if offered else "",
    )


def program_version(name: str, program: dspy.Module) -> str:
    """``name@<hash of state>``: the same instructions and demos always give the same id."""
    state = program.dump_state()
    state.pop("metadata", None)  # dependency versions would change the id without a new prompt
    raw = json.dumps([SIGNATURE_VERSION, state], sort_keys=True, default=str)
    return f"{name}@{hashlib.sha256(raw.encode()).hexdigest()[:12]}"


SERVED_PROGRAMS: dict[str, type[_OnePredictor]] = {
    program.kind: program for program in (UnitAnalyzer, RefactorPlanner, UnitRepairer)
}


def build(kind: str, state: dict[str, Any] | None = None) -> dspy.Module:
    """A fresh program of a served ``kind``, with optimized ``state`` if given.

    ``state`` is data (see ``artifact``): a state that breaks the contract, or does not fit the
    signatures, raises ``ArtifactError``; only its checked prompt parts reach dspy.
    """
    program: dspy.Module = SERVED_PROGRAMS[kind]()
    if state:
        program.load_state(_fitted(program, parse_state(kind, state)))
    return program


def _fitted(program: dspy.Module, state: ProgramState) -> dict[str, Any]:
    """What ``load_state`` gets: demos may only name fields of their predictor's signature."""
    loadable: dict[str, Any] = {}
    for name, predictor in program.named_predictors():
        saved = state.predictors[name]
        fields = predictor.signature.fields
        if len(saved.signature.fields) > len(fields):
            raise ArtifactError(
                f"{name}.signature.fields: {len(saved.signature.fields)} saved, "
                f"but the signature has {len(fields)}"
            )
        for index, demo in enumerate(saved.demos):
            if unknown := sorted(set(demo) - {*fields, "augmented"}):
                raise ArtifactError(f"{name}.demos.{index}.{unknown[0]}: not a field of {name}")
        # dspy requires the key; None leaves the predictor on the LM of the caller's context.
        loadable[name] = {**saved.dump(), "lm": None}
    return loadable
