"""``dspy-lsp fix PATH``: findings fixed by plans the project's own tests have passed.

Which findings: with ``--goal``, those the analyze program reports toward the goal; else the
lines the failing tests point at, where the recorded test run (the coverage map) had failures
(``analyzers.fault_localisation``), then each LM finding (and each rule finding without an exact
fix). For each, the fix loop plans a rewrite of its unit, runs the tests that exercise the unit
in a copy of the project, and plans again told what failed, up to ``--max-attempts``
(``analyzers.programs.fix_loop``, ``verify.critic``). The report gives, per finding, whether its
tests passed, each attempt, and the diff. ``--apply`` writes only fixes whose tests passed
(atomically, one plan per unit); ``--diff``, the default, writes nothing. Every attempt is
recorded in the project's feedback store (``fix_passed`` / ``fix_failed``), where
``optimize --program plan`` learns from it.

Exit codes as for ``check``: 0 when every finding has a fix its tests passed, 1 when some have
none, 2 for usage errors, an LM that cannot run, or fixes that could not be written.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ...analyzers.engine import META_RULES
from ...analyzers.fixes import OverlappingEdits, apply_edits
from ...analyzers.learning.fix_records import attempt_records
from ...analyzers.lm_findings import LM_RULE_PREFIX
from ...analyzers.models import Finding, RefactorPlan
from ...analyzers.programs.attempts import attempt_line
from ...analyzers.source import UndecodableSource, decode_source
from ...analyzers.units import place_in_unit, split_units
from ..analysis import iter_python_files, run_with_model, tests_findings
from ..lm.errors import LmUnavailable
from ..settings import LmSettings, ResolvedSettings, TestsSettings
from ..verify.coverage_map import CoverageMap
from ..verify.critic import NoCritic
from ..verify.project_tests import ProjectTests
from ..verify.sandbox import cancellable, project_copy
from .attempt_recorder import AttemptRecorder
from .check import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, cannot_run, settings_per_root
from .help_text import described
from .reporters import printable_path

if TYPE_CHECKING:  # it imports dspy, which only a run that plans needs
    from ..lm.tier import LmTier


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    fix = sub.add_parser(
        "fix",
        help="fix findings with plans the project's tests have passed",
        description=described(__doc__),
    )
    fix.add_argument("paths", nargs="+", type=Path, help="files or directories to fix")
    fix.add_argument(
        "--goal",
        metavar="TEXT",
        help='what to fix, in your words ("remove the resource leaks"): the analyze program'
        " is asked for findings that serve it, instead of the usual review",
    )
    fix.add_argument(
        "--python",
        metavar="PATH",
        help="the project's interpreter, for its tests and the coverage run (default: the"
        " tests.python setting, else the one running dspy-lsp)",
    )
    fix.add_argument(
        "--tests",
        metavar="CMD",
        help="the test command, run in a copy of the project with the selected tests appended"
        " (default: the tests.command setting, else PYTHON -m pytest -x -q -p no:cacheprovider)",
    )
    fix.add_argument(
        "--max-attempts", type=int, default=3, metavar="N", help="plans per finding (default 3)"
    )
    fix.add_argument(
        "--edits",
        type=int,
        metavar="N",
        help="small edits of a finding's lines tried under the tests before any plan, the"
        " local model's likeliest first (default: the tests.edits setting, 8; 0: plans only)",
    )
    fix.add_argument(
        "--timeout-s",
        type=float,
        metavar="S",
        help="seconds per test run (default: the tests.timeout-s setting, 300)",
    )
    what = fix.add_mutually_exclusive_group()
    what.add_argument("--apply", action="store_true", help="write the fixes whose tests passed")
    what.add_argument("--diff", action="store_true", help="only show the diffs (the default)")
    fix.add_argument(
        "--no-coverage",
        action="store_true",
        help="choose tests by imports and names only, without one recorded coverage run",
    )
    fix.add_argument("--lm", metavar="MODEL", help="the dspy model that plans (else the settings')")
    fix.add_argument("--api-base", help="with --lm: the OpenAI-compatible endpoint")
    fix.add_argument("--api-key-env", help="with --lm: the variable holding the API key")
    fix.add_argument(
        "--trust-project",
        action="store_true",
        help="let the project's pyproject.toml choose trusted-only settings (LM, paths) this run",
    )


@dataclass(frozen=True)
class Outcome:
    """What the loop did for one finding."""

    path: Path
    shown: str
    relative: str
    """Its path in the project, as the diff names it."""
    text: str
    """The file as analysed: what the plan's edits apply to."""
    finding: Finding
    plan: RefactorPlan | None
    reason: str
    attempts: tuple[str, ...]
    """One line per attempt: what the tests (or the checks) said."""

    @property
    def passed(self) -> bool:
        return self.plan is not None and self.plan.tests_passed > 0


