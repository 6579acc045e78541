"""One source of truth for settings: the VS Code extension's settings and the README's table are
what ``settings_schema`` generates from the model. When a test here fails, run

    python -m dspy_lsp.server.settings_schema --vscode --markdown

from the repository root and commit the result."""

from __future__ import annotations

import json
from pathlib import Path

from dspy_lsp.server.settings import Settings
from dspy_lsp.server.settings_schema import (
    SERVER_CATEGORY,
    render_package_json,
    render_readme,
    setting_docs,
)

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_JSON = ROOT / "vscode-client" / "package.json"
README = ROOT / "README.md"


def test_the_vscode_settings_are_generated_from_the_model() -> None:
    current = PACKAGE_JSON.read_text(encoding="utf-8")
    assert render_package_json(current, setting_docs()) == current


def test_the_readme_settings_table_is_generated_from_the_model() -> None:
    current = README.read_text(encoding="utf-8")
    assert render_readme(current, setting_docs()) == current


def test_every_key_of_the_model_is_documented_once_with_a_description() -> None:
    docs = setting_docs()
    keys = [doc.path for doc in docs]
    sections = {"lm", "store", "feedback", "learn", "tests", "actions"}
    expected = [(name,) for name in Settings.model_fields if name not in sections]
    for section in sections:
        expected += [(section, key) for key in type(getattr(Settings(), section)).model_fields]
    assert sorted(keys) == sorted(expected)
    undescribed = [doc.toml_key for doc in docs if not doc.description.endswith(".")]
    assert undescribed == []


def test_restricted_in_vscode_is_trusted_only_on_the_server() -> None:
    """What a project may not choose (``PROJECT_SAFE_IN``) is what VS Code ignores from an
    untrusted workspace, and nothing else."""
    manifest = json.loads(PACKAGE_JSON.read_text(encoding="utf-8"))
    [generated] = [
        c for c in manifest["contributes"]["configuration"] if c["title"] == SERVER_CATEGORY
    ]
    restricted = {k for k, v in generated["properties"].items() if v.get("restricted")}
    assert {k.removeprefix("dspy-lsp.") for k in restricted} == {
        doc.editor_key for doc in setting_docs() if doc.trusted_only
    }
    assert "dspy-lsp.lm.runOn" not in restricted and "dspy-lsp.learn.budget" in restricted


def test_a_stale_file_is_reported_and_regenerated(tmp_path: Path) -> None:
    from dspy_lsp.server.settings_schema import main

    readme = tmp_path / "README.md"
    readme.write_text(
        "# x\n\n| Key | Default | Meaning |\n|---|---|---|\n| `old` | 1 | gone |\n\nend\n"
    )
    assert main(["--markdown", str(readme), "--check"]) == 1
    assert main(["--markdown", str(readme)]) == 0
    assert main(["--markdown", str(readme), "--check"]) == 0
    text = readme.read_text()
    assert (
        "`old`" not in text and "| `learn.max-tokens` **T** |" in text and text.endswith("\nend\n")
    )
