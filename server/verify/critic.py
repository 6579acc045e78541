"""The critic of the fix loop: the tests that exercise a unit, run on each rewrite of its file
in one copy of the project (``sandbox``), the project itself never written.

Which tests: those whose coverage context ran the unit's lines, where a recorded map exists
(``coverage_map``), else the test files that import its module or name it
(``analyzers.test_selection``). A unit in a test file gets no critic: a fix must not edit the
tests that judge it.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ...analyzers.programs.attempts import Verdict
from ...analyzers.test_selection import is_test_file, select_tests
from .coverage_map import CoverageMap, python_files
from .sandbox import run_tests_async, write_inside

_PASSED = re.compile(r"(\d+) passed")
_UNITTEST_OK = re.compile(r"^Ran (\d+) tests? in .*\n+OK\b", re.MULTILINE)


def passed_count(output: str) -> int:
    """How many tests the run says passed: pytest's summary, or unittest's "Ran N tests ... OK";
    0 when it says neither."""
    counted = _PASSED.search(output) or _UNITTEST_OK.search(output)
    return int(counted.group(1)) if counted else 0


def pytest_command(python: str) -> str:
    """The default test command: the project's pytest, stopping at the first failure."""
    return f"{shlex.quote(python)} -m pytest -x -q -p no:cacheprovider"


class NoCritic(Exception):
    """The unit cannot be judged by tests: why, for the user."""


def unit_tests(
    root: Path, path: str, qualname: str, lines: tuple[int, int], coverage: CoverageMap | None
) -> tuple[str, ...]:
    """pytest node ids (from coverage) or test files (from imports and names) for the unit
    at ``path`` (project-relative) lines ``lines`` (1-based, inclusive)."""
    if is_test_file(path):
        raise NoCritic(f"{path} is a test file: a fix must not edit the tests that judge it")
    if coverage is not None and (covered := coverage.tests_for(path, *lines)):
        return covered
    texts = {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8", errors="replace")
        for p in python_files(root)
        if is_test_file(p.relative_to(root).as_posix())
    }
    found = tuple(t.path for t in select_tests(path, qualname, texts))
    if not found:
        raise NoCritic(f"no test exercises {qualname}")
    return found


@dataclass(frozen=True)
class ProjectCritic:
    """Writes each rewrite of ``path`` into ``copy``, runs ``tests`` there, and puts the
    file back, so every attempt starts from the project as it is. A rewrite that touches the
    tests as they run (deletes or edits a test file or a conftest) fails, and they are put
    back too: a fix must pass the tests, not change them."""

    copy: Path
    path: str
    tests: Sequence[str]
    command: str
    timeout_s: float = 300.0

    async def __call__(self, new_source: str) -> Verdict:
        original = (self.copy / self.path).read_text(encoding="utf-8")
        judges = self._judges
        write_inside(self.copy, self.path, new_source)
        try:
            selected = " ".join(shlex.quote(t) for t in self.tests)
            run = await run_tests_async(f"{self.command} {selected}", self.copy, self.timeout_s)
        finally:
            write_inside(self.copy, self.path, original)
            changed = _restore(self.copy, judges)
        if changed:
            told = f"the rewrite changed the tests that judge it: {', '.join(changed)}"
            return Verdict(False, 0, f"{run.output}\nE   {told}")
        passed = passed_count(run.output)
        # exit 0 with no test counted passing is a rewrite that ended the run (os._exit(0)),
        # or selected tests it made vanish: not a pass (a test command must print pytest's or
        # unittest's summary)
        return Verdict(run.outcome == "passed" and passed > 0, passed, run.output)

    @functools.cached_property
    def _judges(self) -> dict[str, bytes]:
        """Read once: every run puts them back as they were."""
        return _test_files(self.copy)


def _test_files(copy: Path) -> dict[str, bytes]:
    """The test files and conftests of ``copy``, as they are before a run."""
    found = {}
    for path in python_files(copy):
        relative = path.relative_to(copy).as_posix()
        if is_test_file(relative) or path.name == "conftest.py":
            found[relative] = path.read_bytes()
    return found


def _restore(copy: Path, judges: dict[str, bytes]) -> list[str]:
    """Put back the test files a run deleted or changed; the ones it did, sorted."""
    changed = []
    for relative, content in sorted(judges.items()):
        target = copy / relative
        try:
            same = target.read_bytes() == content
        except OSError:
            same = False
        if not same:
            changed.append(relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    return changed
