"""Diagnostics as the JSON that goes on the wire, each finding converted once while it stays
published.

Unchanged statements hand back the very same ``Finding`` objects from the analysis caches, so a
finding seen in the last publish of a document reuses its wire form; only ``data`` is copied, to
carry the new document version. Building ``lsprotocol`` objects and unstructuring them for all
of a file's findings on every keystroke cost as much as analysing the edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cattrs import Converter

from ...analyzers.models import Finding
from .convert import PositionCodec, to_diagnostic

Wire = dict[str, Any]


class DiagnosticsWire:
    """Per document, the wire form of each finding it last published. Entries hold their
    finding, so an ``id`` is never reused while it is a key."""

    def __init__(self, converter: Converter) -> None:
        self._converter = converter
        self._published: dict[str, dict[int, tuple[Finding, Wire]]] = {}

    def params(
        self,
        uri: str,
        findings: Sequence[Finding],
        text: str,
        encoding: str,
        document_version: int | None,
    ) -> Wire:
        """``PublishDiagnosticsParams`` for ``findings`` on ``text``, ready for ``json.dumps``."""
        previous = self._published.get(uri, {})
        current: dict[int, tuple[Finding, Wire]] = {}
        codec: PositionCodec | None = None
        diagnostics = []
        for finding in findings:
            entry = previous.get(id(finding))
            if entry is None or entry[0] is not finding:
                codec = codec or PositionCodec(text, encoding)
                entry = (finding, self._converter.unstructure(to_diagnostic(finding, codec, None)))
            current[id(finding)] = entry
            wire = entry[1]
            diagnostics.append(
                {**wire, "data": {**wire["data"], "document_version": document_version}}
            )
        self._published[uri] = current
        params: Wire = {"uri": uri, "diagnostics": diagnostics}
        if document_version is not None:
            params["version"] = document_version
        return params

    def published(self, uri: str) -> list[Wire]:
        """The diagnostics last published for ``uri``, in their wire form (hover reads them)."""
        return [wire for _, wire in self._published.get(uri, {}).values()]

    def forget(self, uri: str) -> None:
        self._published.pop(uri, None)
