"""``dspy-lsp`` as CI runs it: exit codes, the three formats, --fix, config discovery."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from dspy_lsp.server.cli.main import main

SCHEMA = Path(__file__).parent / "fixtures" / "sarif-2.1.0-rtm.5.json"
BUGGY = "def f(a=[]):\n    if a == None:\n        return 0\n    return 1\n"
CLEAN = "def f(a=None):\n    return a\n"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in-process (start-up would dominate the suite); one test runs the real script."""
    out, err = io.StringIO(), io.StringIO()
    previous = Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.chdir(previous)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def test_installed_console_script_runs(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(BUGGY)
    # Beside this interpreter first: a virtual environment need not be activated for
    # `python -m pytest` to test the script pip installed into it.
    beside = shutil.which("dspy-lsp", path=str(Path(sys.executable).parent))
    script = beside or shutil.which("dspy-lsp")
    assert script, "pip install -e . puts a dspy-lsp script beside python or on PATH"
    result = subprocess.run(
        [script, "check", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1 and "DL104" in result.stdout
    module = subprocess.run(
        [sys.executable, "-m", "dspy_lsp.server.cli", "--version"],
        capture_output=True,
        text=True,
    )
    assert module.stdout.startswith("dspy-lsp ")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "buggy.py").write_text(BUGGY)
    (tmp_path / "pkg" / "clean.py").write_text(CLEAN)
    return tmp_path


def test_clean_files_exit_zero(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text(CLEAN)
    result = run("check", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All checks passed" in result.stdout


def test_findings_exit_one_with_ruff_like_lines(project: Path) -> None:
    result = run("check", "pkg", cwd=project)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert (
        "pkg/buggy.py:1:7: DL101 Mutable default argument is created once and shared by every call"
        in lines
    )
    assert any(line.startswith("pkg/buggy.py:2:8: DL104 [*] ") for line in lines)
    assert lines[-1].startswith("Found 2 findings in 2 files.")


def test_usage_errors_exit_two(tmp_path: Path) -> None:
    assert run("check", str(tmp_path / "missing")).returncode == 2
    assert run("check", "--format", "xml", str(tmp_path)).returncode == 2
    assert run("frobnicate").returncode == 2


def test_json_output_has_one_based_positions_and_fixes(project: Path) -> None:
    result = run("check", "--format", "json", "pkg", cwd=project)
    assert result.returncode == 1
    items = json.loads(result.stdout)
    by_rule = {item["rule"]: item for item in items}
    assert by_rule["DL104"]["start"] == {"line": 2, "column": 8}
    assert by_rule["DL104"]["fix"]["safety"] == "safe"
    assert by_rule["DL101"]["path"] == "pkg/buggy.py"


def test_sarif_output_is_valid_sarif_2_1_0(project: Path) -> None:
    result = run("check", "--format", "sarif", "pkg", cwd=project)
    assert result.returncode == 1
    sarif = json.loads(result.stdout)
    jsonschema.validate(sarif, json.loads(SCHEMA.read_text()))
    run_ = sarif["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    for res in run_["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        region = res["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
    assert {r["ruleId"] for r in run_["results"]} == {"DL101", "DL104"}


def test_fix_applies_safe_fixes_in_place_and_keeps_crlf(tmp_path: Path) -> None:
    target = tmp_path / "crlf.py"
    target.write_bytes(BUGGY.replace("\n", "\r\n").encode())
    result = run("check", "--fix", str(target))
    assert result.returncode == 1  # DL101 remains: its fix is unsafe
    assert (
        target.read_bytes()
        == BUGGY.replace("a == None", "a is None").replace("\n", "\r\n").encode()
    )
    assert "Fixed 1." in result.stdout


def test_unsafe_fixes_need_the_flag(tmp_path: Path) -> None:
    target = tmp_path / "m.py"
    target.write_text(BUGGY)
    result = run("check", "--fix", "--unsafe-fixes", str(target))
    assert result.returncode == 0, result.stdout
    assert "a=None" in target.read_text() and "a is None" in target.read_text()


def test_select_and_ignore_flags(project: Path) -> None:
    only_101 = run("check", "--format", "json", "--select", "DL101", "pkg", cwd=project)
    assert {i["rule"] for i in json.loads(only_101.stdout)} == {"DL101"}
    no_101 = run("check", "--format", "json", "--ignore", "DL101", "pkg", cwd=project)
    assert {i["rule"] for i in json.loads(no_101.stdout)} == {"DL104"}


def test_pyproject_is_found_upward_from_the_checked_path(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.dspy-lsp]\nignore = ["DL104"]\n')
    result = run("check", "--format", "json", str(project / "pkg" / "buggy.py"))
    assert {i["rule"] for i in json.loads(result.stdout)} == {"DL101"}


def test_bad_config_warns_and_uses_defaults(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.dspy-lsp]\nselect = "DL1"\nunknown = 1\n')
    result = run("check", "pkg", cwd=project)
    assert result.returncode == 1
    assert "unknown" in result.stderr and "warning" in result.stderr


def test_undecodable_and_binary_files_are_reported_not_crashed(tmp_path: Path) -> None:
    (tmp_path / "latin.py").write_bytes("s = 'café'\n".encode("latin-1"))
    (tmp_path / "declared.py").write_bytes(
        "# -*- coding: latin-1 -*-\ns = 'café'\n".encode("latin-1")
    )
    (tmp_path / "blob.py").write_bytes(b"\x00\x01\x02binary")
    result = run("check", "--format", "json", str(tmp_path))
    items = {Path(i["path"]).name: i for i in json.loads(result.stdout)}
    assert items["latin.py"]["rule"] == "DL001" and "utf-8" in items["latin.py"]["message"]
    assert items["blob.py"]["rule"] == "DL001" and "binary" in items["blob.py"]["message"]
    assert "declared.py" not in items  # a declared encoding is honoured
    assert result.returncode == 0  # skipped files are reported but do not fail the run


def test_rules_command_lists_every_rule_with_docs() -> None:
    result = run("rules", "--format", "json")
    rules = json.loads(result.stdout)
    assert len(rules) >= 15
    assert all(r["rationale"] and r["message"] for r in rules)
    assert run("--version").stdout.startswith("dspy-lsp ")


LM_CODE = "import ast\n\n\ndef parse(text, seen=[]):\n    return eval(text)\n"


@pytest.fixture
def lm_project(tmp_path: Path):
    from fakes.openai_server import FakeOpenAI
    from fakes.reviewer import Reviewer

    with FakeOpenAI() as fake:
        fake.responder = Reviewer()
        (tmp_path / "pyproject.toml").write_text(
            "[tool.dspy-lsp.lm]\n"
            f'api_base = "{fake.base_url}"\n'
            f'cache_path = "{(tmp_path / "cache.sqlite3").as_posix()}"\n'
            "max_attempts = 1\ntimeout_s = 5\n"
        )
        (tmp_path / "mod.py").write_text(LM_CODE)
        yield tmp_path, fake


def _lm_flags(fake) -> tuple[str, ...]:
    """Model and endpoint travel together; the project's own LM settings count once trusted."""
    return ("--lm", "openai/fake", "--api-base", fake.base_url, "--trust-project")


def test_lm_flag_adds_model_findings_to_every_format(lm_project) -> None:
    project, fake = lm_project
    result = run("check", *_lm_flags(fake), "--format", "json", "mod.py", cwd=project)
    assert result.returncode == 1, result.stderr
    rules = sorted(item["rule"] for item in json.loads(result.stdout))
    assert rules == ["DL101", "LM-bug"]  # the repair finder: it changed the eval line
    assert "LM tier: 1 calls" in result.stderr
    again = run("check", *_lm_flags(fake), "mod.py", cwd=project)
    assert "LM-bug" in again.stdout and "0 calls, 1 cache hits" in again.stderr
    assert fake.request_count == 1


def test_no_lm_skips_the_model(lm_project) -> None:
    project, fake = lm_project
    (project / "pyproject.toml").write_text(
        (project / "pyproject.toml").read_text() + 'model = "openai/fake"\n'
    )
    result = run("check", "--no-lm", "mod.py", cwd=project)
    assert "LM-" not in result.stdout and fake.request_count == 0


def test_a_model_that_never_answers_is_an_error_after_the_rule_findings(lm_project) -> None:
    project, fake = lm_project
    fake.script(*["500"] * 5)
    result = run("check", *_lm_flags(fake), "mod.py", cwd=project)
    assert result.returncode == 2
    assert "DL101" in result.stdout and "LM-" not in result.stdout
    assert "1 failures, 0 unparsable, 0 truncated" in result.stderr
    told = result.stderr.splitlines()[-1]
    assert told.startswith("dspy-lsp: error: LM unavailable: LMServerError")
    assert told.endswith("(openai/fake: 1 calls, none answered)")
