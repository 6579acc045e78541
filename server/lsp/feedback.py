"""The ``dspy-lsp.feedback`` command: what travels with each code action, and recording it.

Feedback is protocol, not telemetry: every code action carries this command next to its edit,
and the client runs it after applying the edit, so "accepted" means applied. The payload holds
all an event needs (the finding, its unit before and after), so recording needs no server state
and survives a server restart between listing an action and running it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pydantic import TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

from ...analyzers.learning.records import (
    FeedbackEvent,
    FeedbackKind,
    FeedbackRecord,
    record_fields,
)
from ...analyzers.learning.sources import rule_category
from ...analyzers.models import Finding
from ...analyzers.units import Unit, place_in_unit, split_units, unit_named
from ..settings import FeedbackSettings
from ..store.feedback_backend import FeedbackBackend, feedback_choice, open_feedback_store
from ..store.feedback_store import FeedbackStoreError, default_store_path
from ..store.store_choice import LOCAL
from .constants import CMD_FEEDBACK

if TYPE_CHECKING:  # pydantic: the server answers initialize before it loads
    from ..settings_model import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class FeedbackPayload(FeedbackRecord):
    """The argument of ``dspy-lsp.feedback``: a record and the document it is about."""

    uri: str

    @classmethod
    def of(cls, record: FeedbackRecord, uri: str) -> FeedbackPayload:
        return cls(**record_fields(record), uri=uri)

    def encode(self) -> dict[str, object]:
        return _WIRE.dump_python(self, mode="json", exclude_none=True)

    def command(self, title: str = "dspy-lsp: record feedback") -> types.Command:
        return types.Command(title=title, command=CMD_FEEDBACK, arguments=[self.encode()])


_WIRE = TypeAdapter(FeedbackPayload)


def payloads_from_args(args: Sequence[object]) -> list[FeedbackPayload]:
    """The payloads of a command call; a malformed one is a clear error, not a partial record."""
    if not args:
        raise ValueError(f"{CMD_FEEDBACK} needs at least one feedback payload")
    try:
        return [_WIRE.validate_python(arg) for arg in args]
    except ValidationError as exc:
        raise ValueError(f"{CMD_FEEDBACK}: malformed payload: {exc}") from exc


def payload_for(
    *,
    kind: FeedbackKind,
    action_kind: str,
    uri: str,
    finding: Finding,
    units: Sequence[Unit],
    text_after: str | None = None,
) -> FeedbackPayload:
    """The payload for ``finding`` in a text split into ``units``; ``text_after`` = after the edit."""
    placed = place_in_unit(units, finding.span.start.line, finding.span.end.line)
    after = None
    if placed is not None and text_after is not None:
        changed = unit_named(split_units(text_after), placed.unit.qualname)
        after = changed.text if changed is not None else None
    return FeedbackPayload(
        kind=kind,
        action_kind=action_kind,
        uri=uri,
        finding_id=finding.id,
        rule=finding.rule,
        category=rule_category(finding.rule) or None,
        program_version=finding.origin,
        unit_hash=placed.unit.hash if placed else None,
        line=placed.line if placed else None,
        end_line=placed.end_line if placed else None,
        message=finding.message,
        code=placed.unit.text if placed else None,
        context=placed.unit.prompt_context if placed else None,
        edit=after,
    )


# Events held in memory while the store fails (a full disk): enough for a long session of
# actions, small beside the server (a few KB each).
MAX_HELD = 1000


class FeedbackRecorder:
    """Writes payloads to the workspace's store; off, unavailable or failing, it says so once.

    A store problem never fails the user's action: the edit is already applied, so the
    command answers normally, with the event not counted as recorded. A store that fails to
    write (a full disk, an I/O error) is shown once; the events are held in memory (up to
    ``MAX_HELD``) and written, oldest first, once a write works again, which is logged. Until
    then each new event quietly tries the oldest held one first, and is held too.
    """

    def __init__(
        self, tell: Callable[[str, bool], None], clock: Callable[[], float] = time.time
    ) -> None:
        self._tell = tell
        self._clock = clock
        self._lock = threading.Lock()
        self._store: FeedbackBackend | None = None
        self._key: tuple[object, ...] | None = None
        self._broken: tuple[object, ...] | None = None
        self._default: Path | None = None
        self._held: list[FeedbackEvent] = []
        self._failing = False
        self.recorded = 0
        self.lost = 0

    def record(
        self,
        payloads: Sequence[FeedbackPayload],
        settings: FeedbackSettings,
        root: Path,
        relative: Callable[[str], str | None],
        whole: Settings | None = None,
    ) -> list[int]:
        """Row ids of the stored events; empty when capture is off or the store is unusable.

        ``whole`` (the resolved settings) chooses the team store with ``store.url``; without
        it events go to ``feedback.path`` or the per-user file of ``root``.

        Serialised: the server records from worker threads, and threads opening the store at
        once would each open a connection, racing to create the file. SQLite then fails some
        with disk I/O errors, and a failed open turns feedback off for the session.
        """
        if not settings.enabled:
            return []
        with self._lock:
            default = Path(settings.path) if settings.path else default_store_path(root)
            store = self._open(default, root, whole)
            if store is None:
                self.lost += len(payloads)
                return []
            events = [self._event(payload, relative(payload.uri)) for payload in payloads]
            if self._failing:
                self._flush(store)
            if self._failing:
                self._hold(events)
                return []
            ids = []
            for n, event in enumerate(events):
                try:
                    ids.append(store.record(event))
                except FeedbackStoreError as exc:
                    self._failed(exc)
                    self._hold(events[n:])
                    break
                self.recorded += 1
            return ids

    def _warn(self, message: str) -> None:
        self._tell(message, True)

    def _event(self, payload: FeedbackPayload, path: str | None) -> FeedbackEvent:
        return FeedbackEvent.of(payload, path=path, created=self._clock())

    def _failed(self, exc: FeedbackStoreError) -> None:
        self._failing = True
        self._tell(
            f"dspy-lsp: {exc}. New feedback is kept in memory (up to {MAX_HELD} events) and"
            " written once the store works again.",
            True,
        )

    def _hold(self, events: Sequence[FeedbackEvent]) -> None:
        room = MAX_HELD - len(self._held)
        self._held.extend(events[:room])
        self.lost += max(0, len(events) - room)

    def _flush(self, store: FeedbackBackend) -> None:
        """Write the held events, oldest first; on the first failure the rest stay held."""
        written = 0
        for event in self._held:
            try:
                store.record(event)
            except FeedbackStoreError as exc:
                log.debug("feedback store still failing: %s", exc)
                break
            written += 1
        del self._held[:written]
        self.recorded += written
        if not self._held:
            self._failing = False
            self._tell(
                f"dspy-lsp: feedback is written to {store.where} again; {written} held events"
                " were written.",
                False,
            )

    def _open(self, default: Path, root: Path, whole: Settings | None) -> FeedbackBackend | None:
        """The store for these settings: the one open if they have not changed, else the one
        they choose (its problem, if any, told once: it is opened once)."""
        store_settings = (whole.store.url, whole.store.user, whole.project) if whole else None
        key = (default, root, store_settings)
        if self._store is not None and self._key == key:
            return self._store
        if self._broken == key:
            return None
        self._close()
        choice, user = feedback_choice(whole, root) if whole is not None else (LOCAL, None)
        try:
            self._store = open_feedback_store(choice, default, self._warn, user=user)
        except FeedbackStoreError as exc:
            self._broken = key
            self._tell(f"dspy-lsp feedback is off for this session: {exc}", True)
            return None
        self._key, self._default = key, default
        if self._store.moved_aside is not None:
            self._tell(
                f"dspy-lsp: the feedback store was corrupt; kept it as {self._store.moved_aside}",
                True,
            )
        return self._store

    @property
    def path(self) -> Path | None:
        """The SQLite file events are written to (the configured one, or where they were rescued
        to); in team mode the local default, which a learn run is handed but does not use: it
        finds the team store from the settings handed over with it."""
        if self._store is None:
            return None
        return self._store.path or self._default

    @property
    def where(self) -> str | None:
        """Where events are written, for the user: a file, or the team store and project."""
        return self._store.where if self._store is not None else None

    def close(self) -> None:
        """Write what is held if the store works again, and close it; what is left is lost."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._store is not None:
            if self._held:
                self._flush(self._store)
            if self._held:
                log.error("dspy-lsp: %d feedback events could not be written", len(self._held))
                self.lost += len(self._held)
                self._held.clear()
            self._store.close()
        self._store = None
        self._key = None
        self._failing = False
