"""Which store a project's data goes to: the per-user SQLite files, one SQLite file, or the
team's PostgreSQL under the project's key.

Decided once per project root from the resolved settings (``store.url`` is trusted-only, so a
cloned project cannot choose it). Team mode needs a project key that is the same on every
clone; a checkout without one stays on the local files, and ``problem`` says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .store_url import StoreUrl, StoreUrlError, parse_store_url
from .tenant import Tenant, project_key, user_name


class StoreKeys(Protocol):
    """The ``store`` section of the settings (the store sits below the settings' room)."""

    @property
    def url(self) -> str | None: ...

    @property
    def user(self) -> str | None: ...


class StoreSettings(Protocol):
    """What of the resolved settings decides the store: ``Settings`` has it."""

    @property
    def project(self) -> str | None: ...

    @property
    def store(self) -> StoreKeys: ...


@dataclass(frozen=True)
class StoreChoice:
    url: StoreUrl | None
    """None: the per-user SQLite files (the default)."""
    tenant: Tenant | None
    """Set exactly when ``url`` is a team (PostgreSQL) store."""
    problem: str | None = None
    """Why the configured store is not the one used; for the user, once."""

    @property
    def team(self) -> bool:
        return self.tenant is not None


LOCAL = StoreChoice(None, None)


def choose_store(settings: StoreSettings, root: Path | None) -> StoreChoice:
    """The store for the project at ``root`` (None: no project, e.g. a loose file)."""
    if not settings.store.url:
        return LOCAL
    try:
        url = parse_store_url(settings.store.url)
    except StoreUrlError as exc:
        return StoreChoice(None, None, f"{exc}; using the local SQLite files")
    if url.backend == "sqlite":
        return StoreChoice(url, None)
    key = project_key(root, settings.project) if root is not None else None
    if key is None:
        return StoreChoice(
            None,
            None,
            "the team store needs a project key that is the same on every clone: set"
            " [tool.dspy-lsp] project, a [project] name, or a git remote; using the local"
            " SQLite files",
        )
    return StoreChoice(url, Tenant(key, user_name(settings.store.user)))
