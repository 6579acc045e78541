"""SARIF for code scanning: each rule links its docs page (``helpUri``), and a finding with a fix
carries it as SARIF 2.1.0 ``fixes`` (artifact changes made of replacements)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from test_cli import BUGGY, SCHEMA, run

from dspy_lsp.analyzers.rule_docs import rule_doc_url

DOCS = "https://github.com/dspy-lsp/dspy-lsp/blob/main/docs/rules/"


@pytest.fixture
def sarif(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "m.py").write_text(BUGGY)
    result = run("check", "--output-format", "sarif", "m.py", cwd=tmp_path)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    return report


def test_every_rule_links_its_docs_page(sarif: dict[str, Any]) -> None:
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert all(rule["helpUri"] == rule_doc_url(rule["id"]) for rule in rules)
    by_id = {rule["id"]: rule for rule in rules}
    assert by_id["DL101"]["helpUri"] == DOCS + "DL101.md"
    for result in sarif["runs"][0]["results"]:
        assert rules[result["ruleIndex"]]["helpUri"] == DOCS + f"{result['ruleId']}.md"


def test_a_finding_with_a_fix_carries_it_as_replacements(sarif: dict[str, Any]) -> None:
    results = {result["ruleId"]: result for result in sarif["runs"][0]["results"]}
    [fix] = results["DL104"]["fixes"]
    assert fix["description"]["text"]
    assert fix["properties"] == {"safety": "safe"}
    [change] = fix["artifactChanges"]
    location = results["DL104"]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert change["artifactLocation"] == location
    [replacement] = change["replacements"]
    assert set(replacement) == {"deletedRegion", "insertedContent"}
    assert set(replacement["deletedRegion"]) == {"startLine", "startColumn", "endLine", "endColumn"}
    assert _applied(BUGGY, change["replacements"]) == BUGGY.replace("a == None", "a is None")


def test_an_unsafe_fix_is_carried_too_and_says_so(sarif: dict[str, Any]) -> None:
    results = {result["ruleId"]: result for result in sarif["runs"][0]["results"]}
    [fix] = results["DL101"]["fixes"]
    assert fix["properties"] == {"safety": "unsafe"}
    assert "a=None" in _applied(BUGGY, fix["artifactChanges"][0]["replacements"])


def _applied(text: str, replacements: list[dict[str, Any]]) -> str:
    """``text`` with SARIF replacements applied (1-based lines and columns, end exclusive)."""
    lines = text.splitlines(keepends=True)

    def offset(line: int, column: int) -> int:
        return sum(len(lines[i]) for i in range(line - 1)) + column - 1

    spans = [
        (
            offset(r["deletedRegion"]["startLine"], r["deletedRegion"]["startColumn"]),
            offset(r["deletedRegion"]["endLine"], r["deletedRegion"]["endColumn"]),
            r["insertedContent"]["text"],
        )
        for r in replacements
    ]
    for start, end, new in sorted(spans, reverse=True):
        text = text[:start] + new + text[end:]
    return text
