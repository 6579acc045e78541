"""Test spectra for ``bugs.py``'s ``spectrum`` variants: per unit, which of its lines each test
ran and which tests failed.

QuixBugs: each program's upstream test file runs under coverage with per-test contexts, once on
the buggy program and once on the correct one (``--correct``), in a copy of the corpus. A
mutation corpus: the project's tests run once clean and once per planted mutant. Both record
the way the server does (``verify.coverage_map.record``: a test that hangs fails alone); the
lines are turned into the unit's own numbering, as the finders see the unit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dspy_lsp.analyzers.learning.bug_examples import BugExample
from dspy_lsp.analyzers.units import split_units, unit_named
from dspy_lsp.server.verify.coverage_map import record
from dspy_lsp.server.verify.sandbox import project_copy


@dataclass(frozen=True)
class Spectrum:
    lines: Mapping[int, frozenset[str]]
    """Unit line (1-based) → the tests that ran it."""
    failed: frozenset[str]


def quixbugs_spectra(
    corpus: Path, bugs: Iterable[BugExample], python: str, timeout_s: float
) -> dict[str, Spectrum]:
    """Unit text → its spectrum, for each bug's buggy and correct function."""
    found: dict[str, Spectrum] = {}
    with project_copy(corpus) as copy:
        for bug in bugs:
            test = f"python_testcases/test_{Path(bug.path).stem}.py"
            for correct, folder, unit_text in (
                (False, "python_programs", bug.unit),
                (True, "correct_python_programs", bug.fixed),
            ):
                extra = f"{test} --correct" if correct else test
                spectrum = _recorded(copy, python, timeout_s, extra)
                path = f"{folder}/{Path(bug.path).name}"
                found[unit_text] = _of_unit(copy / path, path, spectrum, bug.qualname)
    return found


def mutant_spectra(bugs: list[BugExample], python: str, timeout_s: float) -> dict[str, Spectrum]:
    """Unit text → its spectrum, for mutants of one project (``build_bug_corpus.PROJECTS``):
    its sdist unpacked once, each mutant planted in turn and the project's tests recorded, and
    once with no mutant (the fixed functions)."""
    import tempfile

    from build_bug_corpus import PROJECTS, unpacked_sdist

    project = PROJECTS[bugs[0].project.rpartition("-")[0]]
    tests = project.tests.rsplit(" ", 1)[-1]  # the command ends with its tests' path
    found: dict[str, Spectrum] = {}
    with tempfile.TemporaryDirectory(prefix="spectra-") as tmp:
        root = unpacked_sdist(project, Path(tmp))
        # as the corpus was built: with no plugin but coverage's (toolz makes warnings errors)
        clean = _recorded(root, python, timeout_s, tests, autoload=False)
        for bug in bugs:
            target = root / bug.path
            original = target.read_text(encoding="utf-8")
            found[bug.fixed] = _of_unit(target, bug.path, clean, bug.qualname)
            target.write_text(original.replace(bug.fixed, bug.unit, 1), encoding="utf-8")
            try:
                planted = _recorded(root, python, timeout_s, tests, autoload=False)
                found[bug.unit] = _of_unit(target, bug.path, planted, bug.qualname)
            finally:
                target.write_text(original, encoding="utf-8")
    return found


def _recorded(
    copy: Path, python: str, timeout_s: float, tests: str, autoload: bool = True
) -> tuple[Mapping, frozenset]:
    recorded = record(copy, python, timeout_s, tests=tests, autoload=autoload)
    if recorded is None:
        return {}, frozenset()
    return recorded.lines, frozenset(recorded.failed)


def _of_unit(file: Path, path: str, recorded: tuple[Mapping, frozenset], qualname: str) -> Spectrum:
    lines, failed = recorded
    unit = unit_named(split_units(file.read_text(encoding="utf-8")), qualname)
    if unit is None:
        return Spectrum({}, failed)
    by_file_line = lines.get(path, {})
    return Spectrum(
        {
            n: frozenset(by_file_line.get(file_line + 1, ()))
            for n, file_line in enumerate(unit.line_map, start=1)
            if by_file_line.get(file_line + 1)
        },
        failed,
    )
