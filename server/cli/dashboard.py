"""``dspy-lsp dashboard``: mission control, a read-only web page of what the programs do and how
they learn: acceptance over time, rules users dismiss, program versions and their prompts, A/B,
LM usage, jobs and the fix loop.

It listens on 127.0.0.1 with no login. Another interface needs ``--token``, and then every
request must carry it. The stores are read again on every request. Needs the dashboard extra:
pip install "dspy-lsp[dashboard]". Exit codes: 0 stopped, 2 error (one line on stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from .help_text import described

EXIT_OK, EXIT_ERROR = 0, 2
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8350
TOKEN_ENV = "DSPY_LSP_DASHBOARD_TOKEN"
INSTALL_HINT = 'pip install "dspy-lsp[dashboard]"'


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "dashboard",
        help="serve mission control: a local web page of metrics, versions and jobs",
        description=described(__doc__),
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"the port to listen on (default: {DEFAULT_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"the interface to listen on (default: {DEFAULT_HOST}); any but loopback needs"
        " --token",
    )
    parser.add_argument(
        "--token",
        help="require this token on every request (Authorization: Bearer TOKEN, or ?token=)"
        f"; or set {TOKEN_ENV}",
    )
    add_data_arguments(parser)
    parser.add_argument(
        "--open", action="store_true", help="open the page in the default web browser"
    )


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that choose what the dashboard shows (shared with ``report``)."""
    parser.add_argument(
        "--project",
        type=Path,
        metavar="DIR",
        help="a directory of the project to show (default: the current one)",
    )
    parser.add_argument(
        "--since", type=since_day, help="only from this day: 30d, 2w or an ISO date (default: all)"
    )


def since_day(value: str) -> date:
    """``2026-11-01`` → that day; ``30d`` → the (UTC) day thirty days ago, as the panels count
    days in UTC."""
    with contextlib.suppress(ValueError):
        return date.fromisoformat(value.strip())
    from .feedback import since_time

    return datetime.fromtimestamp(since_time(value), UTC).date()


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` keeps the dashboard on this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        print(
            f"dspy-lsp: the dashboard needs Starlette and uvicorn: {INSTALL_HINT}", file=sys.stderr
        )
        return EXIT_ERROR
    token = args.token or os.environ.get(TOKEN_ENV) or None
    if not is_loopback(args.host) and token is None:
        print(
            f"dspy-lsp: --host {args.host} is not a loopback address: give --token (or set"
            f" {TOKEN_ENV}) so that every request must carry it",
            file=sys.stderr,
        )
        return EXIT_ERROR
    from ..dashboard.app import create_app
    from ..dashboard.panels import load_dashboard
    from ..dashboard.serve import bind, serve, url_of

    project, since = args.project, args.since
    app = create_app(lambda: load_dashboard(project, since=since), token=token)
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        hint = " (--port 0 picks a free one)" if args.port else ""
        print(f"dspy-lsp: cannot listen on {args.host}:{args.port}: {exc}{hint}", file=sys.stderr)
        return EXIT_ERROR
    url = url_of(args.host, sock)
    if token is not None:
        print(
            "dspy-lsp: every request needs the token: Authorization: Bearer TOKEN, or"
            f" {url}?token=TOKEN",
            file=sys.stderr,
        )
    if args.open:
        import threading
        import webbrowser
        from urllib.parse import quote

        opened = f"{url}?token={quote(token, safe='')}" if token else url
        threading.Timer(0.5, webbrowser.open, [opened]).start()
    try:
        serve(app, sock, url)
    finally:
        sock.close()
    return EXIT_OK
