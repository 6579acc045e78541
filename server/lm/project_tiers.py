"""One LM tier per store for a CLI run over several projects: each project's units are looked up
in, and its calls recorded to, its own store (the team's database under its key, or the
per-user files), so one project's results never reach another's cache."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..store.store_choice import StoreChoice, choose_store
from .stats import LmStats
from .storage import open_lm_cache, telemetry_target
from .tier import LmTier

if TYPE_CHECKING:
    from ..settings import LmSettings
    from ..settings_model import Settings


class ProjectTiers:
    """The run's tiers, all on ``settings`` (the run's model), opened on first use."""

    def __init__(self, settings: LmSettings, warn: Callable[[str], None]) -> None:
        """``warn``: told once per configured store that cannot be used, and why."""
        self._settings = settings
        self._warn = warn
        self._choices: dict[
            tuple[str | None, str | None, str | None, Path | None], StoreChoice
        ] = {}
        self._tiers: dict[StoreChoice, LmTier] = {}

    def of(self, settings: Settings, root: Path | None) -> LmTier:
        """The tier for the project at ``root`` whose settings are ``settings``."""
        key = (settings.store.url, settings.store.user, settings.project, root)
        choice = self._choices.get(key)
        if choice is None:
            choice = self._choices[key] = choose_store(settings, root)
            if choice.problem:
                self._warn(choice.problem)
        tier = self._tiers.get(choice)
        if tier is None:
            cache = open_lm_cache(choice, self._settings)
            telemetry = telemetry_target(choice) if choice.team else None
            tier = self._tiers[choice] = LmTier(
                self._settings, cache, telemetry=telemetry, store=choice
            )
        return tier

    @property
    def stats(self) -> LmStats:
        """The counters of every tier, added up; the last error of the last tier that had one."""
        total = LmStats()
        for tier in self._tiers.values():
            for field in dataclasses.fields(LmStats):
                value = getattr(tier.stats, field.name)
                if isinstance(value, str):
                    setattr(total, field.name, value or getattr(total, field.name))
                else:
                    setattr(total, field.name, getattr(total, field.name) + value)
        return total

    def close(self) -> None:
        for tier in self._tiers.values():
            tier.cache.close()