def run(args: argparse.Namespace) -> int:
    args.select = args.ignore = None  # the check layer's keys that fix does not take
    missing = [p for p in args.paths if not p.exists()]
    if missing:
        shown = ", ".join(printable_path(str(p)) for p in missing)
        print(f"dspy-lsp: no such file or directory: {shown}", file=sys.stderr)
        return EXIT_ERROR
    if args.max_attempts < 1:
        print("dspy-lsp: --max-attempts must be at least 1", file=sys.stderr)
        return EXIT_ERROR
    roots = settings_per_root(args)
    lm = next((r.settings.lm for _, r in roots if r.settings.lm.model), None)
    if lm is None:
        print("dspy-lsp: error: fix needs an LM to plan: --lm MODEL", file=sys.stderr)
        return EXIT_ERROR
    if unrunnable := cannot_run(lm):
        print(f"dspy-lsp: error: {unrunnable}", file=sys.stderr)
        return EXIT_ERROR
    outcomes = asyncio.run(_fix(args, roots, lm))
    sys.stdout.write(report(outcomes))
    if args.apply and not _apply(outcomes):
        return EXIT_ERROR
    return EXIT_CLEAN if all(o.passed for o in outcomes) else EXIT_FINDINGS


def _fixable(finding: Finding) -> bool:
    """LM findings, and rule findings with no exact fix: what a plan is for."""
    if finding.rule in META_RULES:
        return False
    return finding.rule.startswith(LM_RULE_PREFIX) or finding.fix is None


def _tests_settings(args: argparse.Namespace, settings: TestsSettings) -> TestsSettings:
    """The ``tests`` settings with this run's flags on top."""
    flags = {
        "python": args.python,
        "command": args.tests,
        "timeout_s": args.timeout_s,
        "edits": args.edits,
        "coverage": False if args.no_coverage else None,
    }
    return settings.model_copy(update={k: v for k, v in flags.items() if v is not None})


async def _fix(
    args: argparse.Namespace, roots: list[tuple[Path, ResolvedSettings]], settings: LmSettings
) -> list[Outcome]:
    from ..lm.cache import coverage_dir
    from ..lm.project_tiers import ProjectTiers

    tiers = ProjectTiers(
        settings, lambda problem: print(f"dspy-lsp: warning: {problem}", file=sys.stderr)
    )
    outcomes: list[Outcome] = []
    try:
        for root_arg, resolved in roots:
            project = resolved.root or (root_arg if root_arg.is_dir() else root_arg.parent)
            project = project.resolve()
            tier = tiers.of(resolved.settings, project)
            tests = ProjectTests(
                project, _tests_settings(args, resolved.settings.tests), coverage_dir(settings)
            )
            coverage = await cancellable(tests.coverage)
            recorder = AttemptRecorder(project, resolved.settings.feedback, resolved.settings)
            with project_copy(project) as copy:
                files = iter_python_files([root_arg], resolved.settings.exclude, resolved.root)
                for path in files:
                    run = FileRun(args, tier, resolved, tests, copy, coverage, recorder)
                    outcomes += await run.fix(path)
            recorder.close()
    finally:
        tiers.close()
    return outcomes


