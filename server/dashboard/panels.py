"""The dashboard's panels: a pure function per panel from plain inputs, and ``load_dashboard``,
which finds and reads the project's stores as the CLI does."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from .models import Dashboard


def load_dashboard(
    project_root: Path | None, *, now: datetime | None = None, since: date | None = None
) -> Dashboard:
    """Every panel for the project at (or above) ``project_root`` (None: the current directory),
    over the days from ``since`` (None: all) up to ``now`` (None: the clock)."""
    raise NotImplementedError
