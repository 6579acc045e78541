"""The server's continuous-learning child: one at a time, never too often, never on stdout."""

from __future__ import annotations

import sys
from pathlib import Path

from dspy_lsp.server.children import SETTINGS_JSON
from dspy_lsp.server.cli.learn import optimize_command
from dspy_lsp.server.cli.main import build_parser
from dspy_lsp.server.cli.run_settings import run_settings
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


def _handed_over(command: list[str]) -> Settings:
    return Settings.model_validate_json(command[command.index(SETTINGS_JSON) + 1])


def test_the_command_hands_the_resolved_settings_over_whole() -> None:
    settings = Settings.model_validate(
        {
            "lm": {"model": "openai/m", "api_base": "http://h/v1", "api_key_env": "MY_KEY"},
            "learn": {"min_new_labels": 5, "optimizer": "gepa", "budget": 3},
        }
    )
    command = learn_command(settings, Path("/ws"), Path("/s.sqlite3"), Path("/p"))
    assert command[:5] == [sys.executable, "-P", "-m", "dspy_lsp.server.cli", "learn"]
    assert command[5:7] == ["--workspace", "/ws"]
    expected = settings.model_copy(
        update={
            "lm": settings.lm.model_copy(update={"programs_dir": "/p"}),
            "feedback": settings.feedback.model_copy(update={"path": "/s.sqlite3"}),
        }
    )
    assert _handed_over(command) == expected


def test_editor_only_settings_reach_optimize_through_learn(tmp_path: Path) -> None:
    """The key variable, temperature and timeout the editor chose, which no project file
    holds, are the settings optimize runs with; learn's flags still win over them."""
    editor = {"api_key_env": "EDITOR_KEY", "temperature": 0.3, "timeout_s": 7.5}
    settings = Settings.model_validate({"lm": {"model": "openai/m", **editor}})
    command = learn_command(settings, tmp_path, tmp_path / "s.sqlite3", tmp_path / "p")
    learn_args = build_parser().parse_args([*command[4:], "--budget", "2"])
    optimize = optimize_command(learn_args, run_settings(learn_args))
    assert optimize[4] == "optimize"
    optimize_args = build_parser().parse_args(optimize[4:])
    received = run_settings(optimize_args)
    assert received.settings.lm == settings.lm.model_copy(
        update={"programs_dir": str(tmp_path / "p")}
    )
    assert received.settings.learn.budget == 2
    assert received.store == tmp_path / "s.sqlite3"
    assert received.programs == tmp_path / "p"


def test_flags_override_the_settings_handed_over(tmp_path: Path) -> None:
    settings = Settings.model_validate({"lm": {"model": "openai/m", "api_key_env": "K"}})
    command = learn_command(settings, tmp_path, tmp_path / "s.sqlite3", tmp_path / "p")
    args = build_parser().parse_args([*command[4:], "--lm", "openai/other", "--window", "7"])
    received = run_settings(args).settings
    # Model, endpoint and key travel together: a model from the flags brings no key along.
    assert (received.lm.model, received.lm.api_key_env) == ("openai/other", None)
    assert received.learn.window == 7
