"""``dspy-lsp dataset bugs``: plant bugs in a project's functions, keep those its tests catch.

Each candidate (``analyzers.learning.bug_mutations``) is written into a temporary copy of the
project, never the project itself, and the project's own test command runs there with a timeout
(``verify.sandbox``: the whole process group is killed at the timeout, no network). A mutant is kept as a ``BugExample`` when
the tests fail on it. A timeout is kept too, with verdict ``timeout``: a hang the tests catch is
a real bug (QuixBugs has several), and the verdict lets a consumer drop them. Mutants the tests
pass are dropped: nothing says they are bugs. The tests must be green on the unmutated copy
first. JSON Lines go to ``--out`` or stdout; progress and the summary to stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import libcst as cst

from ...analyzers.learning.bug_examples import BugExample, failing_tests
from ...analyzers.learning.bug_mutations import BugMutant, Candidate, apply, candidates, schedule
from ..verify.sandbox import TestRun, project_copy, run_tests
from .help_text import described

EXIT_OK, EXIT_ERROR = 0, 2
BASELINE_TIMEOUT_S = 600.0
_NOT_SOURCE_DIRS = frozenset(
    {"test", "tests", "testing", "docs", "doc", "examples", "benchmarks", "build", "dist"}
)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    dataset = sub.add_parser(
        "dataset",
        help="build labelled datasets (bugs a project's tests catch)",
        description="Build labelled datasets from a project: `bugs` plants bugs and keeps those"
        " its tests catch.",
    )
    verbs = dataset.add_subparsers(dest="verb", required=True)
    bugs = verbs.add_parser(
        "bugs",
        help="plant bugs in a project's functions and keep those its tests catch",
        description=described(__doc__),
    )
    bugs.add_argument("--project", type=Path, required=True, help="the project's root directory")
    bugs.add_argument(
        "--tests", required=True, metavar="CMD", help="the test command, run in the project root"
    )
    bugs.add_argument("--out", type=Path, help="write the JSON Lines here instead of stdout")
    bugs.add_argument(
        "--max-mutants", type=int, default=50, metavar="N", help="candidates to try (default 50)"
    )
    bugs.add_argument(
        "--timeout-s",
        type=float,
        metavar="S",
        help="seconds per test run (default: 3x the unmutated run, plus 5)",
    )
    bugs.add_argument("--seed", type=int, default=0, help="which candidates, in which order")


def source_files(root: Path) -> Iterator[Path]:
    """The project's modules, sorted: not its tests, docs, examples, builds or hidden folders."""
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        name = parts[-1]
        if any(p.startswith(".") or p in _NOT_SOURCE_DIRS or "venv" in p for p in parts[:-1]):
            continue
        if name.startswith("test_") or name.endswith("_test.py"):
            continue
        if name in ("conftest.py", "setup.py", "noxfile.py"):
            continue
        yield path


@dataclass(frozen=True)
class _Source:
    path: str
    text: str
    module: cst.Module


def _collect(root: Path) -> list[tuple[_Source, Candidate]]:
    found: list[tuple[_Source, Candidate]] = []
    for path in source_files(root):
        try:
            text = path.read_text(encoding="utf-8")
            module = cst.parse_module(text)
        except (OSError, UnicodeDecodeError, cst.ParserSyntaxError):
            continue
        source = _Source(path.relative_to(root).as_posix(), text, module)
        found.extend((source, c) for c in candidates(module))
    return found


def _example(project: str, path: str, mutant: BugMutant, run: TestRun) -> BugExample:
    return BugExample(
        source="mutation",
        project=project,
        path=path,
        qualname=mutant.qualname,
        unit=mutant.unit.text,
        fixed=mutant.original.text,
        context=mutant.unit.prompt_context,
        unit_lines=mutant.unit_lines,
        file_lines=mutant.file_lines,
        operator=mutant.operator,
        failing_tests=failing_tests(run.output),
        verdict="timeout" if run.outcome == "timeout" else "failed",
    )


def run(args: argparse.Namespace) -> int:
    root: Path = args.project
    if not root.is_dir():
        print(f"dspy-lsp: no project directory {root}", file=sys.stderr)
        return EXIT_ERROR
    if args.max_mutants < 1:
        print("dspy-lsp: --max-mutants must be at least 1", file=sys.stderr)
        return EXIT_ERROR
    with project_copy(root) as copy:
        baseline = run_tests(args.tests, copy, args.timeout_s or BASELINE_TIMEOUT_S)
        if baseline.outcome != "passed":
            print(
                f"dspy-lsp: the tests are not green on the unmutated project "
                f"({baseline.outcome} in {baseline.seconds:.1f} s): {args.tests}",
                file=sys.stderr,
            )
            return EXIT_ERROR
        timeout_s = args.timeout_s or 3 * baseline.seconds + 5
        try:
            out = args.out.open("w", encoding="utf-8") if args.out else sys.stdout
        except OSError as exc:
            print(f"dspy-lsp: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
            return EXIT_ERROR
        try:
            return _judge(args, root.resolve().name, copy, timeout_s, out)
        finally:
            if args.out:
                out.close()


def _judge(
    args: argparse.Namespace, project: str, copy: Path, timeout_s: float, out: TextIO
) -> int:
    start = time.monotonic()
    found = _collect(copy)
    pairs = {id(c): s for s, c in found}
    counts: Counter[str] = Counter()
    kept = 0
    for candidate in schedule([c for _, c in found], args.seed):
        if counts["tried"] >= args.max_mutants:
            break
        source = pairs[id(candidate)]
        mutant = apply(source.text, source.module, candidate)
        if mutant is None:
            continue
        counts["tried"] += 1
        target = copy / source.path
        target.write_text(mutant.code, encoding="utf-8")
        try:
            result = run_tests(args.tests, copy, timeout_s)
        finally:
            target.write_text(source.text, encoding="utf-8")
        counts[result.outcome] += 1
        where = f"{source.path}:{mutant.file_lines[0]} {mutant.qualname}"
        verdict = {"passed": "survived", "failed": "killed", "timeout": "timed out"}
        print(
            f"[{counts['tried']}/{args.max_mutants}] {where} {mutant.operator}: "
            f"{verdict[result.outcome]} ({result.seconds:.1f} s)",
            file=sys.stderr,
        )
        if result.outcome != "passed":
            out.write(_example(project, source.path, mutant, result).model_dump_json() + "\n")
            out.flush()
            kept += 1
    print(
        f"dataset bugs: {len(found)} candidates, {counts['tried']} tried in "
        f"{time.monotonic() - start:.0f} s: {counts['failed']} killed by tests, "
        f"{counts['timeout']} timed out, {counts['passed']} survived; kept {kept}",
        file=sys.stderr,
    )
    if counts["tried"] and not counts["failed"]:
        print(
            "dspy-lsp: no mutant failed the tests: do they import the project from its "
            "directory (not an installed copy)?",
            file=sys.stderr,
        )
    return EXIT_OK
