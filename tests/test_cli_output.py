"""``check``'s reports as ruff users expect them: ``--output-format`` (``--format`` kept),
GitHub annotations, JUnit XML, ``--statistics`` and ``--exit-zero``."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest
from test_cli import BUGGY, CLEAN, run


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "buggy.py").write_text(BUGGY)
    (tmp_path / "pkg" / "clean.py").write_text(CLEAN)
    return tmp_path


def test_format_is_another_name_for_output_format(project: Path) -> None:
    new = run("check", "--output-format", "json", "pkg", cwd=project)
    old = run("check", "--format", "json", "pkg", cwd=project)
    assert new.stdout == old.stdout
    assert {item["rule"] for item in json.loads(new.stdout)} == {"DL101", "DL104"}


def test_github_format_is_one_workflow_command_per_finding(project: Path) -> None:
    result = run("check", "--output-format", "github", "pkg", cwd=project)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    dl101 = next(line for line in lines if "(DL101)" in line)
    assert dl101.startswith("::")
    level, _, rest = dl101[2:].partition(" ")
    assert level in ("error", "warning", "notice")
    properties, _, message = rest.partition("::")
    assert properties.split(",")[:4] == [
        "title=dspy-lsp (DL101)",
        "file=pkg/buggy.py",
        "line=1",
        "col=7",
    ]
    assert message.startswith("pkg/buggy.py:1:7: DL101 Mutable default argument")


def test_github_format_escapes_what_would_end_a_command(tmp_path: Path) -> None:
    odd = tmp_path / "a,b:c%.py"
    odd.write_text(BUGGY)
    result = run("check", "--output-format", "github", odd.name, cwd=tmp_path)
    line = result.stdout.splitlines()[0]
    assert ",file=a%2Cb%3Ac%25.py," in line
    assert "::a,b:c%25.py:" in line


def test_junit_format_has_a_failing_case_per_finding_and_a_passing_one_per_clean_file(
    project: Path,
) -> None:
    result = run("check", "--output-format", "junit", "pkg", cwd=project)
    assert result.returncode == 1
    assert result.stdout.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    suites = ElementTree.fromstring(result.stdout)
    assert suites.tag == "testsuites"
    assert (suites.get("tests"), suites.get("failures")) == ("3", "2")
    by_file = {suite.get("name"): suite for suite in suites}
    assert set(by_file) == {"pkg/buggy.py", "pkg/clean.py"}
    cases = {case.get("name"): case for case in by_file["pkg/buggy.py"]}
    assert set(cases) == {"dspy-lsp.DL101", "dspy-lsp.DL104"}
    failure = cases["dspy-lsp.DL104"].find("failure")
    assert failure is not None and failure.text.startswith("pkg/buggy.py:2:8: DL104 ")
    assert (cases["dspy-lsp.DL104"].get("line"), cases["dspy-lsp.DL104"].get("column")) == (
        "2",
        "8",
    )
    [passing] = list(by_file["pkg/clean.py"])
    assert passing.find("failure") is None


def test_statistics_count_the_findings_of_each_rule_as_ruff_does(tmp_path: Path) -> None:
    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text(BUGGY)
    (tmp_path / "c.py").write_text("def g(x):\n    return x == None\n")
    result = run("check", "--statistics", ".", cwd=tmp_path)
    assert result.returncode == 1
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [(count.strip(), code.strip()) for count, code, _ in rows] == [
        ("3", "DL104"),
        ("2", "DL101"),
    ]
    assert rows[0][2].startswith("[*] ") and rows[1][2].startswith("[ ] ")
    as_json = json.loads(run("check", "--statistics", "--format", "json", ".", cwd=tmp_path).stdout)
    assert [(row["code"], row["count"], row["fixable"]) for row in as_json] == [
        ("DL104", 3, True),
        ("DL101", 2, False),
    ]
    assert all(row["name"] and row["name"] != row["code"] for row in as_json)


def test_statistics_of_a_clean_tree_print_nothing(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text(CLEAN)
    result = run("check", "--statistics", str(tmp_path))
    assert (result.returncode, result.stdout) == (0, "")


def test_exit_zero_reports_the_findings_and_exits_zero(project: Path) -> None:
    result = run("check", "--exit-zero", "pkg", cwd=project)
    assert result.returncode == 0
    assert "DL101" in result.stdout and "Found 2 findings" in result.stdout


def test_exit_zero_still_exits_two_on_a_usage_error(tmp_path: Path) -> None:
    assert run("check", "--exit-zero", str(tmp_path / "missing")).returncode == 2
