"""The fix loop's attempts written to the project's feedback store from the shell.

The editor records through its ``FeedbackRecorder`` (held events, one notice); a ``fix`` run is
one process that ends soon, so a store it cannot open or write is said once on stderr and the
run goes on: the fixes matter more than their record.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ...analyzers.learning.records import FeedbackEvent, FeedbackRecord
from ..settings import FeedbackSettings
from ..store.feedback_backend import FeedbackBackend, feedback_choice, open_feedback_store
from ..store.feedback_store import FeedbackStoreError, default_store_path
from ..store.store_choice import LOCAL

if TYPE_CHECKING:
    from ..settings_model import Settings


class AttemptRecorder:
    def __init__(
        self, project: Path, settings: FeedbackSettings, whole: Settings | None = None
    ) -> None:
        """Records into the project's store: the team store when ``whole`` (the resolved
        settings) names one with ``store.url``, else ``feedback.path`` or the per-user file."""
        self._store: FeedbackBackend | None = None
        self.recorded = 0
        if not settings.enabled:
            return
        path = Path(settings.path) if settings.path else default_store_path(project)
        choice, user = feedback_choice(whole, project) if whole is not None else (LOCAL, None)
        try:
            self._store = open_feedback_store(choice, path, _warn, user=user)
        except FeedbackStoreError as exc:
            self._fail(exc)

    def record(self, relative: str, records: Sequence[FeedbackRecord]) -> None:
        """Store ``records`` (about the file at project-relative ``relative``)."""
        for record in records:
            if self._store is None:
                return
            try:
                self._store.record(FeedbackEvent.of(record, path=relative, created=time.time()))
            except FeedbackStoreError as exc:
                self._fail(exc)
                return
            self.recorded += 1

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _fail(self, exc: FeedbackStoreError) -> None:
        print(f"dspy-lsp: warning: the fix attempts are not recorded: {exc}", file=sys.stderr)
        self.close()


def _warn(message: str) -> None:
    print(f"dspy-lsp: warning: {message.removeprefix('dspy-lsp: ')}", file=sys.stderr)