@dataclass(frozen=True)
class FileRun:
    """What fixing one file needs: the run's options, the tier, and the project's tests."""

    args: argparse.Namespace
    tier: LmTier
    resolved: ResolvedSettings
    tests: ProjectTests
    copy: Path
    coverage: CoverageMap | None
    recorder: AttemptRecorder

    async def fix(self, path: Path) -> list[Outcome]:
        try:
            text = decode_source(path.read_bytes())
        except (OSError, UndecodableSource) as exc:
            print(f"dspy-lsp: skipped {printable_path(str(path))}: {exc}", file=sys.stderr)
            return []
        relative = path.resolve().relative_to(self.tests.root).as_posix()
        findings = await self._findings(text, path, relative)
        units = split_units(text)
        outcomes = []
        shown = path.as_posix()
        for finding in findings:
            placed = place_in_unit(units, finding.span.start.line, finding.span.end.line)
            if placed is None:
                continue
            try:
                selected = self.tests.select(relative, placed.unit, text, self.coverage)
            except NoCritic as exc:
                outcomes.append(Outcome(path, shown, relative, text, finding, None, str(exc), ()))
                continue
            critic = self.tests.critic(self.copy, relative, selected)
            result = await self.tier.fix(
                text, finding, critic, self.args.max_attempts, self.tests.settings.edits
            )
            self.recorder.record(
                relative,
                attempt_records(units, finding, result.attempts, result.program_version),
            )
            tried = tuple(attempt_line(a) for a in result.attempts)
            outcomes.append(
                Outcome(path, shown, relative, text, finding, result.plan, result.reason, tried)
            )
        return outcomes

    async def _findings(self, text: str, path: Path, relative: str) -> list[Finding]:
        """The findings to fix: those serving ``--goal``; else where the failing tests point
        (when the recorded run had failures), then the review's findings that need a plan."""
        if self.args.goal:
            try:
                return await self.tier.goal_findings(text, self.args.goal)
            except LmUnavailable as exc:
                print(f"dspy-lsp: warning: LM unavailable: {exc}", file=sys.stderr)
                return []
        pointed = await tests_findings(text, relative, self.coverage, self.tier)
        done = await run_with_model(text, path, self.resolved, self.tier)
        if done.lm_error:
            print(f"dspy-lsp: warning: LM unavailable: {done.lm_error}", file=sys.stderr)
        reviewed = list(filter(_fixable, done.analysis.findings))
        # a review finding on the same line says more (a message, maybe its repair): it stays
        lines = {line for f in reviewed for line in range(f.span.start.line, f.span.end.line + 1)}
        return [*(f for f in pointed if f.span.start.line not in lines), *reviewed]


def report(outcomes: list[Outcome]) -> str:
    out: list[str] = []
    for o in outcomes:
        where = f"{o.shown}:{o.finding.span.start.line + 1}:{o.finding.span.start.column + 1}"
        out.append(f"{where}: {o.finding.rule} {o.finding.message}\n")
        if o.passed and o.plan is not None:
            out.append(f"  fixed: {o.plan.title} (tests pass: {o.plan.tests_passed})\n")
        elif o.plan is not None:
            out.append(f"  suggestion only: {o.reason}\n")
        else:
            out.append(f"  not fixed: {o.reason}\n")
        out += [f"  attempt {n}: {line}\n" for n, line in enumerate(o.attempts, start=1)]
        if o.plan is not None:
            out.append(_diff(o))
    fixed = sum(o.passed for o in outcomes)
    out.append(
        f"{len(outcomes)} finding(s): {fixed} fixed with tests passing, "
        f"{len(outcomes) - fixed} without a passing fix\n"
    )
    return "".join(out)


def _diff(outcome: Outcome) -> str:
    assert outcome.plan is not None
    before = outcome.text
    after = apply_edits(before, outcome.plan.edits)
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        f"a/{outcome.relative}",
        f"b/{outcome.relative}",
    )
    return "".join(f"    {line}" if line.endswith("\n") else f"    {line}\n" for line in lines)


def _apply(outcomes: list[Outcome]) -> bool:
    """Write every file's passing fixes (one per unit: the first that passed); False if a file
    could not be written."""
    from ..store.safe_write import replace_content

    by_file: dict[Path, tuple[str, list[RefactorPlan]]] = {}
    for o in outcomes:
        if o.passed and o.plan is not None:
            by_file.setdefault(o.path, (o.text, []))[1].append(o.plan)
    ok = True
    for path, (text, plans) in by_file.items():
        if decode_source(path.read_bytes()) != text:  # edited while the tests ran
            print(
                f"dspy-lsp: {printable_path(str(path))} changed meanwhile: not written",
                file=sys.stderr,
            )
            ok = False
            continue
        edits = []
        for plan in plans:
            try:
                apply_edits(text, [*edits, *plan.edits])
            except OverlappingEdits:
                continue  # another finding's fix already rewrote this unit
            edits += plan.edits
        try:
            replace_content(path.resolve(), apply_edits(text, edits).encode("utf-8"))
        except OSError as exc:
            print(f"dspy-lsp: could not write {printable_path(str(path))}: {exc}", file=sys.stderr)
            ok = False
    return ok
