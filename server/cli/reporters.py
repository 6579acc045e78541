"""CLI output formats: ruff-like text, JSON, and SARIF 2.1.0 for code scanning.

A path is whatever the file system holds, newlines and bytes that are not UTF-8 included (they
arrive as lone surrogates, ``os.fsdecode``). Text escapes them, so one finding stays one line;
JSON keeps them exact (``\\udcff`` escapes, which ``os.fsencode`` turns back into the byte); SARIF
percent-encodes the raw bytes, as a URI must.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from ...analyzers.models import Finding, Fix, FixSafety, Position, Severity, Span

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_FAILING_LM = {
    "error": frozenset({Severity.ERROR}),
    "warning": frozenset({Severity.ERROR, Severity.WARNING}),
    "never": frozenset(),
}
"""Each choice of ``--lm-fail-on`` (``check_options.LM_FAIL_ON``): the severities at which an
LM finding fails the run."""
_SARIF_LEVEL = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "note",
    Severity.HINT: "note",
}
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class FileReport:
    """One file's findings. Holding no ``Analysis`` keeps the engine (and libcst) unimported in a
    run answered from the results cache."""

    path: str  # as given on the command line, with forward slashes; exact (see above)
    findings: tuple[Finding, ...]
    failing: bool
    """Whether a finding fails the run (``fails_the_run``)."""
    fixed: int = 0

    @classmethod
    def of(
        cls, path: str, findings: Sequence[Finding], fixed: int = 0, lm_fail_on: str = "never"
    ) -> FileReport:
        return cls(path, tuple(findings), fails_the_run(findings, lm_fail_on), fixed)


def _safe(finding: Finding) -> bool:
    return finding.fix is not None and finding.fix.safety == FixSafety.SAFE


def fails_the_run(findings: Sequence[Finding], lm_fail_on: str = "never") -> bool:
    """Skipped files are reported but do not fail a run; an LM finding fails it only at or above
    ``lm_fail_on`` (a model's opinion does not break CI unless asked to); every other finding
    does."""
    from ...analyzers.engine import SKIPPED
    from ...analyzers.lm_findings import LM_RULE_PREFIX

    failing_lm = _FAILING_LM[lm_fail_on]
    return any(
        finding.rule != SKIPPED
        and (not finding.rule.startswith(LM_RULE_PREFIX) or finding.severity in failing_lm)
        for finding in findings
    )


def rule_name(code: str) -> str:
    """A rule's name (``none-comparison``), a meta finding's, else the code (LM findings)."""
    from ...analyzers.engine import SKIPPED, SYNTAX_ERROR
    from ...analyzers.rules import ALL_RULES

    if code in ALL_RULES:
        return ALL_RULES[code].NAME
    return {SYNTAX_ERROR: "syntax-error", SKIPPED: "skipped-file"}.get(code, code)


def printable_path(path: str) -> str:
    """``path`` as one line of text: backslashes, control characters and bytes that are not
    UTF-8 escaped as Python writes them (``new\\nline.py``, ``bad\\xffname.py``)."""
    return "".join(_printable_char(c) for c in path)


def _printable_char(char: str) -> str:
    if "\udc80" <= char <= "\udcff":  # a byte os.fsdecode could not decode
        return f"\\x{ord(char) - 0xDC00:02x}"
    if char == "\\" or not char.isprintable():
        return repr(char)[1:-1]
    return char


def render_text(reports: Sequence[FileReport]) -> str:
    lines = []
    for report in reports:
        path = printable_path(report.path)
        for f in report.findings:
            fixable = " [*]" if _safe(f) else ""
            lines.append(
                f"{path}:{f.span.start.line + 1}:{f.span.start.column + 1}: "
                f"{f.rule}{fixable} {f.message}"
            )
    total = sum(len(r.findings) for r in reports)
    fixed = sum(r.fixed for r in reports)
    fixable = sum(1 for r in reports for f in r.findings if _safe(f))
    unsafe = sum(1 for r in reports for f in r.findings if f.fix and not _safe(f))
    summary = f"Found {total} finding{'s' if total != 1 else ''} in {len(reports)} file{'s' if len(reports) != 1 else ''}."
    if fixed:
        summary += f" Fixed {fixed}."
    if fixable:
        summary += f" [*] {fixable} fixable with `dspy-lsp check --fix`."
    if unsafe:
        summary += f" {unsafe} more with `--fix --unsafe-fixes` (review them)."
    if total == 0 and not fixed:
        summary = f"All checks passed ({len(reports)} file{'s' if len(reports) != 1 else ''})."
    lines.append(summary)
    return "\n".join(lines) + "\n"


class _JsonModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class JsonPosition(_JsonModel):
    """1-based, unlike ``Position``: what people and tools reading the output expect."""

    line: int
    column: int

    @classmethod
    def of(cls, position: Position) -> JsonPosition:
        return cls(line=position.line + 1, column=position.column + 1)


class JsonFinding(_JsonModel):
    """One finding of ``check --format json``: a ``Finding`` with its path, as ruff prints it."""

    path: str
    id: str
    rule: str
    severity: Severity
    message: str
    rationale: str
    confidence: float
    origin: str
    rank: int | None
    """An LM finding's place in its model's reply (1 = first); null for a rule's."""
    start: JsonPosition
    end: JsonPosition
    fix: Fix | None

    @classmethod
    def of(cls, path: str, finding: Finding) -> JsonFinding:
        return cls(
            path=path,
            id=finding.id,
            rule=finding.rule,
            severity=finding.severity,
            message=finding.message,
            rationale=finding.rationale,
            confidence=finding.confidence,
            origin=finding.origin,
            rank=finding.rank,
            start=JsonPosition.of(finding.span.start),
            end=JsonPosition.of(finding.span.end),
            fix=finding.fix,
        )


def render_json(reports: Sequence[FileReport]) -> str:
    """1-based lines and columns (code points), like ruff's JSON output."""
    items = [
        JsonFinding.of(report.path, f).model_dump(mode="json")
        for report in reports
        for f in report.findings
    ]
    return _dumps(items)


def _dumps(value: object) -> str:
    """JSON with text kept readable, and lone surrogates (undecodable bytes of a path) escaped,
    so the output is UTF-8 and a reader gets the exact path back."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m[0]):04x}", text) + "\n"


def _sarif_uri(path: str) -> dict[str, str]:
    """An artifact location whose URI holds the path's exact bytes, percent-encoded."""
    if Path(path).is_absolute():
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(os.fsencode(path)), "uriBaseId": "%SRCROOT%"}


