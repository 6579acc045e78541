"""``dspy-lsp``: check files for CI, serve the language server, list the rules.

Exit codes of ``check``: 0 clean, 1 findings, 2 usage or internal error. Any verb whose reader
goes away (``dspy-lsp rules | head -1``) stops quietly with 141, as a tool killed by SIGPIPE.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .check_options import LM_FAIL_ON, OUTPUT_FORMATS
from .help_text import described

if TYPE_CHECKING:
    from ..lsp.guarded_server import GuardedServer

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
EXIT_BROKEN_PIPE = 128 + 13
"""What a shell reports for a process SIGPIPE killed; ``set -o pipefail`` treats it the same."""
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

VERB_MODULES = {
    "dashboard": "serve mission control: a local web page of metrics, versions and jobs",
    "dataset": "build labelled datasets (bugs a project's tests catch)",
    "feedback": "acceptance statistics and exports of feedback",
    "fix": "fix findings with plans the project's tests have passed",
    "learn": "re-optimize when feedback calls for it",
    "optimize": "compile better programs from feedback and examples",
    "programs": "list, show, activate, roll back and compare optimized programs",
    "report": "write the dashboard as one self-contained HTML file",
    "store": "move your history into the team store",
}
"""Verbs whose module (``cli/<verb>.py``) declares its own arguments, with their one-line help.

