"""Every rule's VALID and INVALID examples, run as specifications (as Fixit's rules carry theirs)."""

from __future__ import annotations

import textwrap

import pytest

from dspy_lsp.analyzers.engine import analyze_source
from dspy_lsp.analyzers.fixes import apply_edits
from dspy_lsp.analyzers.rules import ALL_RULES

VALID = [
    pytest.param(rule, textwrap.dedent(code), id=f"{code_id}-valid-{i}")
    for code_id, rule in ALL_RULES.items()
    for i, code in enumerate(rule.VALID)
]
INVALID = [
    pytest.param(rule, example, id=f"{code_id}-invalid-{i}")
    for code_id, rule in ALL_RULES.items()
    for i, example in enumerate(rule.INVALID)
]


def test_there_are_at_least_fifteen_rules_with_examples() -> None:
    assert len(ALL_RULES) >= 15
    for rule in ALL_RULES.values():
        assert rule.VALID and rule.INVALID, rule.CODE
        assert rule.MESSAGE and rule.RATIONALE and rule.NAME, rule.CODE


@pytest.mark.parametrize(("rule", "code"), VALID)
def test_valid_example_has_no_finding(rule, code: str) -> None:
    findings = analyze_source(code, (rule.CODE,)).findings
    assert findings == (), [f.message for f in findings]


@pytest.mark.parametrize(("rule", "example"), INVALID)
def test_invalid_example_is_flagged_and_fixed(rule, example) -> None:
    code = textwrap.dedent(example.code)
    findings = analyze_source(code, (rule.CODE,)).findings
    assert findings, f"{rule.CODE} did not flag:\n{code}"
    first = findings[0]
    assert first.rule == rule.CODE
    assert first.span.start.line == example.line - 1
    fixes = [f.fix for f in findings if f.fix is not None]
    if example.fixed is None:
        assert not fixes, "this example expects no fix"
        return
    assert fixes, "this example expects a fix"
    fixed = apply_edits(code, fixes[0].edits)
    assert fixed == textwrap.dedent(example.fixed)
    assert fixes[0].safety == (example.safety or rule.FIX_SAFETY)
