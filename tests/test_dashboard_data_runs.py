"""Runs of ``dspy-lsp optimize`` and ``learn`` leave the records the dashboard's jobs panel reads:
real processes, a scripted model behind a loopback OpenAI server, a real registry."""

from __future__ import annotations

import subprocess
from pathlib import Path

from fakes.learner import CLEAN_CODE, Learner
from fakes.openai_server import FakeOpenAI
from test_optimize_cli import record_accepted

from dspy_lsp.server.children import CLI
from dspy_lsp.server.dashboard.run_records import read_runs
from dspy_lsp.server.store.registry import ProgramRegistry

SMALL = ("--budget", "2", "--max-train", "6", "--max-dev", "6", "--no-rule-examples")


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, cwd=tmp_path)


def test_an_optimize_run_records_its_progress_log_and_outcome(tmp_path: Path) -> None:
    (tmp_path / "clean.py").write_text(CLEAN_CODE)
    programs = tmp_path / "programs"
    with FakeOpenAI(responder=Learner()) as fake:
        run = _cli(
            tmp_path,
            "optimize", "--lm", "openai/learner", "--api-base", fake.base_url,
            "--programs-dir", str(programs), "--store", str(tmp_path / "none.sqlite3"),
            "--workspace", str(tmp_path), *SMALL,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    [record], problems = read_runs(programs)
    assert problems == []
    active = ProgramRegistry(programs).active("analyze")
    assert (record.command, record.program, record.status, record.exit_code) == (
        "optimize",
        "analyze",
        "succeeded",
        0,
    )
    assert record.saved == {"analyze": active} and record.activated == {"analyze": active}
    assert record.finished is not None and record.finished >= record.started
    assert record.stage is not None and record.stage.startswith("analyze: ")
    assert any(line.startswith("dspy-lsp optimize: 6 train") for line in record.log)
    assert all(line in run.stderr for line in record.log)  # what it printed, kept


def test_an_optimize_run_that_fails_is_recorded_as_failed_with_why(tmp_path: Path) -> None:
    programs = tmp_path / "programs"
    run = _cli(tmp_path, "optimize", "--workspace", str(tmp_path), "--programs-dir", str(programs))
    assert run.returncode == 2
    [record], _ = read_runs(programs)
    assert (record.status, record.exit_code) == ("failed", 2)
    assert record.log == ("dspy-lsp optimize: no LM (pass --lm or set lm.model)",)


def test_a_learn_run_that_starts_optimize_is_recorded_beside_it(tmp_path: Path) -> None:
    store = record_accepted(tmp_path / "feedback.sqlite3", 3)
    programs = tmp_path / "programs"
    with FakeOpenAI(responder=Learner()) as fake:
        run = _cli(
            tmp_path,
            "learn", "--min-new-labels", "2", "--store", str(store),
            "--programs-dir", str(programs), "--workspace", str(tmp_path),
            "--lm", "openai/learner", "--api-base", fake.base_url,
            "--budget", "2", "--max-train", "6", "--max-dev", "6",
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    records, _ = read_runs(programs)
    by_command = {record.command: record for record in records}
    assert set(by_command) == {"learn", "optimize"}
    learn = by_command["learn"]
    assert (learn.status, learn.exit_code) == ("succeeded", 0)
    assert learn.log == (
        "dspy-lsp learn: 3 new labelled events (threshold 2)",
        "dspy-lsp learn: optimize exited with 0",
    )
