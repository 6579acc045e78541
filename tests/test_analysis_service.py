"""The analysis service: one merge order and one de-duplication for every caller."""

from __future__ import annotations

from pathlib import Path

from dspy_lsp.analyzers.models import Finding, Severity, Span
from dspy_lsp.server.analysis import merge, run
from dspy_lsp.server.settings import ProjectConfig, resolve

CODE = "def parse(text, seen=[]):\n    return eval(text)\n"


def _lm(line: int, column: int, rule: str = "LM-security") -> Finding:
    span = Span.of(line, column, line, column + 4)
    return Finding(
        id=Finding.make_id(rule, "x", span),
        rule=rule,
        severity=Severity.WARNING,
        message="m",
        rationale="r",
        confidence=0.9,
        span=span,
        origin="analyze@v1",
    )


def test_without_an_lm_run_is_the_rule_tier() -> None:
    analysis = run(CODE, Path("mod.py"), resolve({}, ProjectConfig(root=None)))
    assert [f.rule for f in analysis.findings] == ["DL101"]


def test_merge_orders_by_position_rules_first_and_drops_repeats() -> None:
    rules = run(CODE, Path("mod.py"), resolve({}, ProjectConfig(root=None)))
    [rule] = rules.findings
    start = rule.span.start
    later, same_place = _lm(1, 4), _lm(start.line, start.column, "LM-bug")
    merged = merge(rules, [later, same_place, later])
    assert [f.rule for f in merged.findings] == ["DL101", "LM-bug", "LM-security"]
    assert merge(merged, merged.findings).findings == merged.findings