def _sarif_rules() -> list[dict[str, Any]]:
    from ...analyzers.engine import SKIPPED, SYNTAX_ERROR
    from ...analyzers.rule_docs import rule_doc_url
    from ...analyzers.rules import ALL_RULES

    meta_docs = {
        SYNTAX_ERROR: ("syntax-error", "The file does not parse."),
        SKIPPED: (
            "skipped-file",
            "The file could not be analysed (binary, too large or undecodable).",
        ),
    }
    rules = [
        {
            "id": code,
            "name": name,
            "shortDescription": {"text": text},
            "fullDescription": {"text": text},
            "helpUri": rule_doc_url(code),
            "defaultConfiguration": {"level": "error" if code == SYNTAX_ERROR else "note"},
        }
        for code, (name, text) in meta_docs.items()
    ]
    for code, rule in ALL_RULES.items():
        docs = rule_doc_url(code)
        rules.append(
            {
                "id": code,
                "name": rule.NAME,
                "shortDescription": {"text": rule.MESSAGE},
                "fullDescription": {"text": rule.RATIONALE},
                "help": {
                    "text": f"{rule.MESSAGE}\n\n{rule.RATIONALE}\n\n{docs}",
                    "markdown": f"{rule.MESSAGE}\n\n{rule.RATIONALE}\n\n[{code}]({docs})",
                },
                "helpUri": docs,
                "defaultConfiguration": {"level": _SARIF_LEVEL[rule.SEVERITY]},
                "properties": {"fixSafety": rule.FIX_SAFETY.value},
            }
        )
    return rules


def _sarif_region(span: Span) -> dict[str, int]:
    """1-based lines and columns (code points); the end column is just past the region."""
    return {
        "startLine": span.start.line + 1,
        "startColumn": span.start.column + 1,
        "endLine": span.end.line + 1,
        "endColumn": span.end.column + 1,
    }


def _sarif_fix(fix: Fix, artifact: dict[str, str]) -> dict[str, Any]:
    """A SARIF ``fix``: each edit a replacement of a region of the one file it changes."""
    return {
        "description": {"text": fix.title},
        "artifactChanges": [
            {
                "artifactLocation": artifact,
                "replacements": [
                    {
                        "deletedRegion": _sarif_region(edit.span),
                        "insertedContent": {"text": edit.new_text},
                    }
                    for edit in fix.edits
                ],
            }
        ],
        "properties": {"safety": fix.safety.value},
    }


def render_sarif(reports: Sequence[FileReport], tool_version: str) -> str:
    from ...analyzers.rule_docs import REPOSITORY

    rules = _sarif_rules()
    rule_index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = []
    for report in reports:
        artifact = _sarif_uri(report.path)
        for f in report.findings:
            results.append(
                {
                    "ruleId": f.rule,
                    "ruleIndex": rule_index.get(f.rule, -1),
                    "level": _SARIF_LEVEL[f.severity],
                    "message": {"text": f.message},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": artifact,
                                "region": _sarif_region(f.span),
                            }
                        }
                    ],
                    "partialFingerprints": {"dspyLspFindingId/v1": f.id},
                    **({"fixes": [_sarif_fix(f.fix, artifact)]} if f.fix is not None else {}),
                    "properties": {
                        "confidence": f.confidence,
                        "origin": f.origin,
                        **({"rank": f.rank} if f.rank is not None else {}),
                    },
                }
            )
    sarif = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "dspy-lsp",
                        "version": tool_version,
                        "informationUri": REPOSITORY,
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return _dumps(sarif)
