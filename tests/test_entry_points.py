"""The entry points stay light: ``--version``, building the CLI parser and starting the server
import none of pydantic, libcst or dspy (each a large share of a cold start). Checked in a fresh
interpreter through ``sys.modules``, never by the clock."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dspy_lsp.server.cli.main import VERB_MODULES, build_parser

HEAVY = ("pydantic", "pydantic_settings", "libcst", "dspy", "litellm")


def _heavy_imports_after(code: str) -> list[str]:
    """The heavy packages a fresh ``python -P`` has imported once ``code`` ran."""
    report = f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.__stdout__)"
    probe = f"{code}\nimport json, sys\n{report}"
    done = subprocess.run(
        [sys.executable, "-P", "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_version_imports_nothing_heavy() -> None:
    code = "from dspy_lsp.server.cli.main import main\nassert main(['--version']) == 0"
    assert _heavy_imports_after(code) == []


@pytest.mark.parametrize("argv", [["--help"], ["serve"], ["check", "."], ["trust", "--list"]])
def test_building_the_parser_imports_nothing_heavy(argv: list[str]) -> None:
    code = f"from dspy_lsp.server.cli.main import build_parser\nbuild_parser({argv!r})"
    assert _heavy_imports_after(code) == []


def test_the_server_is_ready_to_listen_without_importing_anything_heavy() -> None:
    """What ``python -m dspy_lsp.server`` runs before it reads ``initialize``: the CLI, the
    logging set-up and the server module (the analysis stack loads after the answer)."""
    code = (
        "from dspy_lsp.server.lsp.handlers import server\n"
        "server.start_io = lambda **_: 0\n"
        "from dspy_lsp.server.cli.main import main\n"
        "assert main(['serve']) == 0"
    )
    assert _heavy_imports_after(code) == []


def test_every_verb_is_listed_with_the_help_its_module_gives() -> None:
    """A verb not being run is listed from ``VERB_MODULES``: it must say what the module does."""
    [sub] = [a for a in build_parser()._actions if a.dest == "command"]
    helps = {choice.dest: choice.help for choice in sub._choices_actions}
    assert {verb: helps[verb] for verb in VERB_MODULES} == VERB_MODULES
