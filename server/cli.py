"""``dspy-lsp``: check files for CI, serve the language server, list the rules.

Exit codes of ``check``: 0 clean, 1 findings, 2 usage or internal error.
"""

from __future__ import annotations

import argparse
import logging
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
    lm = check.add_mutually_exclusive_group()
    lm.add_argument("--lm", metavar="MODEL", help="also run the LM tier with this dspy model")
    lm.add_argument("--no-lm", action="store_true", help="skip the LM tier even if configured")

    serve = sub.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    serve.add_argument("--log-level", default="WARNING")

    rules = sub.add_parser("rules", help="list the rules with their documentation")
    rules.add_argument("--format", choices=("text", "json", "markdown"), default="text")

    from . import feedback_cli, learn_cli, optimize_cli, programs_cli

    feedback_cli.add_parser(sub)
    learn_cli.add_parser(sub)
    optimize_cli.add_parser(sub)
    programs_cli.add_parser(sub)
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
    if args.command == "feedback":
        from . import feedback_cli

        return feedback_cli.run(args)
    if args.command == "optimize":
        from . import optimize_cli

        return optimize_cli.run(args)
    if args.command == "learn":
        from . import learn_cli

        return learn_cli.run(args)
    if args.command == "programs":
        from . import programs_cli

        return programs_cli.run(args)
    try:
        return check(args)
    except KeyboardInterrupt:
        return EXIT_ERROR
    except Exception as exc:  # the CLI's one boundary: report, don't trace back at the user
        logging.getLogger(__name__).debug("internal error", exc_info=True)
        print(f"dspy-lsp: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR


def serve(tcp: str | None, log_level: str) -> int:
    from .redaction import ScrubbingFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ScrubbingFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=log_level.upper(), handlers=[handler])
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
    from .check_run import run_check

    return run_check(args)


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
