"""The feedback store a project uses: a SQLite file (the default) or the team's PostgreSQL.

The server, the CLI's readers (``feedback``, ``learn``, training data) and the fix loop's
recorder all open their store here, from the project's ``StoreChoice``, so they read and write
the same place and speak to it through one interface.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, TextIO

from ...analyzers.learning.records import FeedbackEvent, FeedbackKind
from .feedback_schema import StoredEvent
from .feedback_stats import RuleStats, UserStats
from .feedback_store import FeedbackStore
from .store_choice import StoreChoice, StoreSettings

log = logging.getLogger(__name__)


class FeedbackBackend(Protocol):
    """What callers use of a feedback store, on either backend."""

    path: Path | None
    """The SQLite file (None in memory, and for the team store)."""
    moved_aside: Path | None
    """Where a corrupt file found at open was moved (SQLite), or None."""

    @property
    def where(self) -> str:
        """Where the events are, for messages."""

    def record(self, event: FeedbackEvent) -> int: ...

    def events(
        self,
        since: float | None = None,
        until: float | None = None,
        kinds: Iterable[FeedbackKind] | None = None,
    ) -> list[StoredEvent]: ...

    def stats(self, since: float | None = None, until: float | None = None) -> list[RuleStats]: ...

    def by_user(
        self, since: float | None = None, until: float | None = None
    ) -> list[UserStats]: ...

    def export_jsonl(self, out: TextIO, since: float | None = None) -> int: ...

    def schema_version(self) -> int: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def local_path(choice: StoreChoice, default_path: Path) -> Path | None:
    """The SQLite file ``choice`` writes to; None for the team store."""
    if choice.team:
        return None
    if choice.url is not None and choice.url.path is not None:
        return choice.url.path
    return default_path


def open_feedback_store(
    choice: StoreChoice,
    default_path: Path,
    notify: Callable[[str], None] = log.warning,
    *,
    user: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> FeedbackBackend:
    """The store ``choice`` names: the team store for its tenant, the ``sqlite:///`` file of
    ``store.url``, else ``default_path`` (``feedback.path`` or the per-user file), recording
    events as ``user`` (the tenant's user in team mode). ``choice.problem`` goes to ``notify``
    first. Raises ``FeedbackStoreError`` when the store cannot be used."""
    if choice.problem:
        notify(f"dspy-lsp: store.url: {choice.problem}")
    if choice.tenant is not None and choice.url is not None:
        from .postgres.feedback import TeamFeedbackStore

        return TeamFeedbackStore(choice.url, choice.tenant, environ=environ, notify=notify)
    path = local_path(choice, default_path)
    return FeedbackStore(path, environ=environ, notify=notify, user=user)


def store_exists(choice: StoreChoice, default_path: Path) -> bool:
    """Whether there may be feedback to read: the team store always, a SQLite file if it is
    there (readers do not create one)."""
    path = local_path(choice, default_path)
    return path is None or path.is_file()


def feedback_choice(settings: StoreSettings, root: Path) -> tuple[StoreChoice, str]:
    """The project's store and who records into it: the tenant's user in team mode, else
    ``store.user`` or the git e-mail or login (see ``tenant.user_name``)."""
    from .store_choice import choose_store
    from .tenant import user_name

    choice = choose_store(settings, root)
    return choice, choice.tenant.user if choice.tenant else user_name(settings.store.user)
