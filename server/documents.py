"""pygls documents that split lines the way LSP does.

pygls splits with ``str.splitlines``, which also breaks at form feeds, ``\\x1c``-``\\x1e``,
``\\x85`` and ``\\u2028``; an incremental edit after such a character would land on the wrong
line. These subclasses keep pygls' sync logic and fix only the line table it uses.
"""

from __future__ import annotations

from collections.abc import Sequence

from pygls.workspace import TextDocument, Workspace

from ..analyzers.lines import split_lines


class LspTextDocument(TextDocument):
    @property
    def lines(self) -> Sequence[str]:
        return tuple(split_lines(self.source))


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
