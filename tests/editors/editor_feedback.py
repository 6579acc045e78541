"""The feedback events an editor run left in the store, as the server recorded them.

Clients send ``dspy-lsp.feedback`` after applying an action's edit, without waiting for the
answer, so a test polls the store for a few seconds instead of reading it once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from dspy_lsp.analyzers.learning.records import FeedbackEvent
from dspy_lsp.server.store.feedback_store import FeedbackStore

POLL_S = 5.0


def wait_for_events(
    path: Path, ready: Callable[[list[FeedbackEvent]], bool], timeout_s: float = POLL_S
) -> list[FeedbackEvent]:
    """The store's events once ``ready`` holds for them, or whatever is there at the deadline."""
    deadline = time.monotonic() + timeout_s
    events: list[FeedbackEvent] = []
    while True:
        if path.is_file():  # opening a missing path would create an empty store
            with FeedbackStore(path) as store:
                events = [stored.event for stored in store.events()]
            if ready(events):
                return events
        if time.monotonic() >= deadline:
            return events
        time.sleep(0.1)


def quick_fixes(events: list[FeedbackEvent]) -> list[FeedbackEvent]:
    return [e for e in events if e.kind == "accepted" and e.action_kind == "quickfix"]
