"""The boundary models are frozen and survive a JSON round trip unchanged."""

from __future__ import annotations

import pydantic
import pytest

from dspy_lsp.analyzers.engine import analyze_source
from dspy_lsp.analyzers.models import Edit, Finding, RefactorPlan, Span


def test_findings_round_trip_through_json() -> None:
    findings = analyze_source("def f(a=[]):\n    if a == None:\n        return a\n").findings
    assert len(findings) == 2
    for finding in findings:
        assert Finding.model_validate_json(finding.model_dump_json()) == finding


def test_refactor_plan_round_trips_and_is_frozen() -> None:
    plan = RefactorPlan(
        title="Extract helper",
        steps=("move the loop", "call it"),
        edits=(Edit(span=Span.of(0, 0, 1, 4), new_text="x = 1\n"),),
        verified=True,
    )
    assert RefactorPlan.model_validate_json(plan.model_dump_json()) == plan
    with pytest.raises(pydantic.ValidationError):
        plan.title = "changed"  # type: ignore[misc]


def test_span_rejects_an_end_before_its_start() -> None:
    with pytest.raises(pydantic.ValidationError):
        Span.of(3, 0, 2, 0)
