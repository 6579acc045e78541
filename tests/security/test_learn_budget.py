"""Row 7 of the workspace-trust issue, the spending half: one accepted quick fix started
``learn`` → ``optimize`` with ``budget = 1000000``, and it sent thousands of requests with the
user's key. Every optimize and learn run now stops at a ceiling on LM requests and tokens,
whatever its budget, and saves nothing of the cut-short run.

The CLI runs are real processes against a loopback OpenAI server; the learner is stubborn, so
no optimizer ever reaches a perfect score and stops early on its own.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import dspy
import pytest
from fakes.learner import CLEAN_CODE, Learner
from fakes.openai_server import FakeOpenAI, Fault
from fakes.scripted_lm import scripted_lm
from test_optimize_cli import record_accepted

from dspy_lsp.server.children import CLI
from dspy_lsp.server.lm.budget import BudgetExhausted, LmBudget, budgeted, run_within
from dspy_lsp.server.store.registry import ProgramRegistry

HUGE = ("--budget", "1000000", "--max-train", "6", "--max-dev", "6", "--no-rule-examples")
PROMPT_S = 90.0
"""Start-up (imports) plus 25 loopback requests, with room for a loaded machine."""


# -- the counter --------------------------------------------------------------------------------
def test_requests_past_the_ceiling_are_refused_and_stay_refused() -> None:
    budget = LmBudget(max_requests=3, max_tokens=1000)
    for _ in range(3):
        budget.admit()
    assert not budget.stopped.is_set()
    for _ in range(5):
        with pytest.raises(BudgetExhausted, match="LM budget reached: 3 requests / 1000 tokens"):
            budget.admit()
    assert budget.requests == 3 and budget.stopped.is_set()


def test_no_request_starts_once_the_tokens_reach_the_ceiling() -> None:
    budget = LmBudget(max_requests=100, max_tokens=50)
    budget.admit()
    budget.spend(49)
    budget.admit()
    budget.spend(30)  # answered while in flight: past the ceiling, and that is the last one
    with pytest.raises(BudgetExhausted):
        budget.admit()
    assert (budget.requests, budget.tokens) == (2, 79)


def test_the_counts_are_exact_with_many_threads() -> None:
    budget = LmBudget(max_requests=5000, max_tokens=10**9)
    admitted = [0] * 8
    start = threading.Barrier(8)

    def worker(index: int) -> None:
        start.wait()
        for _ in range(1000):
            try:
                budget.admit()
            except BudgetExhausted:
                continue
            admitted[index] += 1
            budget.spend(3)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(admitted) == budget.requests == 5000
    assert budget.tokens == 3 * 5000


def test_every_copy_of_an_lm_spends_from_one_budget_and_a_refusal_sends_nothing() -> None:
    sent: list[int] = []

    def answer(messages: list[dict[str, Any]]) -> str:
        sent.append(1)  # a deep copy copies the engine, not this function
        return "[[ ## answer ## ]]\nok\n\n[[ ## completed ## ]]"

    lm, _ = scripted_lm(answer)
    budget = LmBudget(max_requests=4, max_tokens=10**6)
    budgeted(lm, budget)
    lm("one")
    lm.copy(temperature=1.0, rollout_id=1)("two")
    copy.deepcopy(lm)("three")
    asyncio.run(lm.copy(rollout_id=2).acall("four"))
    assert len(sent) == budget.requests == 4 and budget.tokens > 0
    for refused in (lm, lm.copy(rollout_id=3), copy.deepcopy(lm)):
        with pytest.raises(BudgetExhausted):
            refused("five")
    assert len(sent) == 4


def test_retries_are_requests_too() -> None:
    with FakeOpenAI() as fake:
        fake.script(*[Fault("500", retry_after_s=0)] * 3)
        lm = dspy.LM(
            "openai/flaky", api_base=fake.base_url, api_key="k", cache=False, num_retries=3
        )
        budget = LmBudget(max_requests=2, max_tokens=10**6)
        with pytest.raises(BudgetExhausted):
            budgeted(lm, budget)("hello")
        assert fake.request_count == 2


def test_a_run_that_goes_on_after_a_refusal_is_abandoned_at_once() -> None:
    budget = LmBudget(max_requests=2, max_tokens=10**6)
    spinning = threading.Event()

    def optimizer_that_swallows_errors() -> None:
        while True:  # what GEPA does with a huge budget: every failure is just a low score
            try:
                budget.admit()
            except BudgetExhausted:
                spinning.set()

    started = time.monotonic()
    with pytest.raises(BudgetExhausted):
        run_within(budget, optimizer_that_swallows_errors)
    assert spinning.is_set() and time.monotonic() - started < 60  # deadline, not speed


def test_a_run_within_its_budget_returns_its_result_or_its_error() -> None:
    assert run_within(LmBudget(1, 1), lambda: 42) == 42
    with pytest.raises(ZeroDivisionError):
        run_within(LmBudget(1, 1), lambda: 1 / 0)


# -- the CLI, as a repository's settings would start it -------------------------------------------
def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSPY_LSP_")}
    return {**env, **extra}


Run = tuple[subprocess.CompletedProcess[str], float]
"""A finished CLI process and its wall time."""


def _cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    started = time.monotonic()
    run = subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env or _env(),
    )
    return run, time.monotonic() - started


def _optimize(
    tmp_path: Path, fake: FakeOpenAI, *extra: str, env: dict[str, str] | None = None
) -> Run:
    (tmp_path / "clean.py").write_text(CLEAN_CODE)
    return _cli(
        tmp_path,
        "optimize", "--lm", "openai/learner", "--api-base", fake.base_url,
        "--programs-dir", str(tmp_path / "programs"), "--store", str(tmp_path / "none.sqlite3"),
        "--workspace", str(tmp_path), *HUGE, *extra,
        env=env,
    )  # fmt: skip


def _assert_stopped(
    run: subprocess.CompletedProcess[str], elapsed: float, tmp_path: Path, ceiling: str
) -> None:
    assert run.returncode == 2, run.stderr
    assert f"stopped: LM budget reached: {ceiling}" in run.stderr
    assert elapsed < PROMPT_S
    registry = ProgramRegistry(tmp_path / "programs")
    assert registry.versions("analyze") == [] and registry.active("analyze") is None


@pytest.mark.parametrize(
    "optimizer",
    [
        "bootstrap",
        "gepa",
        pytest.param(
            "mipro",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("optuna") is None, reason="MIPROv2 needs optuna"
            ),
        ),
    ],
)
def test_a_huge_budget_stops_at_the_request_ceiling(tmp_path: Path, optimizer: str) -> None:
    with FakeOpenAI(responder=Learner(stubborn=True)) as fake:
        run, elapsed = _optimize(
            tmp_path,
            fake,
            "--optimizer", optimizer, "--reflection-lm", "openai/reflector",
            "--max-requests", "25",
        )  # fmt: skip
        seen = fake.request_count
    assert 0 < seen <= 25
    _assert_stopped(run, elapsed, tmp_path, "25 requests / 2000000 tokens")


def test_the_token_ceiling_stops_the_run(tmp_path: Path) -> None:
    learner = Learner(stubborn=True)
    used: list[int] = []

    def counting(messages: list[dict[str, Any]]) -> str:
        answer = learner(messages)  # tokens as the fake reports them: whitespace-separated words
        used.append(sum(len(m["content"].split()) for m in messages) + len(answer.split()))
        return answer

    with FakeOpenAI(responder=counting) as fake:
        run, elapsed = _optimize(tmp_path, fake, "--max-tokens", "3000", "--threads", "1")
    assert sum(used[:-1]) < 3000 <= sum(used)  # the request that crossed it was the last
    _assert_stopped(run, elapsed, tmp_path, "1000 requests / 3000 tokens")


def test_without_flags_the_ceilings_come_from_the_users_settings(tmp_path: Path) -> None:
    with FakeOpenAI(responder=Learner(stubborn=True)) as fake:
        run, elapsed = _optimize(tmp_path, fake, env=_env(DSPY_LSP_LEARN__MAX_REQUESTS="20"))
        seen = fake.request_count
    assert 0 < seen <= 20
    _assert_stopped(run, elapsed, tmp_path, "20 requests / 2000000 tokens")


def test_learn_passes_the_ceilings_on_to_optimize(tmp_path: Path) -> None:
    store = record_accepted(tmp_path / "feedback.sqlite3", 3)
    (tmp_path / "clean.py").write_text(CLEAN_CODE)
    with FakeOpenAI(responder=Learner(stubborn=True)) as fake:
        run, elapsed = _cli(
            tmp_path,
            "learn", "--min-new-labels", "2", "--store", str(store),
            "--programs-dir", str(tmp_path / "programs"), "--workspace", str(tmp_path),
            "--lm", "openai/learner", "--api-base", fake.base_url,
            "--budget", "1000000", "--max-train", "6", "--max-dev", "6", "--max-requests", "25",
        )  # fmt: skip
        seen = fake.request_count
    assert 0 < seen <= 25
    assert "optimize exited with 2" in run.stderr
    _assert_stopped(run, elapsed, tmp_path, "25 requests / 2000000 tokens")
