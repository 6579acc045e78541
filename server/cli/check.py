"""``dspy-lsp check``: both tiers over files on disk (or stdin, ``-``), for CI and power users.

Exit codes: 0 clean (or ``--exit-zero``), 1 findings that fail the run (every rule finding; an
LM finding only at or above ``--lm-fail-on``) or, with ``--diff``, fixes to apply, 2 usage or
internal error, an unknown rule code, or fixes that could not be written (each such file is
named on stderr; the others are still fixed and reported), or an LM that cannot run: a local
model that is missing, not a GGUF or without llama-cpp-python (before any file is analysed), or
a model whose every call of the run failed or came back unreadable (after the rule findings are
reported). An LM that fails on some files only is a warning; those files keep their rule
findings.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys
import tokenize
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TextIO

from ...analyzers.models import Finding, FixSafety, Severity, Span
from ...analyzers.source import UndecodableSource, decode_source
from ..lm.llama_loading import model_label
from ..python_files import iter_python_files
from ..settings import (
    LmSettings,
    ProjectConfig,
    ResolvedSettings,
    describe,
    find_project_config,
    resolve,
)
from ..store.project_root import project_root
from ..store.safe_write import replace_content
from .fix_report import fixable_per_rule, fixes_listed, unified_diff
from .fixed_text import FixedText, fixed_text
from .progress_bar import ProgressBar
from .reporters import FileReport, printable_path, render_json, render_sarif, render_text
from .results_cache import ResultsCache
from .rule_result import RuleResult
from .rule_tier_run import open_caches, project_of, rule_results
from .rule_workers import FileJob, Workers, worker_count

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
STDIN = Path("-")
"""The path that stands for the source read from standard input."""


@dataclass(frozen=True)
class Source:
    """One file to report on: its text after ``--fix``, or the report of why it was skipped."""

    path: Path
    shown: str
    root: int
    """Which path of the command line it was found under: its index in the run's roots."""
    resolved: ResolvedSettings
    text: str | None = None
    fixed: int = 0
    fixed_rules: tuple[tuple[str, int], ...] = ()
    """With ``--show-fixes``: how many findings of each rule ``--fix`` fixed."""
    skipped: FileReport | None = None
    unwritten: bool = False
    """``--fix`` found fixes but could not write them: the run ends in an error."""


def run_check(args: argparse.Namespace) -> int:
    from .. import version

    problem = _usage_problem(args)
    if problem is not None:
        print(f"dspy-lsp: {problem}", file=sys.stderr)
        return EXIT_ERROR
    if args.output is not None and not args.output.parent.is_dir():
        shown = printable_path(str(args.output))
        print(f"dspy-lsp: cannot write --output {shown}: no such directory", file=sys.stderr)
        return EXIT_ERROR
    if args.show_settings:
        return _show_settings(args)
    roots = settings_per_root(args)
    unknown = dict.fromkeys(e for _, resolved in roots for e in resolved.unknown_rules)
    for error in unknown:
        print(f"dspy-lsp: error: {error}", file=sys.stderr)
    if unknown:
        return EXIT_ERROR
    stdin = _reads_stdin(args)
    with Workers([resolved for _, resolved in roots], worker_count(os.environ)) as workers:
        sources, raw = _stdin_source(roots) if stdin else (_read_all(roots), b"")
        if args.diff:
            return _show_diff(args, sources, _fix_all(args, sources, workers))
        if args.fix:
            fixes = _fix_all(args, sources, workers)
            sources = [_fixed(s, f, write=not stdin) for s, f in zip(sources, fixes, strict=True)]
        lm = (
            None
            if args.no_lm
            else next(
                (s.resolved.settings.lm for s in sources if s.resolved.settings.lm.model), None
            )
        )
        if lm and (unrunnable := cannot_run(lm)):
            print(f"dspy-lsp: error: {unrunnable}", file=sys.stderr)
            return EXIT_ERROR
        lm_error = None
        if lm:
            reports, lm_error = asyncio.run(_with_model(sources, lm, args.lm_fail_on))
        else:
            uncached = args.no_cache or args.fix or stdin  # --fix changes the files it reads
            caches = [None] * len(roots) if uncached else open_caches(roots, os.environ)
            reports = _rules_only(sources, caches, workers)
    if args.tests:
        reports = asyncio.run(_with_tests(sources, reports, roots, lm, args.lm_fail_on))
    output = _render(reports, args.format, version(), statistics=args.statistics)
    if args.show_fixes:  # after a text report; elsewhere on stderr, leaving the data parsable
        listing = _fixes_shown(args, sources, reports)
        if args.format == "text" and not args.statistics:
            output += listing
        else:
            sys.stderr.write(listing)
    if stdin and args.fix:
        # As ruff does: the fixed source is the output (an editor or a pipe replaces the text
        # with it), and the report goes to stderr.
        if sources[0].text is not None:
            sys.stdout.write(sources[0].text)
        else:
            _echo(raw)
    if not _write_report(output, args.output, sys.stderr if stdin and args.fix else sys.stdout):
        return EXIT_ERROR
    unwritten = sum(1 for s in sources if s.unwritten)
    if unwritten:
        files = "file" if unwritten == 1 else "files"
        print(f"dspy-lsp: error: could not write fixes to {unwritten} {files}", file=sys.stderr)
        return EXIT_ERROR
    if lm_error is not None:
        print(f"dspy-lsp: error: {lm_error}", file=sys.stderr)
        return EXIT_ERROR
    if args.exit_zero:
        return EXIT_CLEAN
    return EXIT_FINDINGS if any(r.failing for r in reports) else EXIT_CLEAN


