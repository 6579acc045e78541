"""Turning the LM tier on from the editor writes the user's own config, and only as asked:
the rest of the file stays, a model already chosen is never replaced, and the result parses."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from dspy_lsp.server.lm.local_ollama import ollama_url
from dspy_lsp.server.user_config import (
    ConfigNotWritten,
    config_path,
    noticed,
    record_notice,
    remember_lm,
)

MODEL, BASE = "openai/qwen2.5-coder:1.5b", "http://127.0.0.1:11434/v1"


@pytest.fixture(autouse=True)
def own_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))


def _written() -> dict:
    return tomllib.loads(config_path().read_text())


def test_a_new_config_gets_an_lm_table() -> None:
    remember_lm(MODEL, BASE)
    assert _written() == {"lm": {"model": MODEL, "api-base": BASE}}
    assert config_path().stat().st_mode & 0o777 == 0o600


def test_an_existing_lm_table_gains_the_keys_and_the_rest_stays() -> None:
    config_path().parent.mkdir(parents=True)
    config_path().write_text(
        'select = ["DL"]\n\n[lm]  # mine\ntimeout-s = 9\n\n[feedback]\nenabled = false'
    )
    remember_lm(MODEL, BASE)
    assert _written() == {
        "select": ["DL"],
        "lm": {"model": MODEL, "api-base": BASE, "timeout-s": 9},
        "feedback": {"enabled": False},
    }
    assert "# mine" in config_path().read_text()


def test_a_model_already_chosen_is_never_replaced() -> None:
    config_path().parent.mkdir(parents=True)
    config_path().write_text('[lm]\nmodel = "anthropic/claude"\n')
    with pytest.raises(ConfigNotWritten, match="already sets"):
        remember_lm(MODEL, BASE)
    assert _written() == {"lm": {"model": "anthropic/claude"}}


def test_a_config_that_does_not_parse_is_left_alone() -> None:
    config_path().parent.mkdir(parents=True)
    config_path().write_text("[lm\n")
    with pytest.raises(ConfigNotWritten, match=r"add under \[lm\]"):
        remember_lm(MODEL, BASE)
    assert config_path().read_text() == "[lm\n"


def test_notices_are_remembered() -> None:
    assert not noticed("lm-hint")
    record_notice("lm-hint")
    record_notice("lm-hint")
    assert noticed("lm-hint") and not noticed("other")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://127.0.0.1:11500/", "http://127.0.0.1:11500"),
        ("http://localhost:11434", "http://localhost:11434"),
        ("http://[::1]:11434", "http://[::1]:11434"),
        ("http://192.168.1.5:11434", None),
        ("http://ollama.example.com", None),
    ],
)
def test_ollama_is_looked_for_on_this_machine_only(
    value: str, expected: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DSPY_LSP_OLLAMA_URL", value)
    assert ollama_url() == expected
