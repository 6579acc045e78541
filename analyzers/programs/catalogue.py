"""The catalogue of program kinds: for each, how it is built, asked, scored and saved.

``optimize`` and ``evaluate`` read everything kind-specific from here; a new kind is one entry.
Inputs come from ``inputs`` through the datasets, so a kind is trained on the prompt it is
served with.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from statistics import fmean
from typing import Any

import dspy

from ..learning.dspy_glue import (
    Metric,
    analysis_devset,
    analysis_metric,
    bug_details,
    chain_devset,
    chain_metric,
    plan_devset,
    plan_metric,
    predicted,
    repair_devset,
    repair_metric,
    rewritten,
)
from ..learning.metrics import score_findings, score_plan, total
from .artifact import parse_state
from .chain import AnalyzeThenPlan
from .kinds import ProgramKind
from .modules import build
from .signatures import AnalyzeUnit, PlanRefactor, RepairUnit

States = Mapping[str, dict[str, Any] | None]
Outputs = list[tuple[Any, dspy.Prediction]]
"""(the labelled example, the program's prediction) of each example scored."""
Devset = Callable[[Sequence[Any]], list[dspy.Example]]
Details = Callable[[Outputs], dict[str, float]]


@dataclass(frozen=True)
class ProgramSpec:
    kind: ProgramKind
    signatures: tuple[type[dspy.Signature], ...]
    """Of its predictors, in order."""
    program: Callable[[States], dspy.Module]
    """A fresh program from the active states of the served kinds (built-in where none)."""
    devset: Devset
    """Labelled examples as the program's inputs (built by ``inputs``) and gold."""
    metric: Metric
    details: Details
    """The figures ``Evaluation.details`` reports besides the metric's mean."""
    saved: Callable[[dspy.Module], dict[str, dict[str, Any]]]
    """The states a trained program leaves, by served kind, in the artifact contract's form."""


def _finding_details(outputs: Outputs) -> dict[str, float]:
    """Micro precision, recall and F1, and F1 with dismissed findings counted twice."""
    overall = total(score_findings(gold, predicted(pred)) for gold, pred in outputs)
    return {
        "precision": overall.precision,
        "recall": overall.recall,
        "f1": overall.f1,
        "penalised_f1": overall.score,
    }


def _rewrite_details(outputs: Outputs) -> dict[str, float]:
    """Mean parses and closeness, and resolves where a rule can tell."""
    plans = [score_plan(gold, rewritten(pred)) for gold, pred in outputs]
    details = {
        "parses": fmean(float(p.parses) for p in plans) if plans else 0.0,
        "closeness": fmean(p.closeness for p in plans) if plans else 0.0,
    }
    checked = [float(p.resolves) for p in plans if p.resolves is not None]
    if checked:
        details["resolves"] = fmean(checked)
    return details


def json_state(kind: str, program: dspy.Module) -> dict[str, Any]:
    """``dump_state`` in the artifact contract's form, demos cut to their predictor's fields
    (the gold example stays out of the artifact). Demos with none of its outputs go: the adapter
    skips them, and labelled examples of the chain give the analyzer such demos."""
    state = program.dump_state()
    for name, predictor in program.named_predictors():
        keep = {*predictor.signature.fields, "augmented"}
        state[name]["demos"] = [
            {key: value for key, value in demo.items() if key in keep}
            for demo in state[name]["demos"]
            if any(key in demo for key in predictor.signature.output_fields)
        ]
    return parse_state(kind, json.loads(json.dumps(state))).dump()


def _built(kind: ProgramKind, states: States) -> dspy.Module:
    return build(kind, states.get(kind))


def _saved(kind: ProgramKind, trained: dspy.Module) -> dict[str, dict[str, Any]]:
    return {kind.value: json_state(kind, trained)}


def _served(
    kind: ProgramKind,
    signature: type[dspy.Signature],
    *,
    devset: Devset,
    metric: Metric,
    details: Details,
) -> ProgramSpec:
    """A kind the server runs: one predictor, built from its own active state and saved as it."""
    return ProgramSpec(
        kind=kind,
        signatures=(signature,),
        program=partial(_built, kind),
        devset=devset,
        metric=metric,
        details=details,
        saved=partial(_saved, kind),
    )


def _chain(states: States) -> dspy.Module:
    return AnalyzeThenPlan(_built(ProgramKind.ANALYZE, states), _built(ProgramKind.PLAN, states))


def _chain_saved(trained: dspy.Module) -> dict[str, dict[str, Any]]:
    assert isinstance(trained, AnalyzeThenPlan)
    return {
        **_saved(ProgramKind.ANALYZE, trained.analyzer),
        **_saved(ProgramKind.PLAN, trained.planner),
    }


CATALOGUE: dict[ProgramKind, ProgramSpec] = {
    entry.kind: entry
    for entry in (
        _served(
            ProgramKind.ANALYZE,
            AnalyzeUnit,
            devset=analysis_devset,
            metric=analysis_metric,
            details=_finding_details,
        ),
        _served(
            ProgramKind.PLAN,
            PlanRefactor,
            devset=plan_devset,
            metric=plan_metric,
            details=_rewrite_details,
        ),
        _served(
            ProgramKind.REPAIR,
            RepairUnit,
            devset=repair_devset,
            metric=repair_metric(3),
            details=bug_details,
        ),
        ProgramSpec(
            kind=ProgramKind.CHAIN,
            signatures=(AnalyzeUnit, PlanRefactor),
            program=_chain,
            devset=chain_devset,
            metric=chain_metric,
            details=_rewrite_details,
            saved=_chain_saved,
        ),
    )
}


def spec(kind: str) -> ProgramSpec:
    """The catalogue entry of ``kind`` (a ``ProgramKind`` or its name)."""
    return CATALOGUE[ProgramKind(kind)]
