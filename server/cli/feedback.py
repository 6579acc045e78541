"""``dspy-lsp feedback stats|export``: what users did with findings, per rule and program version
(or, with ``--by-user``, per developer of the project).

The store is found the way the server finds it: the team store when ``store.url`` names
PostgreSQL (the project's rows only), else ``feedback.path`` from the project's settings, else
the per-user file keyed by the project's root (``store.project_root``: the directory of
``[tool.dspy-lsp]``, else the git root, else the nearest pyproject.toml), whichever directory
inside the project the command runs in. No feedback yet is an empty table, not an error.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TextIO

from ...analyzers.learning.records import FeedbackKind
from ..settings import project_settings
from ..store.feedback_backend import local_path, open_feedback_store, store_exists
from ..store.feedback_stats import KindCounts, RuleStats, UserStats
from ..store.feedback_store import FeedbackStoreError, default_store_path
from ..store.project_root import project_root
from ..store.store_choice import LOCAL, StoreChoice, choose_store
from .help_text import described

EXIT_OK, EXIT_ERROR = 0, 2
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SHORT = {
    FeedbackKind.ACCEPTED: "acc",
    FeedbackKind.DISMISSED_FALSE_POSITIVE: "fp",
    FeedbackKind.DISMISSED_LATER: "later",
    FeedbackKind.IGNORED: "ign",
    FeedbackKind.SELF_FIXED: "self",
    FeedbackKind.MISSED: "missed",
    FeedbackKind.FIX_PASSED: "fix-ok",
    FeedbackKind.FIX_FAILED: "fix-fail",
}


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    feedback = sub.add_parser(
        "feedback",
        help="acceptance statistics and exports of feedback",
        description=described(__doc__),
    )
    verbs = feedback.add_subparsers(dest="verb", required=True)
    about = "acceptance and dismissal rates per rule and version"
    stats = verbs.add_parser("stats", help=about, description=f"Print the {about}.")
    about = "every event, one JSON object per line"
    export = verbs.add_parser("export", help=about, description=f"Export {about}.")
    for verb in (stats, export):
        verb.add_argument("--store", type=Path, help="the feedback database (default: found)")
        verb.add_argument(
            "--workspace",
            type=Path,
            default=None,
            help="a directory of the project whose feedback to read (default: the current one)",
        )
        verb.add_argument("--since", type=since_time, help="7d, 24h, 30m or an ISO date")
    stats.add_argument("--until", type=since_time, help="7d, 24h, 30m or an ISO date")
    stats.add_argument(
        "--format", choices=("text", "json"), default="text", help="a table, or a JSON list"
    )
    stats.add_argument(
        "--by-user",
        action="store_true",
        help="one row per user of the project (acceptance per developer) instead of per rule",
    )
    export.add_argument(
        "--format", choices=("jsonl",), default="jsonl", help="JSON Lines (the only format)"
    )
    export.add_argument("--output", type=Path, help="write here instead of stdout")


def since_time(value: str, now: float | None = None) -> float:
    """``7d`` → seven days ago; ``2026-11-01`` (or any ISO time) → that moment."""
    match = _DURATION.match(value.strip())
    if match:
        amount, unit = match.groups()
        return (time.time() if now is None else now) - float(amount) * _SECONDS[unit]
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither a duration (7d, 24h, 30m) nor an ISO date"
        ) from None


def store_path(workspace: Path | None, explicit: Path | None) -> Path:
    """``explicit``, else ``feedback.path``, else the per-user file of the project's root."""
    return located(workspace, explicit)[1]