def _render(
    reports: Sequence[FileReport], fmt: str, tool_version: str, *, statistics: bool = False
) -> str:
    """The report in ``fmt`` (``check_options.OUTPUT_FORMATS``); with ``statistics``, the count
    per rule instead (JSON for ``json``, else text), as ``ruff check --statistics``."""
    if statistics:
        from .statistics import render_statistics

        return render_statistics(reports, as_json=fmt == "json")
    if fmt == "json":
        return render_json(reports)
    if fmt == "sarif":
        return render_sarif(reports, tool_version)
    if fmt == "github":
        from .ci_formats import render_github

        return render_github(reports)
    if fmt == "junit":
        from .ci_formats import render_junit

        return render_junit(reports)
    return render_text(reports)


def _reads_stdin(args: argparse.Namespace) -> bool:
    return list(args.paths) == [STDIN]


def _usage_problem(args: argparse.Namespace) -> str | None:
    """Why the command line cannot run, in one line; None if it can."""
    if STDIN in args.paths and not _reads_stdin(args):
        return "- (read from stdin) cannot be given with other paths"
    if args.stdin_filename is not None and not _reads_stdin(args):
        return "--stdin-filename names the source read from stdin: give - as the path"
    if _reads_stdin(args) and args.tests:
        return "--tests runs the project's tests over files on disk, not stdin"
    missing = [p for p in args.paths if p != STDIN and not p.exists()]
    if missing:
        shown = ", ".join(printable_path(str(p)) for p in missing)
        return f"no such file or directory: {shown}"
    return None


def _cli_layer(args: argparse.Namespace) -> dict[str, object]:
    layer: dict[str, object] = {}
    if args.select is not None:
        layer["select"] = args.select
    if args.ignore is not None:
        layer["ignore"] = args.ignore
    if args.lm:
        layer["lm"] = {"model": args.lm, "api_base": args.api_base, "api_key_env": args.api_key_env}
    return layer


def _targets(args: argparse.Namespace) -> list[Path]:
    """The paths settings are looked up for: the command line's, or the file stdin stands for."""
    if _reads_stdin(args):
        return [args.stdin_filename or STDIN]
    return list(args.paths)


def _show_settings(args: argparse.Namespace) -> int:
    """Each setting in force for each path, and the layer it came from."""
    for root_arg in _targets(args):
        project = find_project_config(root_arg.resolve())
        resolved = resolve({}, project, cli=_cli_layer(args), trust_project=args.trust_project)
        trust = "trusted" if resolved.project_trusted else "not trusted"
        where = f"{resolved.root} ({trust})" if resolved.root else "none"
        sys.stdout.write(f"{printable_path(str(root_arg))}: project {where}\n")
        for key, value, source in describe(resolved):
            sys.stdout.write(f"  {key} = {json.dumps(value)}  [{source}]\n")
        for key in resolved.ignored:
            sys.stdout.write(f"  {key}: set by the project, ignored (not trusted)\n")
        for error in resolved.errors:
            sys.stdout.write(f"  error: {error}\n")
    return EXIT_CLEAN


