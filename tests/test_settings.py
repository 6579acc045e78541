"""Which settings win, and how a broken layer is reported without losing the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from dspy_lsp.analyzers.selection import PathOverride, RuleSelection
from dspy_lsp.server.settings import ProjectConfig, editor_section, find_project_config, resolve

CODES = ("DL101", "DL104", "DL110", "DL201")


def test_editor_wins_over_pyproject_which_wins_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSPY_LSP_DEBOUNCE_MS", "70")
    monkeypatch.setenv("DSPY_LSP_IGNORE", '["DL110"]')
    project = ProjectConfig(root=None, values={"debounce_ms": 90, "select": ["DL1"]})
    resolved = resolve({"debounce_ms": 10}, project)
    assert resolved.errors == ()
    assert resolved.settings.debounce_ms == 10
    assert resolved.settings.select == ("DL1",)
    assert resolved.settings.ignore == ("DL110",)


def test_each_broken_layer_is_named_and_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSPY_LSP_DEBOUNCE_MS", "soon")
    project = ProjectConfig(root=Path("/proj"), values={"selct": ["DL1"]})
    resolved = resolve({"ignore": 3}, project)
    assert resolved.settings.select == ("ALL",) and resolved.settings.debounce_ms == 150
    environment, pyproject, editor = resolved.errors
    assert "DSPY_LSP_" in environment and "debounce_ms" in environment
    assert "/proj/pyproject.toml" in pyproject and "selct" in pyproject
    assert editor.startswith("editor settings") and "ignore" in editor


def test_toml_keys_may_use_dashes(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.dspy-lsp]\ndebounce-ms = 5\nmax-file-chars = 9\n"
    )
    (tmp_path / "pkg").mkdir()
    config = find_project_config(tmp_path / "pkg")
    assert config.root == tmp_path
    settings = resolve({}, config).settings
    assert (settings.debounce_ms, settings.max_file_chars) == (5, 9)


def test_pyproject_without_our_table_is_passed_over(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.dspy-lsp]\nignore = ["DL101"]\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert find_project_config(tmp_path / "sub").root == tmp_path


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"dspy-lsp": {"debounce-ms": 1}}, {"debounce_ms": 1}),
        ({"settings": {"ignore": ["DL1"]}}, {"ignore": ["DL1"]}),
        ({"select": ["DL1"]}, {"select": ["DL1"]}),
        (None, {}),
        ({"pylsp": {"plugins": {}}}, {}),
        ([1, 2], {}),
    ],
)
def test_editor_settings_shapes(options: object, expected: dict) -> None:
    assert editor_section(options) == expected


def test_longest_prefix_wins_between_select_and_ignore() -> None:
    selection = RuleSelection(select=("DL1", "DL104"), ignore=("DL10",))
    assert selection.codes_for(CODES) == ("DL104", "DL110")


def test_overrides_apply_only_to_matching_paths() -> None:
    selection = RuleSelection(overrides=(PathOverride(path="tests/*", ignore=("DL104",)),))
    assert "DL104" not in selection.codes_for(CODES, "tests/unit/test_a.py")
    assert "DL104" in selection.codes_for(CODES, "src/a.py")
    assert "DL104" in selection.codes_for(CODES, None)
