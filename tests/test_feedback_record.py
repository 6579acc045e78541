"""One feedback record at every edge: the command's payload, the store's row, the dataset."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest

from dspy_lsp.analyzers.engine import analyze_source
from dspy_lsp.analyzers.learning.examples import Label
from dspy_lsp.analyzers.learning.records import FeedbackEvent, FeedbackKind, FeedbackRecord
from dspy_lsp.analyzers.units import split_units
from dspy_lsp.server.cli.training_data import gather
from dspy_lsp.server.lsp.feedback import (
    FeedbackPayload,
    FeedbackRecorder,
    payload_for,
    payloads_from_args,
)
from dspy_lsp.server.settings import FeedbackSettings
from dspy_lsp.server.store.feedback_store import FeedbackStore

URI = "file:///ws/pkg/mod.py"
TEXT = (
    "import json\n\n\ndef load(path):\n    if path == None:\n        return {}\n    return path\n"
)
FIXED = TEXT.replace("path == None", "path is None")


def accepted_fix() -> FeedbackPayload:
    """The payload the quick fix for ``== None`` carries, as the server builds it."""
    (finding,) = (f for f in analyze_source(TEXT).findings if f.rule == "DL104")
    return payload_for(
        kind=FeedbackKind.ACCEPTED,
        action_kind="quickfix",
        uri=URI,
        finding=finding,
        units=split_units(TEXT),
        text_after=FIXED,
    )


def over_the_wire(payload: FeedbackPayload) -> list[object]:
    """The command's arguments as the client sends them back: JSON, not Python objects."""
    return json.loads(json.dumps(payload.command().arguments))


def record_fields(record: FeedbackRecord) -> dict[str, object]:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(FeedbackRecord)}


def stored_event(tmp_path: Path, payload: FeedbackPayload) -> tuple[Path, FeedbackEvent]:
    """Record ``payload`` as the server does (decoded from the wire) and read it back."""
    path = tmp_path / "feedback.sqlite3"
    recorder = FeedbackRecorder(lambda message, _: pytest.fail(message), clock=lambda: 42.0)
    settings = FeedbackSettings(path=str(path))
    ids = recorder.record(payloads_from_args(over_the_wire(payload)), settings, tmp_path, _rel)
    recorder.close()
    assert len(ids) == 1
    with FeedbackStore(path, environ={}) as store:
        (stored,) = store.events()
    return path, stored.event


def _rel(uri: str) -> str:
    return uri.removeprefix("file:///ws/")


def test_the_payload_decodes_from_the_wire_unchanged() -> None:
    payload = accepted_fix()
    assert payloads_from_args(over_the_wire(payload)) == [payload]


def test_the_store_row_is_the_record_plus_where_and_when(tmp_path: Path) -> None:
    payload = accepted_fix()
    _, event = stored_event(tmp_path, payload)
    assert record_fields(event) == record_fields(payload)
    assert (event.path, event.created) == ("pkg/mod.py", 42.0)
    assert event.kind is FeedbackKind.ACCEPTED


def test_the_export_reads_back_as_the_stored_event(tmp_path: Path) -> None:
    path, event = stored_event(tmp_path, accepted_fix())
    out = io.StringIO()
    with FeedbackStore(path, environ={}) as store:
        store.export_jsonl(out)
    row = json.loads(out.getvalue())
    assert row.pop("id") == 1
    assert FeedbackEvent(**row) == event


def test_the_dataset_learns_the_record_the_editor_sent(tmp_path: Path) -> None:
    payload = accepted_fix()
    path, _ = stored_event(tmp_path, payload)
    data = gather(store_path=path, workspace=tmp_path, rule_examples=False, mutations=False)
    (example,) = [*data.analysis.train, *data.analysis.dev]
    (plan,) = [*data.plans.train, *data.plans.dev]
    assert (example.code, example.context) == (payload.code, payload.context)
    assert payload.line is not None and payload.message is not None
    assert example.positives == (
        Label(payload.line, payload.line, "bug", rule="DL104", message=payload.message),
    )
    assert (plan.code, plan.gold_rewrite) == (payload.code, payload.edit)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "liked"}, "unknown feedback kind"),
        ({"rule": ""}, "non-empty rule"),
        ({"uri": None}, "uri"),
    ],
)
def test_a_malformed_payload_is_refused_whole(change: dict[str, object], message: str) -> None:
    (arg,) = over_the_wire(accepted_fix())
    assert isinstance(arg, dict)
    with pytest.raises(ValueError, match=message):
        payloads_from_args([{**arg, **change}])
