"""Fixes leave the project's formatter nothing to do on the lines they touch, and touch no other.

The snippets are the shapes that left black's own source unformatted: a DL110 dedent that now
fits on one line, and a DL111 join that no longer does.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import black
import pytest
from test_cli import run

from dspy_lsp.analyzers.black_format import black_formatter
from dspy_lsp.analyzers.engine import analyze_source
from dspy_lsp.analyzers.fixes import apply_edits
from dspy_lsp.analyzers.format_style import BlackStyle, RuffStyle
from dspy_lsp.analyzers.formatting import formatted_fix, touched_lines
from dspy_lsp.analyzers.models import Fix
from dspy_lsp.server.settings import find_project_config
from dspy_lsp.server.settings_formatter import formatter_style

UNTOUCHED = "\n\nunrelated  =  [1,2]   # left as its author wrote it\n"

DEDENT = (
    "import os\n\n\n"
    "def pick(name, default):\n"
    "    if name in os.environ:\n"
    "        return os.environ[name]\n"
    "    else:\n"
    "        chosen = os.path.join(\n"
    '            default, "settings", "fallback", "configuration", "file.toml"\n'
    "        )\n"
    "        return chosen\n" + UNTOUCHED
)
JOIN = (
    "def check(request):\n"
    "    if request.user is not None and request.user.is_authenticated:\n"
    '        if request.method in ("POST", "PUT") and request.headers.get("X-Token"):\n'
    "            return True\n"
    "    return False\n" + UNTOUCHED
)


def _fix(text: str, rule: str) -> Fix:
    finding = next(f for f in analyze_source(text, (rule,)).findings if f.rule == rule)
    assert finding.fix is not None
    return finding.fix


def _black_clean(before: str, after: str, mode: black.Mode) -> bool:
    """Whether black leaves the lines that differ from ``before`` as they are."""
    ranges = touched_lines(before, after)
    return black.format_str(after, mode=mode, lines=ranges) == after


def _untouched_lines_kept(before: str, after: str) -> None:
    """The lines above and below the fixed statement are byte for byte as they were."""
    assert after.endswith(UNTOUCHED) and before.endswith(UNTOUCHED)
    first = touched_lines(before, after)[0][0] - 1
    assert after.splitlines(keepends=True)[:first] == before.splitlines(keepends=True)[:first]
    assert first >= 1


@pytest.mark.parametrize(("text", "rule"), [(DEDENT, "DL110"), (JOIN, "DL111")])
def test_the_fix_alone_leaves_black_something_to_do(text: str, rule: str) -> None:
    raw = apply_edits(text, _fix(text, rule).edits)
    assert not _black_clean(text, raw, black.Mode())


@pytest.mark.parametrize(("text", "rule"), [(DEDENT, "DL110"), (JOIN, "DL111")])
def test_a_formatted_fix_is_black_clean_where_it_touched_and_nowhere_else(
    text: str, rule: str
) -> None:
    fix = formatted_fix(text, _fix(text, rule), black_formatter(BlackStyle()))
    after = apply_edits(text, fix.edits)
    assert _black_clean(text, after, black.Mode())
    _untouched_lines_kept(text, after)
    assert len(fix.edits) == 1 and fix.title == _fix(text, rule).title


def test_the_dedent_is_joined_and_the_join_is_wrapped() -> None:
    dedent = apply_edits(DEDENT, formatted_fix(DEDENT, _fix(DEDENT, "DL110"), _black()).edits)
    assert (
        '    chosen = os.path.join(default, "settings", "fallback", "configuration", "file.toml")\n'
        in dedent
    )
    join = apply_edits(JOIN, formatted_fix(JOIN, _fix(JOIN, "DL111"), _black()).edits)
    assert "    if (\n        request.user is not None\n        and request" in join


def test_the_projects_line_length_is_black_s() -> None:
    style = BlackStyle(line_length=140)
    join = apply_edits(JOIN, formatted_fix(JOIN, _fix(JOIN, "DL111"), black_formatter(style)).edits)
    assert _black_clean(JOIN, join, black.Mode(line_length=140))
    assert "and request.method in (" in join.splitlines()[1]


def test_the_projects_string_normalization_choice_is_kept() -> None:
    text = JOIN.replace('"', "'")
    style = BlackStyle(skip_string_normalization=True)
    join = apply_edits(text, formatted_fix(text, _fix(text, "DL111"), black_formatter(style)).edits)
    assert "in ('POST', 'PUT')" in join and '"' not in join


def test_crlf_files_stay_crlf() -> None:
    text = JOIN.replace("\n", "\r\n")
    after = apply_edits(text, formatted_fix(text, _fix(text, "DL111"), _black()).edits)
    assert after == apply_edits(
        JOIN, formatted_fix(JOIN, _fix(JOIN, "DL111"), _black()).edits
    ).replace("\n", "\r\n")


def test_a_fix_black_may_not_format_keeps_its_edit_and_says_why() -> None:
    fix = _fix(JOIN, "DL111")
    kept = formatted_fix(JOIN, fix, black_formatter(BlackStyle(required_version="19")))
    assert kept.edits == fix.edits
    assert kept.title.endswith(
        f"(not formatted: the project requires black 19, {black.__version__} is installed)"
    )


def _black() -> object:
    return black_formatter(BlackStyle())


DECORATED = (
    '"""A module."""\n\nimport functools\n\n\n'
    "@functools.cache\n"
    "def pick(name, default, *names):\n"
    "    if name in names:\n"
    "        return name\n"
    "    else:\n"
    "        chosen = sorted(\n"
    '            [default, "settings", "fallback", "configuration", "file.toml"]\n'
    "        )\n"
    "        return chosen\n"
    "    # the end of pick\n\n\n"
    'def after(x):\n    return f"{x}"\n'
)


@pytest.mark.parametrize("text", [DECORATED, DECORATED.removesuffix("\n"), JOIN + DECORATED])
def test_formatting_the_touched_block_alone_is_what_black_does_to_the_whole_file(
    text: str,
) -> None:
    """With fixed targets only the top-level statement is formatted (fast); black, given the
    whole file and the same lines, writes the same text."""
    rule = "DL110" if text.startswith('"""') else "DL111"
    raw = apply_edits(text, _fix(text, rule).edits)
    style = BlackStyle(requires_python=">=3.10")
    fixed = apply_edits(text, formatted_fix(text, _fix(text, rule), black_formatter(style)).edits)
    targets = {v for v in black.TargetVersion if v.value >= black.TargetVersion.PY310.value}
    whole = black.format_str(
        raw, mode=black.Mode(target_versions=targets), lines=touched_lines(text, raw)
    )
    assert fixed == (whole if text.endswith("\n") else whole.removesuffix("\n"))
    assert fixed != raw


