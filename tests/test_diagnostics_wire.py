"""Published diagnostics are built once per finding and reused: what goes on the wire must be
exactly what lsprotocol's converter makes of the finding at the current document version."""

from __future__ import annotations

import json

from lsprotocol import types
from lsprotocol.converters import get_converter

from dspy_lsp.analyzers.engine import analyze_source
from dspy_lsp.server.lsp.convert import PositionCodec, to_diagnostic
from dspy_lsp.server.lsp.diagnostics_wire import DiagnosticsWire

UTF16 = types.PositionEncodingKind.Utf16
URI = "file:///ws/mod.py"
TEXT = (
    "def load(path, seen=[]):\n    label = '🐍🐍'; ok = path == None\n    return ok, label, seen\n"
)


def expected(text: str, version: int | None) -> list[dict]:
    codec = PositionCodec(text, UTF16)
    findings = analyze_source(text).findings
    return [get_converter().unstructure(to_diagnostic(f, codec, version)) for f in findings]


def test_the_wire_form_is_the_converters_at_each_version() -> None:
    wire = DiagnosticsWire(get_converter())
    findings = analyze_source(TEXT).findings
    assert len(findings) == 2
    first = wire.params(URI, findings, TEXT, UTF16, 3)
    second = wire.params(URI, analyze_source(TEXT).findings, TEXT, UTF16, 4)
    assert first == {"uri": URI, "version": 3, "diagnostics": expected(TEXT, 3)}
    assert second == {"uri": URI, "version": 4, "diagnostics": expected(TEXT, 4)}
    # the UTF-16 column of `path == None`, after two astral characters (two units each)
    assert (
        second["diagnostics"][1]["range"]["start"]["character"]
        == TEXT.splitlines()[1].index("path ==") + 2
    )
    assert first["diagnostics"][0]["data"]["document_version"] == 3  # not shared, not mutated
    json.dumps(second)


def test_a_changed_finding_is_converted_again_and_a_gone_one_is_dropped() -> None:
    wire = DiagnosticsWire(get_converter())
    wire.params(URI, analyze_source(TEXT).findings, TEXT, UTF16, 1)
    edited = "\n\n" + TEXT.replace("seen=[]", "seen=None")
    after = wire.params(URI, analyze_source(edited).findings, edited, UTF16, 2)
    assert after["diagnostics"] == expected(edited, 2)
    assert [d["code"] for d in after["diagnostics"]] == ["DL104"]
    assert after["diagnostics"][0]["range"]["start"]["line"] == 3


def test_an_unversioned_publish_leaves_version_out() -> None:
    params = DiagnosticsWire(get_converter()).params(URI, (), "", UTF16, None)
    assert params == {"uri": URI, "diagnostics": []}
