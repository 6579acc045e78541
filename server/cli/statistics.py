"""``check --statistics``: how many findings each rule has, in ruff's layout."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from ...analyzers.models import FixSafety
from .reporters import FileReport, rule_name


@dataclass(frozen=True)
class RuleCount:
    code: str
    name: str
    count: int
    fixable: bool
    """Whether any of them has a safe fix (``--fix`` applies it)."""


def rule_counts(reports: Sequence[FileReport]) -> list[RuleCount]:
    """One row per rule with findings, the most frequent first (then by code)."""
    findings = [f for report in reports for f in report.findings]
    counts = Counter(f.rule for f in findings)
    fixable = {f.rule for f in findings if f.fix is not None and f.fix.safety == FixSafety.SAFE}
    return [
        RuleCount(code, rule_name(code), count, code in fixable)
        for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def render_statistics(reports: Sequence[FileReport], *, as_json: bool = False) -> str:
    """``3  DL104  [*] none-comparison`` per rule (tab-separated, ``[*]`` where ``--fix``
    fixes them), or a JSON list of ``{code, name, count, fixable}``."""
    rows = rule_counts(reports)
    if as_json:
        return json.dumps([asdict(row) for row in rows], indent=2) + "\n"
    if not rows:
        return ""
    count_width = max(len(str(row.count)) for row in rows)
    code_width = max(len(row.code) for row in rows)
    any_fixable = any(row.fixable for row in rows)
    lines = []
    for row in rows:
        marker = ("[*] " if row.fixable else "[ ] ") if any_fixable else ""
        lines.append(f"{row.count:>{count_width}}\t{row.code:<{code_width}}\t{marker}{row.name}")
    return "\n".join(lines) + "\n"
