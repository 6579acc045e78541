"""``dspy-lsp check``: both tiers over files on disk, for CI and power users.

Exit codes: 0 clean, 1 findings, 2 usage or internal error. An LM that fails is reported on
stderr and the rule findings are still reported; it never turns a run into an error.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import tokenize
from dataclasses import dataclass, replace
from pathlib import Path

from ...analyzers.engine import SKIPPED, Analysis, meta_finding
from ...analyzers.fixes import fix_all
from ...analyzers.models import AnalysisStatus, FixSafety, Severity, Span
from ...analyzers.source import UndecodableSource, decode_source
from ..analysis import analyze_file_text, codes_for, iter_python_files
from ..settings import LmSettings, ProjectConfig, describe, find_project_config, resolve
from ..store.safe_write import replace_content
from .reporters import FileReport, counts_as_failure, render_json, render_sarif, render_text

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


@dataclass(frozen=True)
class Checked:
    report: FileReport
    text: str | None  # None: the file could not be read as Python text
    lm: LmSettings


def run_check(args: argparse.Namespace) -> int:
    from .. import version

    missing = [p for p in args.paths if not p.exists()]
    if missing:
        print(
            f"dspy-lsp: no such file or directory: {', '.join(map(str, missing))}", file=sys.stderr
        )
        return EXIT_ERROR
    if args.show_settings:
        return _show_settings(args)
    checked = _rule_tier(args)
    if not args.no_lm:
        checked = _lm_tier(checked, args.lm)
    reports = [c.report for c in checked]
    if args.format == "json":
        output = render_json(reports)
    elif args.format == "sarif":
        output = render_sarif(reports, version())
    else:
        output = render_text(reports)
    if args.output:
        args.output.write_text(output, encoding="utf-8")
    else:
        sys.stdout.write(output)
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
        sys.stdout.write(f"{root_arg}: project {where}\n")
        for key, value, source in describe(resolved):
            sys.stdout.write(f"  {key} = {json.dumps(value)}  [{source}]\n")
        for key in resolved.ignored:
            sys.stdout.write(f"  {key}: set by the project, ignored (not trusted)\n")
        for error in resolved.errors:
            sys.stdout.write(f"  error: {error}\n")
    return EXIT_CLEAN


def _rule_tier(args: argparse.Namespace) -> list[Checked]:
    allowed = frozenset(
        {FixSafety.SAFE, FixSafety.UNSAFE} if args.unsafe_fixes else {FixSafety.SAFE}
    )
    layer = _cli_layer(args)
    configs: dict[Path, ProjectConfig] = {}
    told: set[str] = set()
    out: list[Checked] = []
    for root_arg in args.paths:
        start = root_arg.resolve()
        if start not in configs:
            configs[start] = find_project_config(start)
        resolved = resolve({}, configs[start], cli=layer, trust_project=args.trust_project)
        for warning in resolved.warnings:
            if warning not in told:
                told.add(warning)
                print(f"dspy-lsp: warning: {warning}", file=sys.stderr)
        for path in iter_python_files([root_arg], resolved.settings.exclude):
            shown = path.as_posix()
            try:
                text = decode_source(path.read_bytes())
            except (OSError, UndecodableSource) as exc:
                message = f"dspy-lsp skipped this file: {exc}"
                skip = meta_finding(SKIPPED, Severity.INFO, message, Span.of(0, 0, 0, 0))
                status = AnalysisStatus(kind="skipped", detail=str(exc))
                report = FileReport(shown, Analysis(findings=(skip,), status=status))
                out.append(Checked(report, None, resolved.settings.lm))
                continue
            fixed = 0
            if args.fix:
                new_text, fixed = fix_all(text, codes_for(path, resolved), allowed=allowed)
                if new_text != text:
                    try:
                        _write_preserving_encoding(path, new_text)
                        text = new_text
                    except (OSError, UnicodeEncodeError) as exc:
                        print(f"dspy-lsp: could not write fixes to {shown}: {exc}", file=sys.stderr)
                        fixed = 0
            report = FileReport(shown, analyze_file_text(text, path, resolved), fixed)
            out.append(Checked(report, text, resolved.settings.lm))
    return out


def _lm_tier(checked: list[Checked], model: str | None) -> list[Checked]:
    """Add LM findings to every readable file, with a progress bar on stderr."""
    todo = [
        c for c in checked if c.text is not None and c.report.analysis.status.kind == "analyzed"
    ]
    settings = next((c.lm for c in todo if c.lm.model), None)
    if settings is None:
        return checked
    return asyncio.run(_lm_pass(checked, todo, settings))


async def _lm_pass(
    checked: list[Checked], todo: list[Checked], settings: LmSettings
) -> list[Checked]:
    from rich.progress import Progress

    from ..lm.cache import LmCache, default_cache_path
    from ..lm.tier import LmTier, LmUnavailable

    cache_path = Path(settings.cache_path) if settings.cache_path else default_cache_path()
    tier = LmTier(settings, LmCache(cache_path))
    added: dict[str, Analysis] = {}
    failures = 0
    with Progress(console=_stderr_console(), transient=True) as progress:
        task = progress.add_task(f"LM tier ({settings.model})", total=len(todo))
        for item in todo:
            analysis = item.report.analysis
            try:
                lm = await tier.analyze(item.text or "", analysis.findings)
            except LmUnavailable as exc:
                failures += 1
                if failures == 1:
                    print(f"dspy-lsp: warning: LM unavailable: {exc}", file=sys.stderr)
                lm = []
            findings = tuple(
                sorted((*analysis.findings, *lm), key=lambda f: (f.span.start.line, f.rule))
            )
            added[item.report.path] = analysis.model_copy(update={"findings": findings})
            progress.advance(task)
    stats = tier.status().stats
    print(
        f"dspy-lsp: LM tier: {stats['calls']} calls, {stats['cache_hits']} cache hits, "
        f"{stats['prompt_tokens']} prompt tokens, {stats['failures']} failures",
        file=sys.stderr,
    )
    tier.cache.close()
    return [
        replace(c, report=replace(c.report, analysis=added[c.report.path]))
        if c.report.path in added
        else c
        for c in checked
    ]


def _stderr_console():  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(file=sys.stderr)


def _write_preserving_encoding(path: Path, text: str) -> None:
    """Write the fixed text in the file's own encoding, at the file a link in the tree names
    (files reached through links that leave the tree were never read)."""
    target = path.resolve()
    encoding, _ = tokenize.detect_encoding(io.BytesIO(target.read_bytes()).readline)
    replace_content(target, text.encode(encoding))