# -- which formatter a project uses ------------------------------------------------------------


def test_tool_black_names_black_and_its_style() -> None:
    style = formatter_style(
        {
            "tool": {
                "black": {
                    "line-length": 100,
                    "target-version": ["py39", "PY310", "not-a-version"],
                    "skip-magic-trailing-comma": True,
                },
                "ruff": {"format": {}},
            }
        }
    )
    assert style == BlackStyle(
        line_length=100, target_versions=("py39", "py310"), skip_magic_trailing_comma=True
    )


@pytest.mark.parametrize(
    "pyproject",
    [
        {"dependency-groups": {"dev": ["black>=24", "pytest"]}},
        {"project": {"optional-dependencies": {"dev": ["black[d]==24.1"]}}},
        {"tool": {"poetry": {"group": {"lint": {"dependencies": {"black": "^24"}}}}}},
    ],
)
def test_black_among_the_development_requirements_names_black(pyproject: dict) -> None:
    assert formatter_style(pyproject) == BlackStyle()


def test_an_extra_users_install_is_not_a_development_requirement() -> None:
    pyproject = {"project": {"optional-dependencies": {"format": ["black>=24"]}}}
    assert formatter_style(pyproject) is None


def test_ruff_format_table_names_ruff_with_only_the_values_it_accepts() -> None:
    style = formatter_style(
        {
            "tool": {
                "ruff": {
                    "line-length": 79,
                    "target-version": "py38",
                    "format": {"quote-style": "single", "indent-style": "x'; rm", "preview": True},
                }
            }
        }
    )
    assert style == RuffStyle(
        line_length=79, target_version="py38", format_options=(("quote-style", "single"),)
    )


def test_tool_ruff_alone_names_ruff_only_when_ruff_is_a_development_requirement() -> None:
    lint_only = {"tool": {"ruff": {"line-length": 100}}}
    assert formatter_style(lint_only) is None
    used = {**lint_only, "dependency-groups": {"dev": ["ruff"]}}
    assert formatter_style(used) == RuffStyle(line_length=100)


def test_the_nearest_pyproject_names_the_formatter_though_dspy_lsp_is_configured_above(
    tmp_path: Path,
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.dspy-lsp]\nignore = []\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "pyproject.toml").write_text("[tool.black]\nline-length = 120\n")
    config = find_project_config(tmp_path / "pkg")
    assert config.root == tmp_path
    assert config.formatter == BlackStyle(line_length=120)


# -- dspy-lsp check --fix -----------------------------------------------------------------------


def _project(tmp_path: Path, tool: str, **files: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        f'{tool}\n\n[tool.dspy-lsp]\nselect = ["DL110", "DL111"]\n'
    )
    for name, text in files.items():
        (tmp_path / f"{name}.py").write_text(text)
    return tmp_path


def test_check_fix_formats_the_fixed_lines_with_the_projects_black(tmp_path: Path) -> None:
    project = _project(tmp_path, "[tool.black]\nline-length = 88", dedent=DEDENT, join=JOIN)
    result = run("check", "--fix", str(project))
    assert "Fixed 2." in result.stdout, result.stdout + result.stderr
    assert result.stderr == ""
    for name, text in (("dedent", DEDENT), ("join", JOIN)):
        after = (project / f"{name}.py").read_text()
        assert after != text and _black_clean(text, after, black.Mode())
        _untouched_lines_kept(text, after)


def test_check_fix_formats_the_fixed_lines_with_ruff_in_the_projects_style(tmp_path: Path) -> None:
    tool = '[tool.ruff]\nline-length = 88\n\n[tool.ruff.format]\nquote-style = "single"'
    project = _project(tmp_path, tool, join=JOIN)
    result = run("check", "--fix", str(project))
    assert "Fixed 1." in result.stdout and result.stderr == ""
    after = (project / "join.py").read_text()
    _untouched_lines_kept(JOIN, after)
    ruff = Path(sys.executable).with_name("ruff")
    formatted = subprocess.run(
        [str(ruff), "format", "--isolated", "--config=format.quote-style = 'single'", "-"],
        input=after.removesuffix(UNTOUCHED),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert formatted == after.removesuffix(UNTOUCHED)
    assert "in ('POST', 'PUT')" in after


def test_check_fix_says_once_why_it_left_fixed_lines_unformatted(tmp_path: Path) -> None:
    tool = '[tool.black]\nrequired-version = "19"'
    project = _project(tmp_path, tool, dedent=DEDENT, join=JOIN)
    result = run("check", "--fix", str(project))
    assert "Fixed 2." in result.stdout
    assert result.stderr.count("not formatted") == 1
    assert "the project requires black 19" in result.stderr
    assert (project / "join.py").read_text() == apply_edits(JOIN, _fix(JOIN, "DL111").edits)
