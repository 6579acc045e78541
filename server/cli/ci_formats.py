"""Output formats CI systems read natively: GitHub Actions annotations and JUnit XML.

Both end up as text a person reads on the CI's page, so paths are shown as the text report
shows them (``printable_path``: odd bytes escaped).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ...analyzers.models import Severity
from .reporters import FileReport, printable_path

_GITHUB_LEVEL = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "notice",
    Severity.HINT: "notice",
}
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters XML 1.0 cannot hold, even escaped."""


def render_github(reports: Sequence[FileReport]) -> str:
    """One workflow command per finding, which GitHub shows on the pull request's diff:
    ``::error title=dspy-lsp (DL101),file=a.py,line=1,col=7,endLine=1,endColumn=9::a.py:1:7: DL101 …``.
    """
    lines = []
    for report in reports:
        path = printable_path(report.path)
        for f in report.findings:
            line, col = f.span.start.line + 1, f.span.start.column + 1
            properties = {
                "title": f"dspy-lsp ({f.rule})",
                "file": path,
                "line": line,
                "col": col,
                "endLine": f.span.end.line + 1,
                "endColumn": f.span.end.column + 1,
            }
            listed = ",".join(f"{key}={_property(str(value))}" for key, value in properties.items())
            message = _data(f"{path}:{line}:{col}: {f.rule} {f.message}")
            lines.append(f"::{_GITHUB_LEVEL[f.severity]} {listed}::{message}\n")
    return "".join(lines)


def _data(text: str) -> str:
    """A workflow command's message: a newline would end the command."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render_junit(reports: Sequence[FileReport]) -> str:
    """A test suite per file and a failing test case per finding (a passing one for a clean
    file), as ruff's ``junit`` format; a file that could not be analysed is a skipped case."""
    from xml.etree import ElementTree as ET

    from ...analyzers.engine import SKIPPED

    suites = ET.Element("testsuites", name="dspy-lsp")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for report in reports:
        path = _xml(printable_path(report.path))
        suite = ET.SubElement(suites, "testsuite", name=path)
        counts = {"tests": 0, "failures": 0, "skipped": 0}
        for f in report.findings:
            line, col = f.span.start.line + 1, f.span.start.column + 1
            case = ET.SubElement(
                suite,
                "testcase",
                name=f"dspy-lsp.{f.rule}",
                classname=path,
                file=path,
                line=str(line),
                column=str(col),
            )
            message = _xml(f.message)
            if f.rule == SKIPPED:
                ET.SubElement(case, "skipped", message=message)
                counts["skipped"] += 1
            else:
                failure = ET.SubElement(case, "failure", message=message, type=f.severity.value)
                failure.text = f"{path}:{line}:{col}: {f.rule} {message}"
                counts["failures"] += 1
            counts["tests"] += 1
        if not report.findings:
            ET.SubElement(suite, "testcase", name="dspy-lsp", classname=path, file=path)
            counts["tests"] += 1
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        suites.set(key, str(value))
    ET.indent(suites)
    body = ET.tostring(suites, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def _xml(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else "\ufffd", text)
