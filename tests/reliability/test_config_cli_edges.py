"""Settings and command lines that are wrong in small ways: each gets one clear line (or one
editor message) naming what is wrong, and everything that is right still applies.

Issue 12, "Config and CLI": unknown rule codes, typos and wrong types in ``[tool.dspy-lsp]``,
unreadable layers, closed pipes, bad flags, unwritable files, odd file names and a bare
``except:`` CPython refuses to compile.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import pytest
import pytest_lsp
from e2e.conftest import SERVER, _start, workspace_file
from lsp_client import open_and_wait
from pytest_lsp import ClientServerConfig, LanguageClient
from test_cli import BUGGY, run

CLI = [sys.executable, "-m", "dspy_lsp.server.cli"]
BARE_EXCEPT_FIRST = "try:\n    pass\nexcept:\n    pass\nexcept ValueError:\n    pass\n"
STRICT_UTF8 = {**os.environ, "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8:strict"}


def cli(*args: str, cwd: Path | None = None, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """The real entry point in its own process: what a shell or CI sees, tracebacks included."""
    return subprocess.run(
        [*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=120, **kwargs
    )


def rules_of(result: subprocess.CompletedProcess[str]) -> set[str]:
    return {item["rule"] for item in json.loads(result.stdout)}


@pytest.fixture
def buggy(tmp_path: Path) -> Path:
    """A project with one file holding DL101 and DL104."""
    (tmp_path / "m.py").write_text(BUGGY)
    return tmp_path


# -- unknown rule codes ----------------------------------------------------------------------
def test_an_unknown_rule_code_on_the_command_line_is_an_error_with_a_suggestion(
    buggy: Path,
) -> None:
    result = run("check", "--select", "DL1O4", str(buggy))
    assert result.returncode == 2
    assert result.stdout == ""  # not "All checks passed": nothing was checked
    (line,) = result.stderr.splitlines()
    assert "'DL1O4'" in line and "did you mean DL104?" in line


def test_an_unknown_rule_code_in_pyproject_is_an_error_with_a_suggestion(buggy: Path) -> None:
    (buggy / "pyproject.toml").write_text('[tool.dspy-lsp]\nselect = ["DL1O4"]\n')
    result = run("check", str(buggy))
    assert result.returncode == 2
    assert "did you mean DL104?" in result.stderr and "pyproject.toml" in result.stderr


def test_prefixes_and_all_that_match_rules_are_not_unknown(buggy: Path) -> None:
    result = run("check", "--format", "json", "--select", "dl1,ALL", "--ignore", "DL10", str(buggy))
    assert result.returncode == 0 and result.stderr == ""
    assert rules_of(run("check", "--format", "json", "--select", "DL10", str(buggy))) == {
        "DL101",
        "DL104",
    }


# -- typos and wrong types in [tool.dspy-lsp] ------------------------------------------------
def test_a_typo_skips_that_key_only_and_names_the_closest_one(buggy: Path) -> None:
    (buggy / "pyproject.toml").write_text(
        '[tool.dspy-lsp]\nexlude = ["gen/*"]\nignore = ["DL101"]\n'
    )
    result = run("check", "--format", "json", str(buggy))
    assert rules_of(result) == {"DL104"}  # the valid key next to the typo applies
    (line,) = result.stderr.splitlines()
    assert "exlude" in line and "did you mean exclude?" in line


def test_a_string_where_a_list_of_codes_goes_is_a_list_of_one(buggy: Path) -> None:
    (buggy / "pyproject.toml").write_text('[tool.dspy-lsp]\nignore = "DL101"\n')
    result = run("check", "--format", "json", str(buggy))
    assert rules_of(result) == {"DL104"} and result.stderr == ""


def test_a_value_of_the_wrong_type_skips_that_key_with_one_line_naming_it(buggy: Path) -> None:
    (buggy / "pyproject.toml").write_text(
        '[tool.dspy-lsp]\ndebounce-ms = "soon"\nignore = ["DL104"]\n'
    )
    result = run("check", "--format", "json", str(buggy))
    assert rules_of(result) == {"DL101"}
    (line,) = result.stderr.splitlines()
    assert "debounce_ms" in line and "skipped" in line


# -- layers that cannot be read at all -------------------------------------------------------
def test_bad_json_in_an_environment_variable_skips_that_layer_with_one_line(
    buggy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DSPY_LSP_IGNORE", "not json")
    (buggy / "pyproject.toml").write_text('[tool.dspy-lsp]\nignore = ["DL104"]\n')
    result = run("check", "--format", "json", str(buggy))
    assert result.returncode == 1 and rules_of(result) == {"DL101"}
    (line,) = result.stderr.splitlines()
    assert "DSPY_LSP_IGNORE" in line and "internal error" not in line


def test_a_tool_key_that_is_not_a_table_skips_the_project_with_one_line(buggy: Path) -> None:
    (buggy / "pyproject.toml").write_text('tool = "x"\n')
    result = run("check", "--format", "json", str(buggy))
    assert result.returncode == 1 and rules_of(result) == {"DL101", "DL104"}
    (line,) = result.stderr.splitlines()
    assert "`tool` is not a table" in line and "internal error" not in line


# -- command lines ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args", [("rules",), ("rules", "--format", "json"), ("check", "--show-settings", ".")]
)
def test_a_reader_that_goes_away_stops_the_verb_quietly(buggy: Path, args: tuple[str]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head -1` that has already exited: every write meets a closed pipe
    try:
        result = subprocess.run(
            [*CLI, *args], cwd=buggy, stdout=write_end, stderr=subprocess.PIPE, timeout=120
        )
    finally:
        os.close(write_end)
    assert result.stderr == b""
    assert result.returncode == 141  # as a tool SIGPIPE killed; `set -o pipefail` agrees


def test_an_unknown_log_level_is_a_usage_error() -> None:
    result = cli("serve", "--log-level", "LOUD", stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "argument --log-level: invalid choice: 'LOUD'" in result.stderr.splitlines()[-1]


def test_a_busy_tcp_port_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "DSPY_LSP_TCP_TOKEN": "secret"}
        result = cli("serve", "--tcp", f"127.0.0.1:{port}", env=env)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert f"cannot listen on port {port}" in line


def test_an_output_file_in_a_missing_directory_is_one_line(buggy: Path) -> None:
    result = run("check", str(buggy), "--output", str(buggy / "missing" / "report.txt"))
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "--output" in line and "missing" in line and "internal error" not in line


def test_a_file_whose_fixes_cannot_be_written_is_reported_and_the_others_are_fixed(
    tmp_path: Path,
) -> None:
    limit = 4096  # RLIMIT_FSIZE: the big file's fixed text cannot be written, even by root
    big = tmp_path / "big.py"
    big.write_text("x = 1\nif x == None:\n    pass\n" + "# padding\n" * 500)
    small = tmp_path / "small.py"
    small.write_text("y = 1\nif y == None:\n    pass\n")
    before = big.read_bytes()
    result = cli(
        "check",
        "--fix",
        str(tmp_path),
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)),
    )
    assert "y is None" in small.read_text()
    assert big.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.py", "small.py"]  # no temp file
    assert "Traceback" not in result.stderr
    assert "could not write fixes to" in result.stderr and "big.py" in result.stderr
    assert "could not write fixes to 1 file" in result.stderr
    assert result.returncode == 2


# -- file names no text encoding can hold ----------------------------------------------------
ODD_NAMES = (b"new\nline.py", b"bad\xffname.py")


@pytest.fixture
def odd_names(tmp_path: Path) -> Path:
    for name in ODD_NAMES:
        (tmp_path / os.fsdecode(name)).write_text("x = 1\nif x == None:\n    pass\n")
    return tmp_path


def odd_report(directory: Path, fmt: str) -> Any:
    """``check --format fmt`` under a strict UTF-8 stdout: the report must be UTF-8 JSON."""
    result = subprocess.run(
        [*CLI, "check", "--format", fmt, "."],
        cwd=directory,
        env=STRICT_UTF8,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    return json.loads(result.stdout.decode("utf-8"))


def test_text_output_escapes_odd_file_names_one_finding_a_line(odd_names: Path) -> None:
    result = cli("check", ".", cwd=odd_names, env=STRICT_UTF8)
    assert result.returncode == 1, result.stderr
    *findings, summary = result.stdout.splitlines()
    assert sorted(line.split(":")[0] for line in findings) == ["bad\\xffname.py", "new\\nline.py"]
    assert summary.startswith("Found 2 findings in 2 files.")


def test_json_output_keeps_odd_file_names_exact(odd_names: Path) -> None:
    items = odd_report(odd_names, "json")
    assert sorted(os.fsencode(Path(i["path"]).name) for i in items) == sorted(ODD_NAMES)


def test_sarif_output_percent_encodes_the_exact_bytes(odd_names: Path) -> None:
    results = odd_report(odd_names, "sarif")["runs"][0]["results"]
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results]
    assert all("\n" not in uri and "%" in uri for uri in uris)
    assert sorted(unquote_to_bytes(uri).rsplit(b"/", 1)[-1] for uri in uris) == sorted(ODD_NAMES)


# -- what CPython refuses to compile ---------------------------------------------------------
def test_a_bare_except_before_another_handler_is_cpythons_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(BARE_EXCEPT_FIRST)
    result = cli("check", "--format", "json", str(tmp_path))
    (item,) = json.loads(result.stdout)
    with pytest.raises(SyntaxError) as cpython:
        compile(BARE_EXCEPT_FIRST, "m.py", "exec", dont_inherit=True)
    assert item["rule"] == "DL000"
    assert item["message"] == f"SyntaxError: {cpython.value.msg}"
    assert item["start"] == {"line": cpython.value.lineno, "column": cpython.value.offset}
    assert "Traceback" not in result.stderr and result.returncode == 1


# -- the editor ------------------------------------------------------------------------------
BROKEN_ENV = ClientServerConfig(
    server_command=SERVER.server_command,
    server_env={**SERVER.server_env, "DSPY_LSP_IGNORE": "not json"},
)


@pytest_lsp.fixture(config=BROKEN_ENV, scope="module")
async def client(lsp_client: LanguageClient):
    """A server whose environment holds bad JSON and whose editor names an unknown rule."""
    await _start(
        lsp_client,
        pytest_lsp.client_capabilities("visual-studio-code"),
        {"dspy-lsp": {"ignore": ["DL1O4"]}},
    )
    yield
    await lsp_client.shutdown_session()


def _messages(client: LanguageClient, text: str) -> list[str]:
    return [m.message for m in client.messages if text in m.message]


@pytest.mark.asyncio(loop_scope="module")
async def test_the_editor_still_gets_diagnostics_and_one_message_per_problem(
    client: LanguageClient,
) -> None:
    first = await open_and_wait(client, workspace_file("edges/a.py"), BUGGY)
    second = await open_and_wait(client, workspace_file("edges/b.py"), BUGGY)
    assert {str(d.code) for d in first.diagnostics} == {"DL101", "DL104"}
    assert {str(d.code) for d in second.diagnostics} == {"DL101", "DL104"}
    await asyncio.sleep(0.2)
    (unknown,) = _messages(client, "DL1O4")
    assert "did you mean DL104?" in unknown
    assert len(_messages(client, "DSPY_LSP_IGNORE")) == 1


@pytest.mark.asyncio(loop_scope="module")
async def test_a_project_whose_tool_key_is_not_a_table_still_gets_diagnostics(
    client: LanguageClient,
) -> None:
    workspace_file("edges_tool/pyproject.toml", 'tool = "x"\n')
    published = await open_and_wait(client, workspace_file("edges_tool/m.py"), BUGGY)
    assert {str(d.code) for d in published.diagnostics} == {"DL101", "DL104"}
    await asyncio.sleep(0.2)
    assert len(_messages(client, "`tool` is not a table")) == 1
