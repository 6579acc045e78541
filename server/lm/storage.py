"""Where the LM tier's cache and telemetry live for a project: the per-user SQLite files, or,
in team mode (``store.url`` names PostgreSQL), the team database under the project's key, on
the process's one pool for that database.

A team store that cannot be used at all (the ``team`` extra missing) falls back to the
per-user files with a warning: the LM tier works without a shared cache.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ..store.postgres.telemetry import TeamTelemetry, TeamTelemetryTarget
from ..store.store_choice import StoreChoice
from ..store.telemetry import TelemetryStore, default_telemetry_path
from .cache import LmCache, ResultCache, cache_path_of

if TYPE_CHECKING:  # pydantic: the server answers initialize before it loads
    from ..settings import LmSettings

log = logging.getLogger(__name__)

TelemetryTarget = Path | TeamTelemetryTarget
"""Where LM calls are recorded: the per-user SQLite file, or a project in the team database."""

TelemetryReader = TelemetryStore | TeamTelemetry


def open_lm_cache(choice: StoreChoice, settings: LmSettings) -> ResultCache:
    """The cache the tier for ``choice``'s project reads and fills."""
    if choice.tenant is not None and choice.url is not None and choice.url.dsn is not None:
        from ..store.postgres.driver import TeamStoreUnavailable
        from ..store.postgres.team_store import team_store
        from .team_cache import TeamLmCache

        try:
            return TeamLmCache(team_store(choice.url.dsn), choice.tenant, location(choice))
        except TeamStoreUnavailable as exc:
            log.warning("LM cache: %s; using the per-user cache", exc)
    return LmCache(cache_path_of(settings))


def telemetry_target(choice: StoreChoice) -> TelemetryTarget:
    """Where the tier for ``choice``'s project records its calls."""
    if choice.tenant is not None and choice.url is not None and choice.url.dsn is not None:
        return TeamTelemetryTarget(choice.url.dsn, choice.tenant, location(choice))
    return default_telemetry_path()


def open_telemetry(target: TelemetryTarget) -> TelemetryReader:
    """The store at ``target``, to record in or read. Raises ``TelemetryStoreError`` (a file
    that cannot be used) or ``TeamStoreUnavailable`` (the team extra missing); a per-user
    file is created if missing, so a reader checks ``target.is_file()`` first."""
    if isinstance(target, Path):
        return TelemetryStore(target)
    from ..store.postgres.team_store import team_store

    return TeamTelemetry(team_store(target.dsn), target.tenant, target.location)


def location(choice: StoreChoice) -> str:
    """The team database (it holds no password) and the project, for people."""
    assert choice.url is not None and choice.tenant is not None
    return f"{choice.url.display()} (project {choice.tenant.project})"
