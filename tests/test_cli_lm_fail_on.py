"""LM findings do not fail CI by default: rule findings decide the exit code, and an LM finding
counts only at or above ``--lm-fail-on``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli import run

# No rule finds anything here; the scripted model finds the eval call.
ONLY_THE_MODEL_FINDS = "import ast\n\n\ndef parse(text):\n    return eval(text)\n"


@pytest.fixture
def project(tmp_path: Path) -> Iterator[tuple[Path, tuple[str, ...]]]:
    from fakes.openai_server import FakeOpenAI
    from fakes.reviewer import Reviewer

    with FakeOpenAI() as fake:
        fake.responder = Reviewer()
        (tmp_path / "pyproject.toml").write_text(
            "[tool.dspy-lsp.lm]\n"
            f'cache_path = "{(tmp_path / "cache.sqlite3").as_posix()}"\n'
            "max_attempts = 1\ntimeout_s = 5\n"
        )
        (tmp_path / "mod.py").write_text(ONLY_THE_MODEL_FINDS)
        flags = ("--lm", "openai/fake", "--api-base", fake.base_url, "--trust-project")
        yield tmp_path, flags


def test_lm_findings_are_reported_but_do_not_fail_the_run_by_default(project) -> None:
    root, flags = project
    result = run("check", *flags, "--format", "json", "mod.py", cwd=root)
    findings = json.loads(result.stdout)
    assert findings and all(f["rule"].startswith("LM-") for f in findings), result.stderr
    assert result.returncode == 0


def test_lm_fail_on_a_severity_fails_the_run_on_lm_findings_at_or_above_it(project) -> None:
    root, flags = project
    found = json.loads(run("check", *flags, "--format", "json", "mod.py", cwd=root).stdout)
    severities = {f["severity"] for f in found}
    assert severities <= {"warning", "error"}
    assert run("check", *flags, "--lm-fail-on", "warning", "mod.py", cwd=root).returncode == 1
    strict = run("check", *flags, "--lm-fail-on", "error", "mod.py", cwd=root).returncode
    assert strict == (1 if "error" in severities else 0)
    assert run("check", *flags, "--lm-fail-on", "never", "mod.py", cwd=root).returncode == 0


def test_rule_findings_fail_the_run_whatever_lm_fail_on_says(project) -> None:
    root, flags = project
    (root / "mod.py").write_text(ONLY_THE_MODEL_FINDS + "\n\ndef g(x):\n    return x == None\n")
    assert run("check", *flags, "--lm-fail-on", "never", "mod.py", cwd=root).returncode == 1
