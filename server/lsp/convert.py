"""Findings and fixes to LSP types and back; the one place that knows about position encodings.

Analyzer spans count code points on LSP lines; clients count UTF-16 units (the default), UTF-8
bytes or code points, as negotiated at ``initialize``.
"""

from __future__ import annotations

from lsprotocol import types

from ...analyzers.models import Edit, Finding, Position, Severity, Span
from ...analyzers.rule_docs import rule_doc_url
from ...analyzers.source import LineIndex
from .constants import SOURCE
from .diagnostic_data import DiagnosticData

_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
    Severity.HINT: types.DiagnosticSeverity.Hint,
}


def _units(text: str, encoding: str) -> int:
    if encoding == types.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8", "surrogatepass"))
    if encoding == types.PositionEncodingKind.Utf32:
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class PositionCodec:
    """Converts positions of one text between code points and the client's units."""

    def __init__(self, text: str, encoding: str) -> None:
        self.index = LineIndex(text)
        self.encoding = encoding

    def to_client(self, pos: Position) -> types.Position:
        line_text = self.index.line_text(pos.line)
        return types.Position(
            line=pos.line, character=_units(line_text[: pos.column], self.encoding)
        )

    def from_client(self, pos: types.Position) -> Position:
        line_text = self.index.line_text(pos.line)
        if self.encoding == types.PositionEncodingKind.Utf32:
            return Position(line=pos.line, column=min(pos.character, len(line_text)))
        units = 0
        for column, char in enumerate(line_text):
            if units >= pos.character:
                return Position(line=pos.line, column=column)
            units += _units(char, self.encoding)
        return Position(line=pos.line, column=len(line_text))

    def range(self, span: Span) -> types.Range:
        return types.Range(start=self.to_client(span.start), end=self.to_client(span.end))

    def span(self, rng: types.Range) -> Span:
        return Span(start=self.from_client(rng.start), end=self.from_client(rng.end))

    def text_edit(self, edit: Edit) -> types.TextEdit:
        return types.TextEdit(range=self.range(edit.span), new_text=edit.new_text)


def to_diagnostic(
    finding: Finding, codec: PositionCodec, document_version: int | None
) -> types.Diagnostic:
    return types.Diagnostic(
        range=codec.range(finding.span),
        message=finding.message,
        severity=_SEVERITY[finding.severity],
        code=finding.rule,
        code_description=types.CodeDescription(href=rule_doc_url(finding.rule)),
        source=SOURCE,
        data=DiagnosticData.of(finding, document_version).encode(),
    )


def text_document_edit(
    uri: str,
    document_version: int | None,
    edits: list[types.TextEdit],
    document_changes: bool,
) -> types.WorkspaceEdit:
    """A workspace edit for one document, versioned when the client supports documentChanges."""
    if document_changes:
        return types.WorkspaceEdit(
            document_changes=[
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(
                        uri=uri, version=document_version
                    ),
                    edits=list(edits),
                )
            ]
        )
    return types.WorkspaceEdit(changes={uri: list(edits)})
