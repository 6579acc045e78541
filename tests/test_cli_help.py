"""Every ``--help`` reads as plain text: no reStructuredText literals (double backticks) from the
docstrings it is built from, and a help line for every verb and option."""

from __future__ import annotations

import argparse
import contextlib
import io
from collections.abc import Iterator

import pytest

from dspy_lsp.server.cli.main import build_parser, main


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


COMMANDS = dict(_commands(build_parser()))
IDS = [" ".join(("dspy-lsp", *path)) for path in COMMANDS]


def _help(path: tuple[str, ...]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*path, "--help"]) == 0
    return out.getvalue()


def test_every_verb_is_walked() -> None:
    verbs = {path[0] for path in COMMANDS if path}
    assert {"check", "serve", "trust", "feedback", "learn", "optimize", "programs"} <= verbs
    assert ("feedback", "stats") in COMMANDS and ("programs", "list") in COMMANDS


@pytest.mark.parametrize("path", list(COMMANDS), ids=IDS)
def test_help_has_no_restructuredtext_literals(path: tuple[str, ...]) -> None:
    text = _help(path)
    assert text.startswith(f"usage: {' '.join(('dspy-lsp', *path))}")
    assert "``" not in text


@pytest.mark.parametrize("path", list(COMMANDS), ids=IDS)
def test_every_option_and_verb_has_a_help_line(path: tuple[str, ...]) -> None:
    missing = []
    for action in COMMANDS[path]._actions:
        if isinstance(action, argparse._SubParsersAction):
            helped = {choice.dest for choice in action._choices_actions if choice.help}
            missing += [verb for verb in action.choices if verb not in helped]
        elif not action.help or action.help == argparse.SUPPRESS:
            missing.append("/".join(action.option_strings) or action.dest)
    assert missing == []
    shown = " ".join(_help(path).split())
    for action in COMMANDS[path]._actions:
        if not isinstance(action, argparse._SubParsersAction):
            assert " ".join(action.help.split()[:3]) in shown
