"""pygls documents that split lines the way LSP does.

pygls splits with ``str.splitlines``, which also breaks at form feeds, ``\\x1c``-``\\x1e``,
``\\x85`` and ``\\u2028``; an incremental edit after such a character would land on the wrong
line. And it moves a position past the end of a line to one character before the end, where
LSP says the end. These subclasses keep pygls' sync logic and fix only those two things.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from lsprotocol import types
from pygls.workspace import TextDocument, Workspace

from ...analyzers.lines import split_lines, strip_newline


class LspTextDocument(TextDocument):
    @property
    def lines(self) -> Sequence[str]:
        return tuple(split_lines(self.source))

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        lines = self.lines
        start, end = (self._clamped(lines, p) for p in (change.range.start, change.range.end))
        super()._apply_incremental_change(
            types.TextDocumentContentChangePartial(
                range=types.Range(start=start, end=end), text=change.text
            )
        )

    def _clamped(self, lines: Sequence[str], position: types.Position) -> types.Position:
        """A character past the end of its line means the end of the line (LSP 3.17)."""
        if position.line >= len(lines):
            return position
        length = self.position_codec.client_num_units(strip_newline(lines[position.line]))
        return types.Position(line=position.line, character=min(position.character, length))


class LspWorkspace(Workspace):
    def _create_text_document(
        self,
        doc_uri: str,
        source: str | None = None,
        version: int | None = None,
        language_id: str | None = None,
    ) -> TextDocument:
        return LspTextDocument(
            doc_uri,
            source=source,
            version=version,
            language_id=language_id,
            sync_kind=self._sync_kind,
            position_codec=self._position_codec,
        )

    @classmethod
    def replacing(cls, workspace: Workspace) -> LspWorkspace:
        """A copy of the freshly initialised workspace pygls built, with our document class."""
        return cls(
            workspace.root_uri,
            workspace._sync_kind,
            list(workspace.folders.values()),
            workspace.position_encoding,
        )


@dataclass(frozen=True)
class Fingerprint:
    """The server's copy of a document, summarised without its content: compare it with the
    editor's buffer to tell a sync bug from an analysis bug."""

    version: int | None
    chars: int
    sha256: str


def fingerprint(document: TextDocument) -> Fingerprint:
    source = document.source
    digest = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
    return Fingerprint(version=document.version, chars=len(source), sha256=digest)