def settings_per_root(args: argparse.Namespace) -> list[tuple[Path, ResolvedSettings]]:
    """The settings each path on the command line is checked under; each problem told once.

    Their root is the project's (``project_root``) even without ``[tool.dspy-lsp]``, so that
    globs (``exclude``, per-file ``overrides``) mean the same from any directory.
    """
    layer = _cli_layer(args)
    configs: dict[Path, ProjectConfig] = {}
    told: set[str] = set()
    roots = []
    for root_arg in _targets(args):
        start = root_arg.resolve()
        if start not in configs:
            configs[start] = find_project_config(start)
        resolved = resolve({}, configs[start], cli=layer, trust_project=args.trust_project)
        resolved = replace(resolved, root=project_root(start, resolved.root))
        for warning in resolved.warnings:
            if warning not in told and warning not in resolved.unknown_rules:
                told.add(warning)
                print(f"dspy-lsp: warning: {warning}", file=sys.stderr)
        roots.append((root_arg, resolved))
    return roots


def _read_all(roots: list[tuple[Path, ResolvedSettings]]) -> list[Source]:
    return [
        _read(path, index, resolved)
        for index, (root_arg, resolved) in enumerate(roots)
        for path in iter_python_files([root_arg], resolved.settings.exclude, resolved.root)
    ]


def _stdin_source(roots: list[tuple[Path, ResolvedSettings]]) -> tuple[list[Source], bytes]:
    """The source on stdin, as the file ``--stdin-filename`` names (``-`` without it), and the
    text as it came (what ``--fix`` gives back when it cannot be analysed)."""
    [(path, resolved)] = roots
    shown = path.as_posix()
    stream = getattr(sys.stdin, "buffer", None)
    data = stream.read() if stream is not None else sys.stdin.read().encode("utf-8")
    try:
        text = decode_source(data)
    except UndecodableSource as exc:
        report = FileReport.of(shown, (_skipped(f"dspy-lsp skipped this input: {exc}"),))
        return [Source(path, shown, 0, resolved, skipped=report)], data
    return [Source(path, shown, 0, resolved, text)], data


def _echo(data: bytes) -> None:
    """Input that could not be analysed, given back byte for byte."""
    sys.stdout.flush()
    stream = getattr(sys.stdout, "buffer", None)
    if stream is None:  # not a real file (a test's capture)
        sys.stdout.write(data.decode("utf-8", errors="replace"))
    else:
        stream.write(data)
        stream.flush()


def _fix_all(
    args: argparse.Namespace, sources: list[Source], workers: Workers
) -> list[FixedText | None]:
    """Each readable source's text with every allowed fix applied (None for skipped ones)."""
    allowed = frozenset(
        {FixSafety.SAFE, FixSafety.UNSAFE} if args.unsafe_fixes else {FixSafety.SAFE}
    )
    readable = [s for s in sources if s.skipped is None]
    jobs = [FileJob(s.root, s.path, s.text or "") for s in readable]
    task = partial(fixed_text, allowed=allowed, count_rules=args.show_fixes)
    with ProgressBar(len(jobs), verb="fixing") as bar:
        fixes = iter(workers.map(task, jobs, bar.advance))
    unformatted: set[str] = set()  # each reason told once
    out: list[FixedText | None] = []
    for source in sources:
        done = None if source.skipped is not None else next(fixes)
        if done is not None and done.unformatted and done.unformatted not in unformatted:
            unformatted.add(done.unformatted)
            print(
                f"dspy-lsp: the lines fixes touched were not formatted: {done.unformatted}",
                file=sys.stderr,
            )
        out.append(done)
    return out


