"""``diagnostic.data`` and the plan request: encoded exactly, and anything else decodes to None."""

from __future__ import annotations

import json

import pytest
from lsprotocol import types
from lsprotocol.converters import get_converter

from dspy_lsp.analyzers.engine import analyze_source
from dspy_lsp.analyzers.models import Finding
from dspy_lsp.server.lsp.convert import PositionCodec, to_diagnostic
from dspy_lsp.server.lsp.diagnostic_data import DiagnosticData, PlanRequest

TEXT = "def load(path):\n    if path == None:\n        return {}\n    return path\n"
URI = "file:///ws/mod.py"


def finding() -> Finding:
    (found,) = (f for f in analyze_source(TEXT).findings if f.rule == "DL104")
    assert found.fix is not None
    return found


def over_the_wire(diagnostic: types.Diagnostic) -> types.Diagnostic:
    """The diagnostic as a client echoes it in a code action request."""
    converter = get_converter()
    raw = json.loads(json.dumps(converter.unstructure(diagnostic)))
    return converter.structure(raw, types.Diagnostic)


def published(found: Finding, version: int | None = 7) -> types.Diagnostic:
    return to_diagnostic(found, PositionCodec(TEXT, types.PositionEncodingKind.Utf16), version)


def test_published_data_decodes_to_the_finding_it_was_built_from() -> None:
    found = finding()
    data = DiagnosticData.from_diagnostic(over_the_wire(published(found)))
    assert data == DiagnosticData.of(found, 7)
    assert data is not None and data.fix == found.fix
    assert (data.finding_id, data.origin, data.line) == (found.id, "rule", 1)


def test_the_encoding_is_exact() -> None:
    data = DiagnosticData.of(finding(), None)
    encoded = data.encode()
    assert set(encoded) == {
        "finding_id",
        "rule",
        "origin",
        "document_version",
        "line",
        "rationale",
        "fix",
        "rank",
        "confidence",
    }
    assert DiagnosticData.decode(json.loads(json.dumps(encoded))) == data


def _valid() -> dict[str, object]:
    return DiagnosticData.of(finding(), 7).encode()


@pytest.mark.parametrize(
    "data",
    [
        None,
        "finding-id",
        42,
        [],
        {},
        {"finding_id": "x"},
        {**_valid(), "line": "two"},
        {**_valid(), "fix": {"title": "broken"}},
        {**_valid(), "added_by_the_client": True},
    ],
)
def test_garbage_data_decodes_to_none(data: object) -> None:
    diagnostic = published(finding())
    diagnostic.data = data
    assert DiagnosticData.from_diagnostic(diagnostic) is None


def test_another_servers_diagnostic_decodes_to_none_even_with_our_shape() -> None:
    diagnostic = published(finding())
    diagnostic.source = "pyright"
    assert DiagnosticData.from_diagnostic(diagnostic) is None


def test_a_plan_request_round_trips_and_is_found_among_command_arguments() -> None:
    request = PlanRequest(uri=URI, finding=finding())
    wire = json.loads(json.dumps(request.encode()))
    assert PlanRequest.decode(wire) == request
    assert PlanRequest.from_args(["other", {"uri": URI}, wire]) == request


@pytest.mark.parametrize("data", [None, {"plan": {}}, {"uri": URI}, "x"])
def test_a_code_action_without_a_plan_request_decodes_to_none(data: object) -> None:
    assert PlanRequest.decode(data) is None


def test_a_plan_command_without_its_request_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="needs the action's plan payload"):
        PlanRequest.from_args([URI])
