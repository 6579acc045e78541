"""``dspy-lsp feedback stats|export``: what users did with findings, per rule and program version.

The store is found the way the server finds it: ``feedback.path`` from the project's settings,
else the per-user file keyed by the workspace root.
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
from ..store.feedback_store import (
    FeedbackStore,
    FeedbackStoreError,
    RuleStats,
    default_store_path,
)

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
    feedback = sub.add_parser("feedback", help="acceptance statistics and exports of feedback")
    verbs = feedback.add_subparsers(dest="verb", required=True)
    stats = verbs.add_parser("stats", help="acceptance and dismissal rates per rule and version")
    export = verbs.add_parser("export", help="every event, one JSON object per line")
    for verb in (stats, export):
        verb.add_argument("--store", type=Path, help="the feedback database (default: found)")
        verb.add_argument("--workspace", type=Path, default=None, help="default: current dir")
        verb.add_argument("--since", type=since_time, help="7d, 24h, 30m or an ISO date")
    stats.add_argument("--until", type=since_time, help="7d, 24h, 30m or an ISO date")
    stats.add_argument("--format", choices=("text", "json"), default="text")
    export.add_argument("--format", choices=("jsonl",), default="jsonl")
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
    if explicit is not None:
        return explicit
    directory = (workspace or Path.cwd()).resolve()
    resolved = project_settings(directory)
    if resolved.settings.feedback.path:
        return Path(resolved.settings.feedback.path)
    return default_store_path(resolved.root or directory)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    path = store_path(args.workspace, args.store)
    if not path.is_file():
        print(f"dspy-lsp: no feedback recorded yet ({path} does not exist)", file=sys.stderr)
        return EXIT_ERROR
    try:
        with FeedbackStore(path) as store:
            if args.verb == "export":
                if args.output is None:
                    count = store.export_jsonl(out, since=args.since)
                else:
                    with args.output.open("w", encoding="utf-8") as handle:
                        count = store.export_jsonl(handle, since=args.since)
                print(f"dspy-lsp: exported {count} events from {path}", file=sys.stderr)
                return EXIT_OK
            rows = store.stats(since=args.since, until=args.until)
    except (FeedbackStoreError, OSError) as exc:
        print(f"dspy-lsp: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.format == "json":
        out.write(json.dumps([_as_json(row) for row in rows], indent=2) + "\n")
    else:
        out.write(stats_table(rows))
    return EXIT_OK


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _as_json(row: RuleStats) -> dict[str, object]:
    return {
        "rule": row.rule,
        "category": row.category,
        "program_version": row.program_version,
        **{kind: getattr(row, kind) for kind in FeedbackKind},
        "total": row.total,
        "acceptance_rate": row.acceptance_rate,
        "dismissal_rate": row.dismissal_rate,
    }


def stats_table(rows: Sequence[RuleStats]) -> str:
    """A plain-text table: one row per (rule, category, program version), then the totals."""
    if not rows:
        return "no feedback events in this window\n"
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
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True))
        for r in [header, *body]
    ]
    legend = "acc accepted · fp dismissed as false positive · later dismissed for now · ign ignored · self fixed by hand · missed reported as missed\n"
    return "\n".join(line.rstrip() for line in lines) + "\n" + legend