Their modules import what their verb needs (pydantic, the store, the registry), so the parser
imports only the one that runs: ``--version``, ``--help``, ``serve`` and ``check`` import none.
"""


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``dspy-lsp`` parser; given ``argv``, only the verb it names gets its module's arguments
    (the others are listed by name and help), else every verb gets them."""
    from .. import version

    parser = argparse.ArgumentParser(prog="dspy-lsp", description=described(__doc__))
    parser.add_argument("--version", action="version", version=f"dspy-lsp {version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser(
        "check",
        help="analyse files or directories",
        description="Run the rules (and the LM tier, if configured) over files or directories,"
        " as ruff check does. Exit 0 clean, 1 findings (rule findings; LM findings only with"
        " --lm-fail-on) or, with --diff, fixes to apply, 2 usage or internal error.",
    )
    check.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="files and directories to check (directories: their .py and .pyi files, less"
        " exclude and .gitignore); - reads the source from stdin",
    )
    check.add_argument(
        "--output-format",
        "--format",
        dest="format",
        choices=OUTPUT_FORMATS,
        default="text",
        help="how findings are reported: text, json, sarif (code scanning), github (workflow"
        " annotations) or junit; --format is the same option",
    )
    check.add_argument("--fix", action="store_true", help="apply safe fixes in place")
    check.add_argument(
        "--diff",
        action="store_true",
        help="print what --fix would change as a unified diff and write nothing; exit 1 if"
        " there is anything to change",
    )
    check.add_argument(
        "--show-fixes",
        action="store_true",
        help="list the fixes per file and rule: those --fix applied, else those it would apply",
    )
    check.add_argument(
        "--exit-zero",
        action="store_true",
        help="exit 0 even if there are findings (2 still means an error)",
    )
    check.add_argument(
        "--statistics",
        action="store_true",
        help="print how many findings each rule has instead of the findings",
    )
    check.add_argument(
        "--stdin-filename",
        type=Path,
        metavar="PATH",
        help="with -: the file the source on stdin stands for (its settings, per-file"
        " overrides and the path reported); with --fix the fixed source is printed",
    )
    check.add_argument(
        "--lm-fail-on",
        choices=LM_FAIL_ON,
        default="never",
        help="LM findings of this severity or worse fail the run (default: never; rule"
        " findings always do)",
    )
    check.add_argument(
        "--unsafe-fixes", action="store_true", help="with --fix, also apply unsafe fixes"
    )
    check.add_argument("--select", type=_csv, help="comma-separated rule codes or prefixes")
    check.add_argument("--ignore", type=_csv, help="comma-separated rule codes or prefixes")
    check.add_argument("--output", type=Path, help="write the report here instead of stdout")
    check.add_argument(
        "--trust-project",
        action="store_true",
        help="let the project's pyproject.toml choose trusted-only settings (LM, paths) this run",
    )
    check.add_argument(
        "--show-settings", action="store_true", help="print each setting and where it came from"
    )
    check.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor write the results cache (.dspy-lsp-cache/, or $DSPY_LSP_CACHE_DIR)",
    )
    check.add_argument(
        "--tests",
        action="store_true",
        help="run the project's tests once under coverage (cached; the tests.* settings) and"
        " report the lines the failing ones point at (TESTS-failing)",
    )
    lm = check.add_mutually_exclusive_group()
    lm.add_argument("--lm", metavar="MODEL", help="also run the LM tier with this dspy model")
    lm.add_argument("--no-lm", action="store_true", help="skip the LM tier even if configured")
    # Model, endpoint and key travel together: --lm replaces all three of the settings'.
    check.add_argument("--api-base", help="with --lm: the OpenAI-compatible endpoint")
    check.add_argument("--api-key-env", help="with --lm: the variable holding the API key")

    serve = sub.add_parser(
        "serve",
        help="run the language server (stdio by default)",
        description="Run the language server for an editor: on stdio, or on TCP with a token.",
    )
    serve.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    serve.add_argument(
        "--log-level",
        default="WARNING",
        type=str.upper,
        choices=LOG_LEVELS,
        help="what the server logs to stderr (default: WARNING)",
    )
    serve.add_argument(
        "--token-file",
        type=Path,
        metavar="PATH",
        help="with --tcp: read the client token from this file (yours, mode 600); "
        "or set DSPY_LSP_TCP_TOKEN",
    )
    serve.add_argument(
        "--max-message-mb",
        type=int,
        metavar="MB",
        help="refuse (and skip) any message larger than this; default 64, "
        "or set DSPY_LSP_MAX_MESSAGE_MB",
    )

    trust = sub.add_parser(
        "trust",
        help="let a project's pyproject.toml choose LM endpoints, keys and paths",
        description="Let a project's own settings choose what only your settings may: the LM"
        " endpoint, model and key variable, data paths and learning.",
    )
    trust.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=Path("."),
        help="the project's directory (default: the current one)",
    )
    trust.add_argument("--remove", action="store_true", help="stop trusting the project")
    trust.add_argument("--list", action="store_true", help="list the trusted projects")

    rules = sub.add_parser("rules", help="list the rules with their documentation")
    rules.add_argument(
        "--format",
        choices=("text", "json", "markdown"),
        default="text",
        help="text, JSON, or a Markdown table (default: text)",
    )
    rules.add_argument(
        "--output-dir",
        type=Path,
        metavar="DIR",
        help="with --format markdown: write one page per rule and an index there (docs/rules)",
    )
    rule = sub.add_parser("rule", help="print one rule's documentation page")
    rule.add_argument("code", help="a rule code such as DL104 (or DL000, LM-bug, TESTS-failing)")

    invoked = None if argv is None else next((a for a in argv if not a.startswith("-")), None)
    for verb, help_text in VERB_MODULES.items():
        if argv is None or verb == invoked:
            importlib.import_module(f"{__package__}.{verb}").add_parser(sub)
        else:
            sub.add_parser(verb, help=help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _run(sys.argv[1:] if argv is None else argv)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    return code


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush has nowhere to fail."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (a test's capture): nothing will flush
        pass
    finally:
        os.close(devnull)


def _run(argv: Sequence[str]) -> int:
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if exc.code in (0, None) else EXIT_ERROR
    if args.command == "serve":
        return serve(args.tcp, args.log_level, args.token_file, args.max_message_mb)
    if args.command == "rules":
        return list_rules(args.format, args.output_dir)
    if args.command == "rule":
        return show_rule(args.code)
    if args.command == "trust":
        return trust(args)
    if args.command == "dashboard":
        from . import dashboard as dashboard_cli

        return dashboard_cli.run(args)
    if args.command == "report":
        from . import report as report_cli

        return report_cli.run(args)
    if args.command == "dataset":
        from . import dataset as dataset_cli

        return dataset_cli.run(args)
    if args.command == "fix":
        from . import fix as fix_cli

        return fix_cli.run(args)
    if args.command == "feedback":
        from . import feedback as feedback_cli

        return feedback_cli.run(args)
    if args.command == "optimize":
        from . import optimize as optimize_cli

        return optimize_cli.run(args)
    if args.command == "learn":
        from . import learn as learn_cli

        return learn_cli.run(args)
    if args.command == "programs":
        from . import programs as programs_cli

        return programs_cli.run(args)
    if args.command == "store":
        from . import store as store_cli

        return store_cli.run(args)
    try:
        return check(args)
    except KeyboardInterrupt:
        return EXIT_ERROR
    except BrokenPipeError:
        raise
    except Exception as exc:  # the CLI's one boundary: report, don't trace back at the user
        logging.getLogger(__name__).debug("internal error", exc_info=True)
        print(f"dspy-lsp: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR


def serve(tcp: str | None, log_level: str, token_file: Path | None, max_mb: int | None) -> int:
    import os

    from ..lsp.framing import message_limit
    from ..store.redaction import ScrubbingFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ScrubbingFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=log_level.upper(), handlers=[handler])
    logging.getLogger("pygls").setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        limit = message_limit(max_mb, os.environ)
    except ValueError as exc:
        print(f"dspy-lsp: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if tcp:
        from ..lsp.tcp_transport import TOKEN_ENV, TcpSetupError, serve_tcp, tcp_config

        try:
            config = tcp_config(tcp, token_file, os.environ)
            os.environ.pop(TOKEN_ENV, None)  # processes the server starts must not inherit it
            serve_tcp(_import_server(), config, limit)
        except TcpSetupError as exc:
            print(f"dspy-lsp: {exc}", file=sys.stderr)
            return EXIT_ERROR
        return EXIT_CLEAN
    if token_file is not None:
        print("dspy-lsp: --token-file only applies with --tcp", file=sys.stderr)
        return EXIT_ERROR
    server = _import_server()
    # Anything that prints (a library, a stray print) must not corrupt the JSON-RPC stream.
    rpc_out = sys.stdout.buffer
    sys.stdout = sys.stderr
    # LSP's exit code: 0 after shutdown and exit, 1 for exit alone or a stream cut mid-message.
    return server.start_io(stdin=sys.stdin.buffer, stdout=rpc_out, limit=limit)


def _import_server() -> GuardedServer:
    """The language server, imported without a full garbage collection on the way: most of
    what separated our answer to ``initialize`` from a bare pygls server's (``long_lived``)."""
    from ..long_lived import long_lived

    with long_lived():
        from ..lsp.handlers import server
    return server


def trust(args: argparse.Namespace) -> int:
    from .. import user_config

    if args.list:
        for path in user_config.trusted_projects():
            sys.stdout.write(f"{path}\n")
        return EXIT_CLEAN
    if args.remove:
        if not user_config.untrust(args.path):
            print(f"dspy-lsp: {args.path.resolve()} was not trusted", file=sys.stderr)
            return EXIT_ERROR
        sys.stdout.write(f"no longer trusted: {args.path.resolve()}\n")
        return EXIT_CLEAN
    if not args.path.is_dir():
        print(f"dspy-lsp: {args.path} is not a directory", file=sys.stderr)
        return EXIT_ERROR
    recorded = user_config.trust(args.path)
    sys.stdout.write(
        f"trusted: {recorded}\nIts pyproject.toml may now choose the LM endpoint, model, key"
        f" variable, data paths and learning ({user_config.trust_path()}).\n"
    )
    return EXIT_CLEAN


def check(args: argparse.Namespace) -> int:
    from .check import run_check

    return run_check(args)


def list_rules(fmt: str, output_dir: Path | None = None) -> int:
    import json

    from ...analyzers.rules import ALL_RULES

    if output_dir is not None:
        if fmt != "markdown":
            print("dspy-lsp: --output-dir needs --format markdown", file=sys.stderr)
            return EXIT_ERROR
        return write_rule_pages(output_dir)
    if fmt == "json":
        payload = [
            {
                "code": code,
                "name": rule.NAME,
                "message": rule.MESSAGE,
                "rationale": rule.RATIONALE,
                "severity": rule.SEVERITY.value,
                "category": rule.CATEGORY,
                "default": not rule.PEDANTIC,
                "pedantic_because": rule.PEDANTIC or None,
                "fix": rule.FIX_SAFETY.value if any(i.fixed for i in rule.INVALID) else None,
            }
            for code, rule in ALL_RULES.items()
        ]
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return EXIT_CLEAN
    if fmt == "markdown":
        sys.stdout.write(
            "| Code | Name | Runs | Severity | Fix | What it finds |\n|---|---|---|---|---|---|\n"
        )
        for code, rule in ALL_RULES.items():
            fix = rule.FIX_SAFETY.value if any(i.fixed for i in rule.INVALID) else "—"
            runs = "pedantic" if rule.PEDANTIC else "default"
            sys.stdout.write(
                f"| {code} | `{rule.NAME}` | {runs} | {rule.SEVERITY.value} | {fix} |"
                f" {rule.MESSAGE} |\n"
            )
        return EXIT_CLEAN
    for code, rule in ALL_RULES.items():
        fix = f"fix: {rule.FIX_SAFETY.value}" if any(i.fixed for i in rule.INVALID) else "no fix"
        runs = "pedantic: opt-in" if rule.PEDANTIC else "default"
        sys.stdout.write(f"{code}  {rule.NAME}  ({runs}, {rule.SEVERITY.value}, {fix})\n")
        sys.stdout.write(f"    {rule.MESSAGE}\n    {rule.RATIONALE}\n")
        if rule.PEDANTIC:
            sys.stdout.write(f"    Pedantic: {rule.PEDANTIC}\n")
        sys.stdout.write("\n")
    return EXIT_CLEAN


def write_rule_pages(output_dir: Path) -> int:
    """One Markdown page per rule and other code, and an index: ``docs/rules/``. Pages of rules
    that no longer exist are removed; other files there are left alone."""
    from ...analyzers.rule_docs import PAGE_NAME, render_pages
    from ...analyzers.rules import ALL_RULES

    pages = render_pages(ALL_RULES)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        for stale in output_dir.iterdir():
            if PAGE_NAME.match(stale.name) and stale.name not in pages:
                stale.unlink()
        for name, text in pages.items():
            (output_dir / name).write_text(text, encoding="utf-8", newline="\n")
    except OSError as exc:
        print(f"dspy-lsp: cannot write the rule pages: {exc}", file=sys.stderr)
        return EXIT_ERROR
    sys.stdout.write(f"wrote {len(pages)} pages to {output_dir}\n")
    return EXIT_CLEAN


def show_rule(code: str) -> int:
    """One rule's page (``dspy-lsp rule DL104``): the same Markdown as ``docs/rules/``."""
    from ...analyzers.rule_docs import page_for
    from ...analyzers.rules import ALL_RULES

    page = page_for(code, ALL_RULES)
    if page is None:
        print(
            f"dspy-lsp: unknown rule code {code!r} (`dspy-lsp rules` lists them)", file=sys.stderr
        )
        return EXIT_ERROR
    sys.stdout.write(page)
    return EXIT_CLEAN


if __name__ == "__main__":
    sys.exit(main())