def located(workspace: Path | None, explicit: Path | None) -> tuple[StoreChoice, Path]:
    """The project's store and its local file: ``explicit`` (a SQLite file, whatever
    ``store.url`` says), else what ``store.url`` chooses, with ``feedback.path`` or the per-user
    file of the project's root as the local file."""
    if explicit is not None:
        return LOCAL, explicit
    directory = (workspace or Path.cwd()).resolve()
    resolved = project_settings(directory)
    root = project_root(directory, resolved.root) or directory
    configured = resolved.settings.feedback.path
    default = Path(configured) if configured else default_store_path(root)
    return choose_store(resolved.settings, root), default


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    choice, default = located(args.workspace, args.store)
    if not store_exists(choice, default):
        path = local_path(choice, default)
        if args.store is not None:  # a file named by hand that is not there: a typo, say so
            print(f"dspy-lsp: no feedback recorded yet ({path} does not exist)", file=sys.stderr)
            return EXIT_ERROR
        if choice.problem:
            print(f"dspy-lsp: store.url: {choice.problem}", file=sys.stderr)
        print(f"dspy-lsp: no feedback recorded yet ({path})", file=sys.stderr)
        return _nothing_recorded(args, out)
    try:
        with open_feedback_store(choice, default, _warn) as store:
            if args.verb == "export":
                if args.output is None:
                    count = store.export_jsonl(out, since=args.since)
                else:
                    with args.output.open("w", encoding="utf-8") as handle:
                        count = store.export_jsonl(handle, since=args.since)
                print(f"dspy-lsp: exported {count} events from {store.where}", file=sys.stderr)
                return EXIT_OK
            if args.by_user:
                users = store.by_user(since=args.since, until=args.until)
            else:
                rows = store.stats(since=args.since, until=args.until)
    except (FeedbackStoreError, OSError) as exc:
        print(f"dspy-lsp: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.by_user:
        if args.format == "json":
            out.write(json.dumps([_user_json(row) for row in users], indent=2) + "\n")
        else:
            out.write(users_table(users))
    elif args.format == "json":
        out.write(json.dumps([_as_json(row) for row in rows], indent=2) + "\n")
    else:
        out.write(stats_table(rows))
    return EXIT_OK


def _warn(message: str) -> None:
    print(message, file=sys.stderr)


def _nothing_recorded(args: argparse.Namespace, out: TextIO) -> int:
    """What a store without events gives: an empty table (or list), and no events exported."""
    if args.verb == "export":
        print("dspy-lsp: exported 0 events", file=sys.stderr)
    elif args.format == "json":
        out.write("[]\n")
    else:
        out.write(users_table([]) if args.by_user else stats_table([]))
    return EXIT_OK


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _as_json(row: RuleStats) -> dict[str, object]:
    return {
        "rule": row.rule,
        "category": row.category,
        "program_version": row.program_version,
        **_counts_json(row),
    }


def _user_json(row: UserStats) -> dict[str, object]:
    return {"user": row.user, **_counts_json(row), "verdicts": row.verdicts}


def _counts_json(row: KindCounts) -> dict[str, object]:
    return {
        **{kind: getattr(row, kind) for kind in FeedbackKind},
        "total": row.total,
        "acceptance_rate": row.acceptance_rate,
        "dismissal_rate": row.dismissal_rate,
    }


def users_table(rows: Sequence[UserStats]) -> str:
    """A plain-text table: one row per user, then the project's totals."""
    header = ["user", *(_SHORT[k] for k in FeedbackKind), "verdicts", "accept", "dismiss"]
    totals = UserStats("all", *(sum(getattr(row, kind) for row in rows) for kind in FeedbackKind))
    body = [
        [
            row.user,
            *(str(getattr(row, kind)) for kind in FeedbackKind),
            str(row.verdicts),
            _rate(row.acceptance_rate),
            _rate(row.dismissal_rate),
        ]
        for row in [*rows, totals]
    ]
    return _aligned([header, *body]) + _LEGEND


def stats_table(rows: Sequence[RuleStats]) -> str:
    """A plain-text table: one row per (rule, category, program version), then the totals (all
    zero when there are no rows)."""
    header = [
        "rule",
        "category",
        "version",
        *(_SHORT[k] for k in FeedbackKind),
        "accept",
        "dismiss",
    ]
    body = [
        [
            row.rule,
            row.category or "—",
            row.program_version,
            *(str(getattr(row, kind)) for kind in FeedbackKind),
            _rate(row.acceptance_rate),
            _rate(row.dismissal_rate),
        ]
        for row in rows
    ]
    totals = RuleStats(
        "all", "", None, *(sum(getattr(row, kind) for row in rows) for kind in FeedbackKind)
    )
    body.append(
        [
            "all",
            "",
            "",
            *(str(getattr(totals, kind)) for kind in FeedbackKind),
            _rate(totals.acceptance_rate),
            _rate(totals.dismissal_rate),
        ]
    )
    return _aligned([header, *body]) + _LEGEND


_LEGEND = "acc accepted · fp dismissed as false positive · later dismissed for now · ign ignored · self fixed by hand · missed reported as missed\n"


def _aligned(table: Sequence[Sequence[str]]) -> str:
    """Rows of cells as left-aligned columns, one line each."""
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)) for r in table
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"
