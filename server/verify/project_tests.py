"""One project's tests as the fix loop's judge, the same way from the shell and the editor.

The interpreter, command and timeout come from the ``tests`` settings, which only the user's
own layers (or a trusted project) may set: they choose a process to start. Which tests judge
a unit comes from the recorded coverage map where it can be recorded, else from imports and
names (``critic.unit_tests``).
"""

from __future__ import annotations

import hashlib
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from ...analyzers.units import Unit
from ..settings import TestsSettings
from .coverage_map import CoverageMap, coverage_map, latest_map
from .critic import ProjectCritic, pytest_command, unit_tests


@dataclass(frozen=True)
class ProjectTests:
    root: Path
    settings: TestsSettings
    coverage_dir: Path
    """Where recorded coverage maps are cached (per project-files hash)."""

    @property
    def python(self) -> str:
        return self.settings.python or sys.executable

    @property
    def command(self) -> str:
        return self.settings.command or pytest_command(self.python)

    def coverage(
        self, cancel: threading.Event | None = None, *, record: bool = True
    ) -> CoverageMap | None:
        """The map of the project as it is (recorded by one run of every test, the first
        time), or with ``record`` False the last one recorded, however old; None when off in
        the settings or none can be had (no pytest-cov): the cheap pass is used."""
        if not self.settings.coverage:
            return None
        if not record:
            return latest_map(self.root, self.coverage_dir)
        return coverage_map(
            self.root, self.python, self.settings.timeout_s, self.coverage_dir, cancel
        )

    def select(
        self, relative: str, unit: Unit, text: str, coverage: CoverageMap | None
    ) -> tuple[str, ...]:
        """The tests that judge ``unit`` in ``relative`` (project-relative, now ``text``);
        raises ``NoCritic`` when none can. The map chooses them only while it still describes
        the file's lines."""
        lines = (unit.line_map[0] + 1, unit.line_map[-1] + 1)
        holds = coverage is not None and coverage.holds_for(relative, text)
        return unit_tests(self.root, relative, unit.qualname, lines, coverage if holds else None)

    def critic(self, copy: Path, relative: str, tests: tuple[str, ...]) -> ProjectCritic:
        """Runs ``tests`` on each rewrite of ``relative`` in ``copy`` (a copy of the project)."""
        return ProjectCritic(copy, relative, tests, self.command, self.settings.timeout_s)


def tests_fingerprint(root: Path, tests: tuple[str, ...]) -> str:
    """A hash of the files the selected tests live in (``path`` or ``path::node``): a verdict
    cached for a unit is stale once its tests change."""
    digest = hashlib.sha256()
    for path in sorted({t.split("::", 1)[0] for t in tests}):
        digest.update(path.encode("utf-8", "surrogatepass") + b"\0")
        try:
            digest.update(hashlib.sha256((root / path).read_bytes()).digest())
        except OSError:
            digest.update(b"missing")
    return digest.hexdigest()[:20]
