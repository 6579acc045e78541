"""Which tests run which lines: one recorded run of the project's tests under pytest-cov with
each test as a coverage context (``--cov-context=test``), read with coverage.py, and cached by
a hash of the project's Python files, so it is recorded again only after a change.

The precise pass of test discovery (``analyzers.test_selection`` is the cheap one): the tests
whose context covers any line of a function are the ones that execute it. Recording needs
pytest-cov in the project's interpreter; without it there is no map, and callers fall back to
the cheap pass.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shlex
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ...analyzers.learning.bug_examples import failing_tests
from ..store.safe_write import replace_content
from .sandbox import COPY_IGNORE, project_copy, run_tests

DATA_FILE = ".dspy-lsp-coverage"
PLUGIN_DIR = Path(__file__).resolve().parent / "pytest_plugin"
"""Put on the project's ``PYTHONPATH``: it holds only ``dspy_lsp_alarm``."""
_PHASES = ("|run", "|setup", "|teardown")


@dataclass(frozen=True)
class CoverageMap:
    lines: dict[str, dict[int, tuple[str, ...]]]
    """Project-relative file (POSIX) → line → the pytest node ids that ran it."""
    hashes: dict[str, str]
    """Project-relative file → ``text_hash`` of it as recorded: whose line numbers still hold."""
    failed: tuple[str, ...] = ()
    """The tests that failed in the recorded run (node ids): where the spectrum points."""

    def tests_for(self, path: str, first_line: int, last_line: int) -> tuple[str, ...]:
        """The tests that ran any of ``path``'s 1-based lines ``first_line``..``last_line``."""
        covered = self.lines.get(path, {})
        found = {t for line in range(first_line, last_line + 1) for t in covered.get(line, ())}
        return tuple(sorted(found))

    def holds_for(self, path: str, text: str) -> bool:
        """Whether ``path`` is, as ``text``, what was recorded: its lines are the map's."""
        return self.hashes.get(path) == text_hash(text)

    def dump(self) -> str:
        lines = {f: {str(n): list(t) for n, t in ls.items()} for f, ls in self.lines.items()}
        return json.dumps({"lines": lines, "hashes": self.hashes, "failed": list(self.failed)})

    @classmethod
    def load(cls, text: str) -> CoverageMap:
        raw = json.loads(text)
        lines = {f: {int(n): tuple(t) for n, t in ls.items()} for f, ls in raw["lines"].items()}
        return cls(lines, dict(raw["hashes"]), tuple(raw.get("failed", ())))


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def python_files(root: Path) -> Iterator[Path]:
    """The project's Python files as a copy of it would hold them, sorted."""
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        ignored = any(COPY_IGNORE(str(root), [part]) for part in relative.parts)
        if not ignored:
            yield path


def project_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in python_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:24]


def coverage_map(
    root: Path,
    python: str,
    timeout_s: float,
    cache_dir: Path,
    cancel: threading.Event | None = None,
) -> CoverageMap | None:
    """The map for ``root`` as it is now: from ``cache_dir`` when recorded for these files,
    else recorded in a copy of the project (and cached); None when it cannot be recorded or
    ``cancel`` was set meanwhile."""
    cached = _maps_of(root, cache_dir) / f"{project_hash(root)}.json"
    if cached.is_file():
        return _load(cached)
    with project_copy(root) as copy:
        found = record(copy, python, timeout_s, cancel)
    if found is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        replace_content(cached, found.dump().encode("utf-8"))
    return found


def latest_map(root: Path, cache_dir: Path) -> CoverageMap | None:
    """The map recorded last for ``root``, however much has changed since (``holds_for``
    tells which files it still describes); None if none was ever recorded."""
    maps = sorted(_maps_of(root, cache_dir).glob("*.json"), key=lambda p: p.stat().st_mtime)
    return _load(maps[-1]) if maps else None


def _maps_of(root: Path, cache_dir: Path) -> Path:
    key = hashlib.sha256(str(root.resolve()).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return cache_dir / key


def _load(path: Path) -> CoverageMap | None:
    try:
        return CoverageMap.load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # unreadable or from an older layout: as if never recorded


def record(
    copy: Path,
    python: str,
    timeout_s: float,
    cancel: threading.Event | None = None,
    *,
    tests: str = "",
    autoload: bool = True,
) -> CoverageMap | None:
    """Run every test in ``copy`` (or pytest's ``tests`` arguments, shell words) under coverage
    with per-test contexts and read the result, with which tests failed. One test that hangs fails at a quarter of the run's time (at most
    a minute: ``pytest_plugin/dspy_lsp_alarm``) rather than losing the whole run."""
    per_test = min(60.0, timeout_s / 4)
    # autoload False: only pytest-cov and the alarm, for a project that turns warnings into
    # errors and trips over plugins installed beside it
    isolated = "" if autoload else " PYTEST_DISABLE_PLUGIN_AUTOLOAD=1"
    cov = "" if autoload else " -p pytest_cov.plugin"
    command = (
        f"PYTHONPATH={shlex.quote(str(PLUGIN_DIR))}${{PYTHONPATH:+:$PYTHONPATH}}{isolated}"
        f" DSPY_LSP_TEST_TIMEOUT={per_test:g} COVERAGE_FILE={DATA_FILE}"
        f" {shlex.quote(python)} -m pytest -q -p no:cacheprovider{cov} -p dspy_lsp_alarm -rfE"
        f" --cov=. --cov-context=test --cov-report= {tests}"
    )
    run = run_tests(command, copy, timeout_s, cancel=cancel)
    # failing tests still ran their lines: keep them; a cut-short run's map would be partial
    if run.outcome in ("timeout", "cancelled") or not (copy / DATA_FILE).is_file():
        return None
    found = read(copy / DATA_FILE, copy)
    return dataclasses.replace(found, failed=failing_tests(run.output))


def read(data_file: Path, root: Path) -> CoverageMap:
    from coverage import CoverageData

    data = CoverageData(basename=str(data_file))
    data.read()
    lines: dict[str, dict[int, tuple[str, ...]]] = {}
    hashes: dict[str, str] = {}
    for measured in data.measured_files():
        relative = os.path.relpath(measured, root)
        if relative.startswith(".."):
            continue
        by_line = data.contexts_by_lineno(measured)
        tests = {n: tuple(sorted({_node(c) for c in cs if c})) for n, cs in by_line.items()}
        posix = Path(relative).as_posix()
        lines[posix] = {n: t for n, t in tests.items() if t}
        with contextlib.suppress(OSError, UnicodeDecodeError):
            hashes[posix] = text_hash(Path(measured).read_text(encoding="utf-8"))
    return CoverageMap(lines, hashes)


def _node(context: str) -> str:
    """``tests/test_x.py::test_y|run`` → ``tests/test_x.py::test_y``."""
    for phase in _PHASES:
        if context.endswith(phase):
            return context[: -len(phase)]
    return context
