"""``dspy-lsp optimize`` and ``dspy-lsp learn`` as a user runs them: separate processes, a real
HTTP model (a scripted learner behind a loopback OpenAI server), a real registry on disk."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from fakes.bug_learner import QUIXBUGS, BugLearner, quixbugs_jsonl
from fakes.learner import CLEAN_CODE, Learner
from fakes.openai_server import FakeOpenAI

from dspy_lsp.analyzers.learning.records import FeedbackEvent
from dspy_lsp.server.children import CLI
from dspy_lsp.server.store.feedback_store import FeedbackStore
from dspy_lsp.server.store.registry import ProgramRegistry

SMALL = ("--budget", "2", "--max-train", "6", "--max-dev", "6", "--no-rule-examples")


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )


def _optimize(tmp_path: Path, fake: FakeOpenAI, *extra: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "clean.py").write_text(CLEAN_CODE)
    return _cli(
        tmp_path,
        "optimize", "--lm", "openai/learner", "--api-base", fake.base_url,
        "--programs-dir", str(tmp_path / "programs"), "--store", str(tmp_path / "none.sqlite3"),
        "--workspace", str(tmp_path), *SMALL, *extra,
    )  # fmt: skip


def test_a_model_that_cannot_improve_keeps_the_active_program(tmp_path: Path) -> None:
    with FakeOpenAI(responder=Learner(stubborn=True)) as fake:
        run = _optimize(tmp_path, fake, "--format", "json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["improved"] is False and report["activated"] == {}
    registry = ProgramRegistry(tmp_path / "programs")
    assert registry.active("analyze") is None
    assert [m.version for m in registry.versions("analyze")] == [report["saved"]["analyze"]]


def test_force_activates_even_without_improvement(tmp_path: Path) -> None:
    with FakeOpenAI(responder=Learner(stubborn=True)) as fake:
        run = _optimize(tmp_path, fake, "--force")
    assert run.returncode == 0, run.stderr
    active = ProgramRegistry(tmp_path / "programs").active("analyze")
    assert active is not None and f"{active} (activated)" in run.stdout


def test_an_improving_model_is_activated_with_metadata_and_a_before_after_table(
    tmp_path: Path,
) -> None:
    with FakeOpenAI(responder=Learner()) as fake:
        run = _optimize(tmp_path, fake)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0].split() == ["dev", "metric", "before", "after", "change"]
    registry = ProgramRegistry(tmp_path / "programs")
    [meta] = registry.versions("analyze")
    assert registry.active("analyze") == meta.version
    assert meta.optimizer == "bootstrap" and meta.lm == "openai/learner" and meta.parent is None
    assert meta.scores["dev"] > meta.scores["baseline_dev"]
    f1 = next(line.split() for line in run.stdout.splitlines() if line.startswith("penalised_f1"))
    assert float(f1[2]) > float(f1[1])  # activation compares F1, not the per-example mean
    assert meta.dataset_hash and meta.train_size == 6


def test_without_a_model_it_says_so(tmp_path: Path) -> None:
    run = _cli(tmp_path, "optimize", "--workspace", str(tmp_path))
    assert run.returncode == 2 and "no LM" in run.stderr


def record_accepted(store: Path, count: int) -> Path:
    """A feedback store holding ``count`` accepted rule fixes."""
    with FeedbackStore(store, environ={}) as opened:
        for i in range(count):
            opened.record(
                FeedbackEvent(
                    kind="accepted",
                    finding_id=f"f{i}",
                    rule="DL104",
                    program_version="rule",
                    created=1.0 + i,
                )
            )
    return store


@pytest.mark.parametrize("labels, runs", [(3, True), (1, False)])
def test_learn_optimizes_once_enough_labelled_feedback_arrived(
    tmp_path: Path, labels: int, runs: bool
) -> None:
    store = record_accepted(tmp_path / "feedback.sqlite3", labels)
    with FakeOpenAI(responder=Learner()) as fake:
        run = _cli(
            tmp_path,
            "learn", "--min-new-labels", "2", "--store", str(store),
            "--programs-dir", str(tmp_path / "programs"), "--workspace", str(tmp_path),
            "--lm", "openai/learner", "--api-base", fake.base_url,
            "--budget", "2", "--max-train", "6", "--max-dev", "6",
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    saved = ProgramRegistry(tmp_path / "programs").versions("analyze")
    assert bool(saved) is runs
    state = tmp_path / "programs" / "learn-state.json"
    assert state.is_file() is runs
    if runs:
        assert json.loads(state.read_text())["last_event_id"] == labels


def test_an_unreachable_model_is_an_error_and_saves_nothing(tmp_path: Path) -> None:
    with FakeOpenAI() as fake:
        url = fake.base_url  # closed on exit: nothing listens there any more
    (tmp_path / "clean.py").write_text(CLEAN_CODE)
    run = _cli(
        tmp_path,
        "optimize", "--lm", "openai/gone", "--api-base", url, "--workspace", str(tmp_path),
        "--programs-dir", str(tmp_path / "programs"), *SMALL,
    )  # fmt: skip
    assert run.returncode == 2 and "answered none of the dev examples" in run.stderr
    registry = ProgramRegistry(tmp_path / "programs")
    assert registry.versions("analyze") == [] and registry.pointer("analyze") is None


@pytest.mark.skipif(not QUIXBUGS.exists(), reason="corpus not on this machine")
def test_labelled_bugs_train_analyze_on_hit_at_3_and_the_deciding_score_is_printed(
    tmp_path: Path,
) -> None:
    names = ("gcd", "flatten", "hanoi", "quicksort", "subsequences", "knapsack", "lcs_length")
    examples = quixbugs_jsonl(tmp_path / "quixbugs", names)
    learner = BugLearner.of(examples)
    with FakeOpenAI(responder=learner) as fake:
        run = _optimize(
            tmp_path, fake, "--examples", str(examples), "--metric", "hit@3", "--no-mutations"
        )
    assert run.returncode == 0, run.stderr
    assert "(corpus " in run.stderr  # the labelled bugs are among the examples
    registry = ProgramRegistry(tmp_path / "programs")
    [meta] = registry.versions("analyze")
    assert registry.active("analyze") == meta.version
    # unguided: a miss on every buggy unit, one alarm on every fixed one: (0 + 0.5) / 2
    assert (meta.scores["baseline_dev"], meta.scores["dev"]) == (0.25, 1.0)
    assert "activation compares dev score: 0.250 -> 1.000" in run.stdout
    hits = next(line.split() for line in run.stdout.splitlines() if line.startswith("hit@3 "))
    assert hits[1:3] == ["0.000", "1.000"]


@pytest.mark.skipif(not QUIXBUGS.exists(), reason="corpus not on this machine")
def test_labelled_bugs_train_the_repair_finder_on_their_fixes(tmp_path: Path) -> None:
    names = ("gcd", "flatten", "hanoi", "quicksort", "subsequences", "knapsack", "lcs_length")
    examples = quixbugs_jsonl(tmp_path / "quixbugs", names)
    with FakeOpenAI(responder=BugLearner.of(examples)) as fake:
        run = _optimize(
            tmp_path, fake, "--program", "repair", "--examples", str(examples), "--no-mutations"
        )
    assert run.returncode == 0, run.stderr
    registry = ProgramRegistry(tmp_path / "programs")
    [meta] = registry.versions("repair")
    assert registry.active("repair") == meta.version
    # unguided: an import added above every unit, a miss or an alarm each time: (0 + 0.5) / 2
    assert (meta.scores["baseline_dev"], meta.scores["dev"]) == (0.25, 1.0)
    demos = registry.load("repair", meta.version)[0]["repair"]["demos"]
    assert demos and all(set(demo) >= {"code", "context", "fixed_code"} for demo in demos)
    assert all("import os" not in demo["fixed_code"] for demo in demos)  # no error is taught


def test_a_hit_metric_is_refused_for_a_program_without_findings(tmp_path: Path) -> None:
    run = _cli(tmp_path, "optimize", "--program", "plan", "--metric", "hit@3", "--lm", "openai/x")
    assert run.returncode == 2 and "--metric is for --program repair and analyze" in run.stderr
