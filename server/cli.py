"""``dspy-lsp``: check files for CI, serve the language server, list the rules.

Exit codes of ``check``: 0 clean, 1 findings, 2 usage or internal error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def build_parser() -> argparse.ArgumentParser:
    from .lsp import version

    parser = argparse.ArgumentParser(prog="dspy-lsp", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"dspy-lsp {version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="analyse files or directories")
    check.add_argument("paths", nargs="+", type=Path)
    check.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    check.add_argument("--fix", action="store_true", help="apply safe fixes in place")
    check.add_argument(
        "--unsafe-fixes", action="store_true", help="with --fix, also apply unsafe fixes"
    )
    check.add_argument("--select", type=_csv, help="comma-separated rule codes or prefixes")
    check.add_argument("--ignore", type=_csv, help="comma-separated rule codes or prefixes")
    check.add_argument("--output", type=Path, help="write the report here instead of stdout")

    serve = sub.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    serve.add_argument("--log-level", default="WARNING")

    rules = sub.add_parser("rules", help="list the rules with their documentation")
    rules.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if exc.code in (0, None) else EXIT_ERROR
    if args.command == "serve":
        return serve(args.tcp, args.log_level)
    if args.command == "rules":
        return list_rules(args.format)
    try:
        return check(args)
    except KeyboardInterrupt:
        return EXIT_ERROR
    except Exception as exc:  # the CLI's one boundary: report, don't trace back at the user
        logging.getLogger(__name__).debug("internal error", exc_info=True)
        print(f"dspy-lsp: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR


def serve(tcp: str | None, log_level: str) -> int:
    logging.basicConfig(
        stream=sys.stderr, level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("pygls").setLevel(max(logging.WARNING, logging.getLogger().level))
    from .lsp import server

    if tcp:
        host, _, port = tcp.rpartition(":")
        if not port.isdigit():
            print("dspy-lsp: --tcp takes HOST:PORT", file=sys.stderr)
            return EXIT_ERROR
        server.start_tcp(host or "127.0.0.1", int(port))
        return EXIT_CLEAN
    # Anything that prints (a library, a stray print) must not corrupt the JSON-RPC stream.
    rpc_out = sys.stdout.buffer
    sys.stdout = sys.stderr
    server.start_io(stdin=sys.stdin.buffer, stdout=rpc_out)
    return EXIT_CLEAN


def check(args: argparse.Namespace) -> int:
    from ..analyzers.engine import SKIPPED, Analysis, meta_finding
    from ..analyzers.fixes import fix_all
    from ..analyzers.models import AnalysisStatus, FixSafety, Severity, Span
    from ..analyzers.source import UndecodableSource, decode_source
    from .analysis import analyze_file_text, codes_for, iter_python_files
    from .lsp import version
    from .reporters import FileReport, counts_as_failure, render_json, render_sarif, render_text
    from .settings import find_project_config, resolve

    missing = [p for p in args.paths if not p.exists()]
    if missing:
        print(
            f"dspy-lsp: no such file or directory: {', '.join(map(str, missing))}", file=sys.stderr
        )
        return EXIT_ERROR
    cli_layer: dict[str, object] = {}
    if args.select is not None:
        cli_layer["select"] = args.select
    if args.ignore is not None:
        cli_layer["ignore"] = args.ignore

    allowed = frozenset(
        {FixSafety.SAFE, FixSafety.UNSAFE} if args.unsafe_fixes else {FixSafety.SAFE}
    )
    reports: list[FileReport] = []
    configs: dict[Path, object] = {}
    for root_arg in args.paths:
        start = root_arg.resolve()
        if start not in configs:
            configs[start] = find_project_config(start)
        resolved = resolve(cli_layer, configs[start])  # type: ignore[arg-type]
        for error in resolved.errors:
            print(f"dspy-lsp: warning: {error}", file=sys.stderr)
        for path in iter_python_files([root_arg], resolved.settings.exclude):
            shown = path.as_posix()
            try:
                text = decode_source(path.read_bytes())
            except (OSError, UndecodableSource) as exc:
                skip = meta_finding(
                    SKIPPED,
                    Severity.INFO,
                    f"dspy-lsp skipped this file: {exc}",
                    Span.of(0, 0, 0, 0),
                )
                reports.append(
                    FileReport(
                        shown,
                        Analysis(
                            findings=(skip,), status=AnalysisStatus(kind="skipped", detail=str(exc))
                        ),
                    )
                )
                continue
            fixed = 0
            if args.fix:
                new_text, fixed = fix_all(text, codes_for(path, resolved), allowed=allowed)
                if new_text != text:
                    _write_preserving_encoding(path, new_text)
                    text = new_text
            reports.append(FileReport(shown, analyze_file_text(text, path, resolved), fixed))

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


def _write_preserving_encoding(path: Path, text: str) -> None:
    """Write atomically: a crash mid-write leaves the old file, never half of the new one."""
    import io
    import tokenize

    encoding, _ = tokenize.detect_encoding(io.BytesIO(path.read_bytes()).readline)
    tmp = path.with_name(f".{path.name}.dspy-lsp.tmp")
    with open(tmp, "w", encoding=encoding, newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def list_rules(fmt: str) -> int:
    import json

    from ..analyzers.rules import ALL_RULES

    if fmt == "json":
        payload = [
            {
                "code": code,
                "name": rule.NAME,
                "message": rule.MESSAGE,
                "rationale": rule.RATIONALE,
                "severity": rule.SEVERITY.value,
                "fix": rule.FIX_SAFETY.value if any(i.fixed for i in rule.INVALID) else None,
            }
            for code, rule in ALL_RULES.items()
        ]
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return EXIT_CLEAN
    if fmt == "markdown":
        sys.stdout.write(
            "| Code | Name | Severity | Fix | What it finds |\n|---|---|---|---|---|\n"
        )
        for code, rule in ALL_RULES.items():
            fix = rule.FIX_SAFETY.value if any(i.fixed for i in rule.INVALID) else "—"
            sys.stdout.write(
                f"| {code} | `{rule.NAME}` | {rule.SEVERITY.value} | {fix} | {rule.MESSAGE} |\n"
            )
        return EXIT_CLEAN
    for code, rule in ALL_RULES.items():
        fix = f"fix: {rule.FIX_SAFETY.value}" if any(i.fixed for i in rule.INVALID) else "no fix"
        sys.stdout.write(f"{code}  {rule.NAME}  ({rule.SEVERITY.value}, {fix})\n")
        sys.stdout.write(f"    {rule.MESSAGE}\n    {rule.RATIONALE}\n\n")
    return EXIT_CLEAN


if __name__ == "__main__":
    sys.exit(main())
