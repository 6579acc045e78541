"""The analysis service: both tiers over one file, merged in one order.

The editor (``lsp/``), ``analyzeWorkspace`` and ``check`` all analyse through here. ``run``
is the rule tier plus what the LM tier already found for the file's units (every publish);
``run_with_model`` first asks the model about the units it has not seen (commands, CI). Both
merge through ``merge``: the one order and the one de-duplication.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..analyzers.engine import Analysis, analyze_source
from ..analyzers.fault_localisation import spectrum_findings
from ..analyzers.lm_findings import at_least
from ..analyzers.models import Finding
from ..analyzers.rules import ALL_RULES
from ..analyzers.statements import StatementSplit
from .python_files import iter_python_files as iter_python_files
from .settings import ResolvedSettings, relative_path

if TYPE_CHECKING:
    from .lm.tier import LmTier
    from .verify.coverage_map import CoverageMap


def codes_for(path: Path | None, resolved: ResolvedSettings) -> tuple[str, ...]:
    relpath = relative_path(path, resolved.root) if path is not None else None
    return resolved.settings.selection().codes_for(tuple(ALL_RULES), relpath)


def rule_tier(
    text: str, path: Path | None, resolved: ResolvedSettings, previous: StatementSplit | None = None
) -> Analysis:
    """The rules selected for ``path``; ``previous`` (the file's last split) saves re-parsing."""
    return analyze_source(
        text,
        codes_for(path, resolved),
        max_chars=resolved.settings.max_file_chars,
        previous=previous,
    )


def run(
    text: str,
    path: Path | None,
    resolved: ResolvedSettings,
    lm: LmTier | None = None,
    previous: StatementSplit | None = None,
) -> Analysis:
    """Both tiers, without calling the model: the LM findings ``lm`` holds for these units."""
    rules = rule_tier(text, path, resolved, previous)
    if lm is None or rules.status.kind != "analyzed":
        return rules
    return merge(rules, lm.known_findings(text, rules.findings), _min_confidence(resolved))


@dataclass(frozen=True)
class ModelRun:
    analysis: Analysis
    lm_findings: int
    lm_error: str | None  # the model could not be asked; ``analysis`` has the rule tier alone


async def run_with_model(
    text: str, path: Path | None, resolved: ResolvedSettings, lm: LmTier
) -> ModelRun:
    """Both tiers, asking the model about every unit it has no answer for (cache first)."""
    from .lm.tier import LmUnavailable

    rules = await asyncio.to_thread(rule_tier, text, path, resolved)
    if not lm.configured or rules.status.kind != "analyzed":
        return ModelRun(rules, 0, None)
    try:
        found = await lm.analyze(text, rules.findings)
    except LmUnavailable as exc:
        return ModelRun(rules, 0, str(exc))
    shown = at_least(found, _min_confidence(resolved))
    return ModelRun(merge(rules, shown), len(shown), None)


async def tests_findings(
    text: str, relative: str, coverage: CoverageMap | None, lm: LmTier | None
) -> list[Finding]:
    """Where the failing tests of a recorded run point in this file (``relative`` to the
    project), one finding per unit (``fault_localisation``), ties among a unit's lines broken
    by a local model's surprise; none when no test failed or the file changed since the run."""
    if coverage is None or not coverage.failed or not coverage.holds_for(relative, text):
        return []
    lines = coverage.lines.get(relative, {})
    failing = set(coverage.failed)
    flagged = {n for n, tests in lines.items() if failing & set(tests)}
    surprise = await lm.surprise(text, flagged) if lm is not None and flagged else {}
    return spectrum_findings(text, lines, coverage.failed, surprise=surprise)


def _min_confidence(resolved: ResolvedSettings) -> float:
    return resolved.settings.lm.min_confidence


def merge(rules: Analysis, lm_findings: Sequence[Finding], min_confidence: float = 0.0) -> Analysis:
    """The one order of findings: the rules' by position (then rule id), then the model's by
    rank, best first: each reply's first finding before any second one, by position among
    equals. Confidence does not order (a few-shot program often gives every finding the same
    one); LM findings under ``min_confidence`` are left out. An LM finding whose id came
    earlier is dropped; LM findings that repeat a rule's finding were already left out by the LM
    tier (``without_rule_duplicates``). The rules' findings all stay: two identical statements
    give findings with one id (ids survive moves), and both are real."""
    ranked = sorted(at_least(lm_findings, min_confidence), key=_lm_order)
    ordered = sorted(rules.findings, key=_rule_order)
    seen = {finding.id for finding in ordered}
    merged = list(ordered)
    for finding in ranked:
        if finding.id not in seen:
            seen.add(finding.id)
            merged.append(finding)
    return rules.model_copy(update={"findings": tuple(merged)})


def _rule_order(finding: Finding) -> tuple[int, int, str]:
    start = finding.span.start
    return (start.line, start.column, finding.rule)


def _lm_order(finding: Finding) -> tuple[int, int, int, str]:
    start = finding.span.start
    return (finding.rank or sys.maxsize, start.line, start.column, finding.rule)