def _fixed(source: Source, done: FixedText | None, *, write: bool) -> Source:
    """``source`` after its fixes, written back if ``write``; as it was if they could not be."""
    if done is None:
        return source
    if done.text == source.text:
        return replace(source, fixed=done.fixed)
    if write:
        try:
            _write_preserving_encoding(source.path, done.text)
        except (OSError, UnicodeEncodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            print(
                f"dspy-lsp: could not write fixes to {printable_path(source.shown)}: {reason}",
                file=sys.stderr,
            )
            return replace(source, unwritten=True)
    return replace(source, text=done.text, fixed=done.fixed, fixed_rules=done.fixed_rules)


def _write_report(output: str, path: Path | None, stream: TextIO) -> bool:
    """Write the report to ``--output`` or ``stream``; False (said on stderr) if it cannot be."""
    if path is None:
        stream.write(output)
        return True
    try:
        path.write_text(output, encoding="utf-8")
    except OSError as exc:
        shown = printable_path(str(path))
        print(f"dspy-lsp: cannot write --output {shown}: {exc.strerror}", file=sys.stderr)
        return False
    return True


def _show_diff(
    args: argparse.Namespace, sources: list[Source], fixes: list[FixedText | None]
) -> int:
    """``--diff``: what ``--fix`` would change, as a unified diff; nothing is written. Exit 1
    when there is something to change."""
    changed = [
        (source, done)
        for source, done in zip(sources, fixes, strict=True)
        if done is not None and done.text != source.text
    ]
    output = "".join(unified_diff(s.text or "", d.text, s.shown) for s, d in changed)
    if not _write_report(output, args.output, sys.stdout):
        return EXIT_ERROR
    count = sum(done.fixed for _, done in changed)
    if not changed:
        print("No fixes to apply.", file=sys.stderr)
    elif args.show_fixes:
        listed = [(s.shown, dict(d.fixed_rules)) for s, d in changed]
        sys.stderr.write(fixes_listed(f"Would fix {_findings(count)}:", listed))
    else:
        files = "file" if len(changed) == 1 else "files"
        print(f"Would fix {_findings(count)} in {len(changed)} {files}.", file=sys.stderr)
    return EXIT_FINDINGS if changed and not args.exit_zero else EXIT_CLEAN


def _fixes_shown(
    args: argparse.Namespace, sources: Sequence[Source], reports: Sequence[FileReport]
) -> str:
    """``--show-fixes``: the fixes ``--fix`` applied, per file and rule; without ``--fix``, the
    findings it would fix."""
    if args.fix:
        listed = [(s.shown, dict(s.fixed_rules)) for s in sources if s.fixed_rules]
        count = sum(n for _, rules in listed for n in rules.values())
        return fixes_listed(f"Fixed {_findings(count)}:", listed)
    allowed = {FixSafety.SAFE, FixSafety.UNSAFE} if args.unsafe_fixes else {FixSafety.SAFE}
    listed = [(r.path, fixable_per_rule(r.findings, allowed)) for r in reports]
    listed = [(path, rules) for path, rules in listed if rules]
    count = sum(n for _, rules in listed for n in rules.values())
    flags = "--fix --unsafe-fixes" if args.unsafe_fixes else "--fix"
    return fixes_listed(f"{_findings(count)} fixable with `dspy-lsp check {flags}`:", listed)


def _findings(count: int) -> str:
    return f"{count} finding{'' if count == 1 else 's'}"


def _read(path: Path, root: int, resolved: ResolvedSettings) -> Source:
    shown = path.as_posix()
    try:
        text = decode_source(path.read_bytes())
    except (OSError, UndecodableSource) as exc:
        report = FileReport.of(shown, (_skipped(f"dspy-lsp skipped this file: {exc}"),))
        return Source(path, shown, root, resolved, skipped=report)
    return Source(path, shown, root, resolved, text)


def _skipped(message: str) -> Finding:
    from ...analyzers.engine import SKIPPED, meta_finding

    return meta_finding(SKIPPED, Severity.INFO, message, Span.of(0, 0, 0, 0))


def _rules_only(
    sources: list[Source], caches: list[ResultsCache | None], workers: Workers
) -> list[FileReport]:
    readable = [s for s in sources if s.skipped is None]
    jobs = [FileJob(s.root, s.path, s.text or "") for s in readable]
    in_order = iter(rule_results(jobs, workers, caches))
    return [
        source.skipped if source.skipped is not None else _report(source, next(in_order))
        for source in sources
    ]


def _report(source: Source, result: RuleResult) -> FileReport:
    return FileReport(source.shown, result.findings, result.failing, source.fixed)


def cannot_run(settings: LmSettings) -> str | None:
    """Why the model named cannot run at all, known without asking it; None if it may."""
    from ..lm.factory import check_runnable
    from ..lm.local_engine import LocalModelError

    try:
        check_runnable(settings)
    except LocalModelError as exc:
        return f"--lm {model_label(settings.model or '')}: {exc}"
    return None


async def _with_model(
    sources: list[Source], settings: LmSettings, lm_fail_on: str
) -> tuple[list[FileReport], str | None]:
    """Both tiers over every readable file, asking the model, with a progress bar on stderr;
    and why the LM tier never worked, if every call of the run failed (else None). An LM that
    fails on some files is told once as a warning; its files keep their rule findings."""
    from rich.progress import Progress

    from ..analysis import run_with_model
    from ..lm.project_tiers import ProjectTiers

    tiers = ProjectTiers(
        settings, lambda problem: print(f"dspy-lsp: warning: {problem}", file=sys.stderr)
    )
    reports: list[FileReport] = []
    first_error = None
    label = model_label(settings.model or "")
    with Progress(console=_stderr_console(), transient=True) as progress:
        task = progress.add_task(f"LM tier ({label})", total=len(sources))
        for source in sources:
            if source.skipped is not None:
                reports.append(source.skipped)
            else:
                tier = tiers.of(source.resolved.settings, source.resolved.root)
                done = await run_with_model(source.text or "", source.path, source.resolved, tier)
                first_error = first_error or done.lm_error
                findings = done.analysis.findings
                reports.append(FileReport.of(source.shown, findings, source.fixed, lm_fail_on))
            progress.advance(task)
    stats = tiers.stats
    print(
        f"dspy-lsp: LM tier: {stats.calls} calls, {stats.cache_hits} cache hits, "
        f"{stats.prompt_tokens} prompt tokens, {stats.failures} failures, "
        f"{stats.unparsable_replies} unparsable, {stats.truncated_replies} truncated"
        + (
            f", {stats.too_long_to_repair} units too long to repair (raise lm.max-tokens)"
            if stats.too_long_to_repair
            else ""
        )
        + (_too_large(stats.too_large_to_score) if stats.too_large_to_score else ""),
        file=sys.stderr,
    )
    tiers.close()
    failed = stats.failures + stats.unparsable_replies
    if failed and not stats.calls and not stats.cache_hits:
        why = first_error or stats.last_error
        return reports, f"LM unavailable: {why} ({label}: {failed} calls, none answered)"
    if first_error is not None:
        print(f"dspy-lsp: warning: LM unavailable: {first_error}", file=sys.stderr)
    return reports, None


async def _with_tests(
    sources: list[Source],
    reports: list[FileReport],
    roots: list[tuple[Path, ResolvedSettings]],
    lm: LmSettings | None,
    lm_fail_on: str,
) -> list[FileReport]:
    """``reports`` with the lines each project's failing tests point at (one recorded run per
    project, cached by its files' hash), ranked with a local model's surprise if there is one."""
    from ..analysis import tests_findings
    from ..lm.cache import LmCache, cache_path_of, coverage_dir
    from ..lm.tier import LmTier
    from ..verify.project_tests import ProjectTests
    from ..verify.sandbox import cancellable

    settings = lm or roots[0][1].settings.lm
    tier = LmTier(lm, LmCache(cache_path_of(lm))) if lm else None
    maps = {}
    for root_arg, resolved in roots:
        project = project_of(root_arg, resolved)
        if project not in maps:
            tests = ProjectTests(project, resolved.settings.tests, coverage_dir(settings))
            maps[project] = await cancellable(tests.coverage)
            if maps[project] is None:
                print(
                    f"dspy-lsp: warning: could not record the tests of {project} under coverage"
                    " (is pytest-cov installed in tests.python?)",
                    file=sys.stderr,
                )
    out = []
    for source, report in zip(sources, reports, strict=True):
        where = _project_of(source.path, maps)
        if source.skipped is not None or where is None:
            out.append(report)
            continue
        relative = source.path.resolve().relative_to(where).as_posix()
        pointed = await tests_findings(source.text or "", relative, maps[where], tier)
        findings = (*report.findings, *pointed)
        out.append(FileReport.of(report.path, findings, report.fixed, lm_fail_on))
    if tier is not None:
        tier.cache.close()
    return out


def _project_of(path: Path, projects: Mapping[Path, object]) -> Path | None:
    """The deepest recorded project holding ``path``."""
    holding = [p for p in projects if path.resolve().is_relative_to(p)]
    return max(holding, key=lambda p: len(p.parts)) if holding else None


def _stderr_console():  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(file=sys.stderr)


def _write_preserving_encoding(path: Path, text: str) -> None:
    """Write the fixed text in the file's own encoding, at the file a link in the tree names
    (files reached through links that leave the tree were never read)."""
    target = path.resolve()
    encoding, _ = tokenize.detect_encoding(io.BytesIO(target.read_bytes()).readline)
    replace_content(target, text.encode(encoding))


def _too_large(count: int) -> str:
    """Said only once the likelier finder ran, which has imported libcst already: a run the
    cache answers imports neither."""
    from ...analyzers.likelier import MAX_EDITS

    return f", {count} functions too large to score (over {MAX_EDITS} small edits)"
