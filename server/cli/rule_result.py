"""What the rule tier found in one file: all a ``check`` report needs, and all the cache keeps.

The engine is imported only to compute one, so a run answered from the cache never loads it.
"""

from __future__ import annotations

from pathlib import Path

from ...analyzers.models import Finding, Frozen
from ..settings import ResolvedSettings


class RuleResult(Frozen):
    findings: tuple[Finding, ...]
    failing: bool
    """Whether a finding fails the run (``fails_the_run``), decided where the rules ran."""


def rule_result(text: str, path: Path, resolved: ResolvedSettings) -> RuleResult:
    """The rules selected for ``path`` over ``text``: what ``check`` reports for it."""
    from ..analysis import run
    from .reporters import fails_the_run

    findings = run(text, path, resolved).findings
    return RuleResult(findings=findings, failing=fails_the_run(findings))
