"""The server's continuous-learning child: one at a time, never too often, never on stdout."""

from __future__ import annotations

import sys
from pathlib import Path

from dspy_lsp.server.lsp.learn_launcher import MIN_INTERVAL_S, LearnLauncher, learn_command
from dspy_lsp.server.settings import Settings


async def test_one_child_at_a_time_and_not_again_within_the_interval() -> None:
    now = [0.0]
    launcher = LearnLauncher(clock=lambda: now[0])
    assert await launcher.start([sys.executable, "-c", "print('not on our stdout')"])
    assert not await launcher.start([sys.executable, "-c", "pass"])
    assert launcher.process is not None and await launcher.process.wait() == 0
    now[0] += MIN_INTERVAL_S + 1
    assert await launcher.start([sys.executable, "-c", "pass"])
    assert launcher.started == 2


def test_the_command_carries_the_workspace_model_and_thresholds() -> None:
    settings = Settings.model_validate(
        {"lm": {"model": "openai/m", "api_base": "http://h/v1"}, "learn": {"min_new_labels": 5}}
    )
    command = learn_command(settings, Path("/ws"), Path("/s.sqlite3"), Path("/p"))
    assert command[:5] == [sys.executable, "-P", "-m", "dspy_lsp.server.cli", "learn"]
    joined = " ".join(command)
    for part in (
        "--workspace /ws",
        "--store /s.sqlite3",
        "--programs-dir /p",
        "--lm openai/m",
        "--api-base http://h/v1",
        "--min-new-labels 5",
        "--optimizer bootstrap",
        "--max-requests 1000",
        "--max-tokens 2000000",
    ):
        assert part in joined
