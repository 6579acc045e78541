"""``dspy-lsp check``: both tiers over files on disk, for CI and power users.

Exit codes: 0 clean, 1 findings, 2 usage or internal error, an unknown rule code, or fixes that
could not be written (each such file is named on stderr; the others are still fixed and
reported), or an LM that cannot run: a local model that is missing, not a GGUF or without
llama-cpp-python (before any file is analysed), or a model whose every call of the run failed or
came back unreadable (after the rule findings are reported). An LM that fails on some files only
is a warning; those files keep their rule findings.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ...analyzers.engine import SKIPPED, Analysis, meta_finding
from ...analyzers.fixes import fix_all
from ...analyzers.models import AnalysisStatus, FixSafety, Severity, Span
from ...analyzers.source import UndecodableSource, decode_source
from ..analysis import codes_for, iter_python_files, run, run_with_model, tests_findings
from ..fix_formatter import format_fixed
from ..lm.llama_loading import model_label
from ..settings import (
    LmSettings,
    ProjectConfig,
    ResolvedSettings,
    describe,
    find_project_config,
    resolve,
)
from ..store.safe_write import replace_content
from .reporters import (
    FileReport,
    counts_as_failure,
    printable_path,
    render_json,
    render_sarif,
    render_text,
)

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


@dataclass(frozen=True)
class Source:
    """One file to report on: its text after ``--fix``, or the report of why it was skipped."""

    path: Path
    shown: str
    resolved: ResolvedSettings
    text: str | None = None
    fixed: int = 0
    skipped: FileReport | None = None
    unwritten: bool = False
    """``--fix`` found fixes but could not write them: the run ends in an error."""


def run_check(args: argparse.Namespace) -> int:
    from .. import version

    missing = [p for p in args.paths if not p.exists()]
    if missing:
        shown = ", ".join(printable_path(str(p)) for p in missing)
        print(f"dspy-lsp: no such file or directory: {shown}", file=sys.stderr)
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
    sources = _read_and_fix(args, roots)
    lm = (
        None
        if args.no_lm
        else next((s.resolved.settings.lm for s in sources if s.resolved.settings.lm.model), None)
    )
    if lm and (unrunnable := cannot_run(lm)):
        print(f"dspy-lsp: error: {unrunnable}", file=sys.stderr)
        return EXIT_ERROR
    lm_error = None
    if lm:
        reports, lm_error = asyncio.run(_with_model(sources, lm))
    else:
        reports = [_rules_only(s) for s in sources]
    if args.tests:
        reports = asyncio.run(_with_tests(sources, reports, roots, lm))
    if args.format == "json":
        output = render_json(reports)
    elif args.format == "sarif":
        output = render_sarif(reports, version())
    else:
        output = render_text(reports)
    if args.output:
        try:
            args.output.write_text(output, encoding="utf-8")
        except OSError as exc:
            shown = printable_path(str(args.output))
            print(f"dspy-lsp: cannot write --output {shown}: {exc.strerror}", file=sys.stderr)
            return EXIT_ERROR
    else:
        sys.stdout.write(output)
    unwritten = sum(1 for s in sources if s.unwritten)
    if unwritten:
        files = "file" if unwritten == 1 else "files"
        print(f"dspy-lsp: error: could not write fixes to {unwritten} {files}", file=sys.stderr)
        return EXIT_ERROR
    if lm_error is not None:
        print(f"dspy-lsp: error: {lm_error}", file=sys.stderr)
        return EXIT_ERROR
    failed = any(counts_as_failure(f) for r in reports for f in r.analysis.findings)
    return EXIT_FINDINGS if failed else EXIT_CLEAN


def _cli_layer(args: argparse.Namespace) -> dict[str, object]:
    layer: dict[str, object] = {}
    if args.select is not None:
        layer["select"] = args.select
    if args.ignore is not None:
        layer["ignore"] = args.ignore
    if args.lm:
        layer["lm"] = {"model": args.lm, "api_base": args.api_base, "api_key_env": args.api_key_env}
    return layer


def _show_settings(args: argparse.Namespace) -> int:
    """Each setting in force for each path, and the layer it came from."""
    for root_arg in args.paths:
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
    """The settings each path on the command line is checked under; each problem told once."""
    layer = _cli_layer(args)
    configs: dict[Path, ProjectConfig] = {}
    told: set[str] = set()
    roots = []
    for root_arg in args.paths:
        start = root_arg.resolve()
        if start not in configs:
            configs[start] = find_project_config(start)
        resolved = resolve({}, configs[start], cli=layer, trust_project=args.trust_project)
        for warning in resolved.warnings:
            if warning not in told and warning not in resolved.unknown_rules:
                told.add(warning)
                print(f"dspy-lsp: warning: {warning}", file=sys.stderr)
        roots.append((root_arg, resolved))
    return roots


def _read_and_fix(
    args: argparse.Namespace, roots: list[tuple[Path, ResolvedSettings]]
) -> list[Source]:
    allowed = frozenset(
        {FixSafety.SAFE, FixSafety.UNSAFE} if args.unsafe_fixes else {FixSafety.SAFE}
    )
    out: list[Source] = []
    unformatted: set[str] = set()  # each reason told once
    for root_arg, resolved in roots:
        for path in iter_python_files([root_arg], resolved.settings.exclude):
            shown = path.as_posix()
            try:
                text = decode_source(path.read_bytes())
            except (OSError, UndecodableSource) as exc:
                message = f"dspy-lsp skipped this file: {exc}"
                skip = meta_finding(SKIPPED, Severity.INFO, message, Span.of(0, 0, 0, 0))
                status = AnalysisStatus(kind="skipped", detail=str(exc))
                report = FileReport(shown, Analysis(findings=(skip,), status=status))
                out.append(Source(path, shown, resolved, skipped=report))
                continue
            if not args.fix:
                out.append(Source(path, shown, resolved, text))
                continue
            new_text, fixed = fix_all(text, codes_for(path, resolved), allowed=allowed)
            new_text, why = format_fixed(
                text, new_text, resolved.formatter, stub=path.suffix == ".pyi"
            )
            if why and why not in unformatted:
                unformatted.add(why)
                print(
                    f"dspy-lsp: the lines fixes touched were not formatted: {why}", file=sys.stderr
                )
            if new_text == text:
                out.append(Source(path, shown, resolved, text, fixed))
                continue
            try:
                _write_preserving_encoding(path, new_text)
            except (OSError, UnicodeEncodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                print(
                    f"dspy-lsp: could not write fixes to {printable_path(shown)}: {reason}",
                    file=sys.stderr,
                )
                out.append(Source(path, shown, resolved, text, unwritten=True))
                continue
            out.append(Source(path, shown, resolved, new_text, fixed))
    return out


def _rules_only(source: Source) -> FileReport:
    if source.skipped is not None:
        return source.skipped
    analysis = run(source.text or "", source.path, source.resolved)
    return FileReport(source.shown, analysis, source.fixed)


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
    sources: list[Source], settings: LmSettings
) -> tuple[list[FileReport], str | None]:
    """Both tiers over every readable file, asking the model, with a progress bar on stderr;
    and why the LM tier never worked, if every call of the run failed (else None). An LM that
    fails on some files is told once as a warning; its files keep their rule findings."""
    from rich.progress import Progress

    from ..lm.cache import LmCache, cache_path_of
    from ..lm.tier import LmTier

    cache_path = cache_path_of(settings)
    tier = LmTier(settings, LmCache(cache_path))
    reports: list[FileReport] = []
    first_error = None
    label = model_label(settings.model or "")
    with Progress(console=_stderr_console(), transient=True) as progress:
        task = progress.add_task(f"LM tier ({label})", total=len(sources))
        for source in sources:
            if source.skipped is not None:
                reports.append(source.skipped)
            else:
                done = await run_with_model(source.text or "", source.path, source.resolved, tier)
                first_error = first_error or done.lm_error
                reports.append(FileReport(source.shown, done.analysis, source.fixed))
            progress.advance(task)
    stats = tier.stats
    print(
        f"dspy-lsp: LM tier: {stats.calls} calls, {stats.cache_hits} cache hits, "
        f"{stats.prompt_tokens} prompt tokens, {stats.failures} failures, "
        f"{stats.unparsable_replies} unparsable, {stats.truncated_replies} truncated"
        + (
            f", {stats.too_long_to_repair} units too long to repair (raise lm.max-tokens)"
            if stats.too_long_to_repair
            else ""
        ),
        file=sys.stderr,
    )
    tier.cache.close()
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
) -> list[FileReport]:
    """``reports`` with the lines each project's failing tests point at (one recorded run per
    project, cached by its files' hash), ranked with a local model's surprise if there is one."""
    from ..lm.cache import LmCache, cache_path_of, coverage_dir
    from ..lm.tier import LmTier
    from ..verify.project_tests import ProjectTests
    from ..verify.sandbox import cancellable

    settings = lm or roots[0][1].settings.lm
    tier = LmTier(lm, LmCache(cache_path_of(lm))) if lm else None
    maps = {}
    for root_arg, resolved in roots:
        project = (resolved.root or (root_arg if root_arg.is_dir() else root_arg.parent)).resolve()
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
        findings = (*report.analysis.findings, *pointed)
        analysis = report.analysis.model_copy(update={"findings": findings})
        out.append(FileReport(report.path, analysis, report.fixed))
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
