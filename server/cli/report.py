"""``dspy-lsp report --html OUT.html``: the dashboard's panels as one self-contained HTML file
(its scripts and data inlined; it loads nothing from the network), for CI artifacts and for
sharing. Needs no extra. Exit codes: 0 written, 2 error (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .dashboard import add_data_arguments
from .help_text import described

EXIT_OK, EXIT_ERROR = 0, 2


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "report",
        help="write the dashboard as one self-contained HTML file",
        description=described(__doc__),
    )
    parser.add_argument(
        "--html",
        type=Path,
        required=True,
        metavar="OUT",
        help="the HTML file to write (- prints it to stdout)",
    )
    add_data_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..dashboard.page import report_page
    from ..dashboard.panels import load_dashboard
    from ..dashboard.unreadable import STORE_ERRORS
    from ..store.safe_write import replace_content

    try:
        html = report_page(load_dashboard(args.project, since=args.since))
    except STORE_ERRORS as exc:
        print(f"dspy-lsp: the report could not read its data: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if str(args.html) == "-":
        sys.stdout.write(html)
        return EXIT_OK
    try:
        replace_content(args.html, html.encode("utf-8"), mode=0o644)
    except OSError as exc:
        print(f"dspy-lsp: cannot write {args.html}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(f"dspy-lsp: wrote {args.html}", file=sys.stderr)
    return EXIT_OK
