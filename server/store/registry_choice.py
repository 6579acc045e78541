"""Which program registry a project uses: the team store's when ``store.url`` names PostgreSQL
(every server and ``optimize`` run of the project share it), else the directory's.

In team mode ``lm.programs_dir`` keeps only what is local to a machine (run records); the
versions and the active pointers are the team's.
"""

from __future__ import annotations

from pathlib import Path

from .registry import ProgramRegistry
from .registry_contract import Registry
from .store_choice import StoreChoice


def open_registry(choice: StoreChoice, programs_dir: Path) -> Registry:
    """The registry ``choice`` means; opening it connects to nothing (the first call does)."""
    if choice.url is not None and choice.tenant is not None:
        from .postgres.registry import TeamProgramRegistry

        return TeamProgramRegistry(choice.url.dsn, choice.tenant)
    return ProgramRegistry(programs_dir)
