"""The "Dismiss…" code action (``actions.dismiss = "menu"``): one per finding instead of one per
way of dismissing it.

Its command asks which dismissal with ``window/showMessageRequest``, which every LSP client
answers with its own UI (buttons in VS Code, a list in Neovim and Emacs), so no client needs
anything of ours. The answer then does what the separate actions do: a false positive gets the
suppression comment (sent with ``workspace/applyEdit``), "not now" hides the finding for the
session, and either is recorded as the same feedback event. The action carries all of it, so
no server state is needed between listing and picking.
"""

from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types

from ...analyzers.models import Edit
from .constants import CMD_DISMISS
from .convert import PositionCodec, text_document_edit
from .diagnostic_data import _Wire
from .feedback import FeedbackPayload

FALSE_POSITIVE = "False positive: suppress on this line"
NOT_NOW = "Not now: hide this session"


class DismissMenu(_Wire):
    """The "Dismiss…" action's argument: the finding's dismissals, ready to run."""

    uri: str
    document_version: int | None
    """The version the suppression edit was made for."""
    rule: str
    message: str
    suppress: Edit | None
    """The suppression comment; None where no comment can keep the code's meaning."""
    false_positive: FeedbackPayload | None
    later: FeedbackPayload

    def action(self, diagnostic: types.Diagnostic) -> types.CodeAction:
        title = f"Dismiss {self.rule}…"
        return types.CodeAction(
            title=title,
            kind=types.CodeActionKind.QuickFix,
            diagnostics=[diagnostic],
            command=types.Command(title=title, command=CMD_DISMISS, arguments=[self.encode()]),
        )

    def question(self) -> types.ShowMessageRequestParams:
        choices = [FALSE_POSITIVE] if self.suppress is not None and self.false_positive else []
        return types.ShowMessageRequestParams(
            type=types.MessageType.Info,
            message=f"Dismiss {self.rule}: {self.message}",
            actions=[types.MessageActionItem(title=title) for title in (*choices, NOT_NOW)],
        )

    def suppression(
        self, text: str, version: int | None, encoding: str, document_changes: bool
    ) -> types.WorkspaceEdit | None:
        """The suppression comment as an edit of ``text``; None if the document moved on."""
        if self.suppress is None or version != self.document_version:
            return None
        codec = PositionCodec(text, encoding)
        return text_document_edit(
            self.uri, version, [codec.text_edit(self.suppress)], document_changes
        )

    @classmethod
    def from_args(cls, args: Sequence[object]) -> DismissMenu:
        for arg in args:
            menu = cls.decode(arg)
            if menu is not None:
                return menu
        raise ValueError(f"{CMD_DISMISS} needs the action's dismiss payload")
