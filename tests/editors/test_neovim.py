"""Headless Neovim, configured by editors/neovim/init.lua, against the real dspy-lsp.

The Lua driver (nvim_driver.lua) opens a copy of examples/inventory/store.py and runs one of two
scenarios, each in its own Neovim. "actions" (no LM) waits for diagnostics, lists the DL104
code actions, applies the quick fix through ``vim.lsp.buf.code_action()``, writes the file,
runs :DspyLspFixAll, then :DspyLspStatus. "commands" (an LM: a fake OpenAI server answered by a
scripted model, and ``dismiss_actions = false``) runs :DspyLspAnalyzeFile, :DspyLspStatus and
:DspyLspAnalyzeWorkspace, and opens the code action menu. The driver reports as JSON, which
these tests check, together with the feedback store the server wrote (``feedback.path``).
Needs ``nvim`` on PATH (Debian: ``neovim``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from editor_feedback import quick_fixes, wait_for_events
from editor_run import SAMPLE, EditorRun, prepare

HERE = Path(__file__).resolve().parent
WAIT_MS = 30_000  # each wait inside Neovim
RUN_TIMEOUT_S = 180  # the whole Neovim run
# Sent as the "dspy-lsp" initializationOptions: DL101 (store.py line 9) must then be absent,
# and the pedantic rules run, so :DspyLspFixAll has DL113's safe fixes (the dicts are annotated).
SETTINGS = {"ignore": ["DL101"], "select": ["DL", "pedantic"]}
# A second file of the project for :DspyLspAnalyzeWorkspace, which Neovim never opens: DL104
# for the rules, and an eval() call the scripted model (fakes.reviewer) rewrites, so one finding
# comes from the LM.
OTHER_NAME = "lookup.py"
OTHER_TEXT = """def find(items, name):
    for item in items:
        if item == None:
            continue
        if item.name == name:
            return item
    return None


def parse(text):
    return eval(text)
"""
FAKE_MODEL = "openai/fake"
INFO, WARN = 2, 3  # vim.log.levels


def drive(prepared: EditorRun, scenario: str, env: dict[str, str]) -> dict:
    """Runs nvim_driver.lua's ``scenario`` in a headless Neovim; what it saw, or the test fails."""
    tmp, result_path = prepared.tmp, prepared.result
    xdg = tmp / "xdg"  # keeps Neovim's state and LSP log out of the user's home
    env = {
        **os.environ,
        "NVIM_DSPY_LSP_PYTHON": sys.executable,
        "NVIM_DSPY_LSP_TEST_FILE": str(prepared.target),
        "NVIM_DSPY_LSP_TEST_RESULT": str(result_path),
        "NVIM_DSPY_LSP_TEST_TIMEOUT_MS": str(WAIT_MS),
        "NVIM_DSPY_LSP_TEST_SCENARIO": scenario,
        **{f"XDG_{kind}_HOME": str(xdg / kind.lower()) for kind in ("CONFIG", "DATA", "STATE")},
        "XDG_CACHE_HOME": str(xdg / "cache"),
        **env,
    }
    command = [
        prepared.editor,
        "--headless",
        "--clean",
        "-u",
        str(HERE / "nvim_init.lua"),
        "-c",
        f"luafile {HERE / 'nvim_driver.lua'}",
    ]
    proc = subprocess.Popen(
        command,
        cwd=tmp,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, so a hang takes the server down too
    )
    try:
        stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(
            f"nvim did not finish in {RUN_TIMEOUT_S}s\nstdout:\n{stdout}\nstderr:\n{stderr}"
        )
    output = f"exit {proc.returncode}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    if not result_path.exists():
        pytest.fail(f"the driver wrote no result\n{output}")
    result = json.loads(result_path.read_text())
    if result.get("error") or proc.returncode != 0:
        pytest.fail(f"driver error: {result.get('error')}\n{output}")
    return result


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The "actions" scenario, settings given as vim.g.dspy_lsp_settings."""
    prepared = prepare(tmp_path_factory, "nvim", "install Debian's neovim package")
    settings = {**SETTINGS, "feedback": {"path": str(prepared.feedback)}}
    result = drive(prepared, "actions", {"NVIM_DSPY_LSP_TEST_SETTINGS": json.dumps(settings)})
    return {**result, "feedback_path": str(prepared.feedback)}


@pytest.fixture(scope="module")
def commands(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The "commands" scenario, with a second file in the project (never opened) and an LM: a
    real HTTP server speaking the OpenAI API, answered by a scripted model. Settings are given
    through setup(), with ``dismiss_actions = false``."""
    from fakes.openai_server import FakeOpenAI
    from fakes.reviewer import Reviewer

    prepared = prepare(tmp_path_factory, "nvim", "install Debian's neovim package")
    other = prepared.target.parent / OTHER_NAME
    other.write_text(OTHER_TEXT)
    with FakeOpenAI(Reviewer()) as fake:
        lm = {
            "model": FAKE_MODEL,
            "api_base": fake.base_url,
            "cache_path": str(prepared.tmp / "lm-cache.sqlite3"),
            "max_attempts": 1,
            "timeout_s": 10,
        }
        settings = {**SETTINGS, "feedback": {"path": str(prepared.feedback)}, "lm": lm}
        options = {"settings": settings, "dismiss_actions": False}
        env = {
            "NVIM_DSPY_LSP_TEST_OPTIONS": json.dumps(options),
            "NVIM_DSPY_LSP_TEST_OTHER_FILE": str(other),
        }
        result = drive(prepared, "commands", env)
    return {**result, "lm_requests": fake.request_count}


def test_diagnostics_reach_neovim(run: dict) -> None:
    assert run["filetype"] == "python"
    assert "DL104" in run["codes"]
    assert run["dl104_line"] == 45
    assert "DL101" not in run["codes"], "the ignore setting did not reach the server"


def test_code_actions_at_the_dl104_line(run: dict) -> None:
    dl104 = [title for title in run["titles"] if title.startswith("DL104: ")]
    assert dl104, run["titles"]
    assert dl104[0] in run["preferred"], "the safe DL104 fix is not the preferred action"
    # The server's default (actions.dismiss = "menu"): one action that asks how to dismiss.
    assert [title for title in run["titles"] if title.startswith("Dismiss")] == ["Dismiss DL104…"]


def test_quick_fix_is_applied_and_written(run: dict) -> None:
    assert run["applied"].startswith("DL104: ")
    assert run["menu"] == run["titles"], "vim.lsp.buf.code_action offered other actions"
    assert "    if item is None:\n" in run["final_text"]
    assert "item == None" not in run["final_text"]
    # Only that line changed.
    expected = SAMPLE.read_text().replace("if item == None:", "if item is None:")
    assert run["final_text"] == expected
    # The server saw the edit through Neovim's document sync and dropped the finding.
    assert run["codes_after_fix"]
    assert "DL104" not in run["codes_after_fix"]


def test_fix_all_command(run: dict) -> None:
    assert ".keys()" not in run["fix_all_text"]
    assert "if item is None:" in run["fix_all_text"]


def test_applied_quick_fix_records_an_accepted_event(run: dict) -> None:
    """Neovim ran the action's dspy-lsp.feedback command after applying its edit."""
    events = wait_for_events(Path(run["feedback_path"]), lambda found: bool(quick_fixes(found)))
    fixes = quick_fixes(events)
    assert len(fixes) == 1, f"events in the store: {events}"
    event = fixes[0]
    assert (event.kind, event.rule, event.action_kind) == ("accepted", "DL104", "quickfix")
    assert event.program_version == "rule"
    assert event.path == "store.py"  # no root marker above it: its directory is the root
    assert "if item == None:" in event.code and "if item is None:" not in event.code
    assert "if item is None:" in event.edit and "if item == None:" not in event.edit
    # Accepted, so not also counted as fixed by hand when the file was saved.
    assert [e.kind for e in events if e.rule == "DL104"] == ["accepted"]


def test_fix_all_records_accepted_events(run: dict) -> None:
    """:DspyLspFixAll runs the fix-all action's dspy-lsp.feedback command after its edit."""
    events = wait_for_events(
        Path(run["feedback_path"]), lambda found: any(e.action_kind == "fix_all" for e in found)
    )
    fix_all = [e for e in events if e.action_kind == "fix_all"]
    # After the DL104 fix, the safe fixes left are DL113's, one per `.keys()` in the file.
    assert [e.rule for e in fix_all] == ["DL113"] * SAMPLE.read_text().count(".keys()"), events
    assert {e.kind for e in fix_all} == {"accepted"}
    assert all(".keys()" in e.code for e in fix_all)


def answer(shown: list[dict]) -> dict:
    """The message a command showed last: its answer (an "analysing …" note comes before)."""
    assert shown, "the command showed nothing"
    return shown[-1]


def test_status_command_shows_the_lm_state(commands: dict) -> None:
    shown = answer(commands["status"])
    lines = shown["text"].splitlines()
    assert lines[0] == f"dspy-lsp LM: ready ({FAKE_MODEL})", shown
    # Run after :DspyLspAnalyzeFile, which waited for the LM: the fake has answered.
    usage = re.fullmatch(
        r"calls: (\d+) \(0 failed\), tokens: (\d+) prompt \+ \d+ completion", lines[1]
    )
    assert usage, lines
    assert 1 <= int(usage[1]) <= commands["lm_requests"] and int(usage[2]) > 0, lines
    assert "queue: 0 pending, 0 waiting, 0 refused" in lines
    assert any(line.startswith("programs: ") for line in lines), lines
    assert shown["level"] == INFO
    assert len(commands["status"]) == 1


def test_status_command_without_an_lm(run: dict) -> None:
    shown = answer(run["status"])
    assert shown["text"].splitlines() == [
        "dspy-lsp LM: none — no LM configured (set lm.model)",
        "cache: 0 hits, 0 misses, 0 entries",
        "queue: 0 pending, 0 waiting, 0 refused",
    ]
    assert shown["level"] == INFO


def test_status_command_from_a_buffer_without_the_server(commands: dict) -> None:
    """One project is open, so :DspyLspStatus asks its server from any buffer."""
    first_line = answer(commands["status_elsewhere"])["text"].splitlines()[0]
    assert first_line == f"dspy-lsp LM: ready ({FAKE_MODEL})"


def test_analyze_file_command_reports_the_findings(commands: dict) -> None:
    notes = commands["analyze_file"]
    assert notes[0]["text"] == "dspy-lsp: analysing store.py …"
    codes = commands["codes"]
    expected = (
        f"dspy-lsp: store.py analysed: {commands['diagnostic_count']} findings (0 from the LM):"
        f" {', '.join(codes)}; LM ready"
    )
    assert answer(notes) == {"text": expected, "level": INFO}
    assert commands["codes_after_analyze_file"] == codes


def test_analyze_file_command_needs_an_attached_buffer(commands: dict) -> None:
    shown = commands["analyze_file_elsewhere"]
    assert shown == [{"text": "dspy-lsp is not attached to this buffer", "level": WARN}]


def test_analyze_workspace_command_reports_and_publishes(commands: dict) -> None:
    shown = answer(commands["analyze_workspace"])
    # store.py (its project root is its directory) and the never-opened lookup.py, whose
    # eval() call the model reported.
    findings = commands["diagnostic_count"] + commands["other_count"]
    assert shown == {
        "text": f"dspy-lsp: 2 of 2 files analysed, {findings} findings (1 from the LM)",
        "level": INFO,
    }
    # The unopened file's diagnostics reached Neovim.
    assert "DL104" in commands["other_codes"]
    assert any(code.startswith("LM-") for code in commands["other_codes"]), commands["other_codes"]


def _server_has_the_dismiss_setting() -> bool:
    from dspy_lsp.server.settings_model import Settings

    return "actions" in Settings.model_fields


@pytest.mark.skipif(
    not _server_has_the_dismiss_setting(),
    reason="the server has no actions.dismiss setting (server/settings_model.py), which"
    " dismiss_actions = false sends",
)
def test_dismiss_actions_false_leaves_only_the_fixes(commands: dict) -> None:
    menu = commands["menu"]
    assert not [title for title in menu if title.startswith("Dismiss")], menu
    fixes = [title for title in menu if title.startswith("DL104: ")]
    assert fixes, menu
    assert fixes[0] in commands["preferred"]


DASHBOARD_DRIVER = """
local shown = {}
vim.notify = function(message, level)
  table.insert(shown, { message = message, level = level or 2 })
end
local timeout = tonumber(vim.env.NVIM_DSPY_LSP_TEST_TIMEOUT_MS)
vim.cmd("DspyLspDashboard")
vim.wait(timeout, function() return #shown >= 1 end, 50)
vim.cmd("DspyLspDashboard")
vim.wait(timeout, function() return #shown >= 2 end, 50)
local url = (shown[1] or {}).message and shown[1].message:match("(http://%S+)") or nil
local fetched = url and vim.fn.system({
  vim.env.NVIM_DSPY_LSP_PYTHON, "-c",
  "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).status)",
  url,
}) or ""
local out = io.open(vim.env.NVIM_DSPY_LSP_TEST_RESULT, "w")
out:write(vim.fn.json_encode({ shown = shown, fetched = vim.trim(fetched) }))
out:close()
vim.cmd("qa!")
"""


def _dashboard_verb_missing() -> str | None:
    """Why ``dspy-lsp dashboard`` cannot run here, or None."""
    probe = subprocess.run(
        [sys.executable, "-P", "-m", "dspy_lsp", "dashboard", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=HERE,
    )
    if probe.returncode == 0:
        return None
    last = (probe.stderr.strip().splitlines() or [""])[-1]
    return f"the CLI has no working `dspy-lsp dashboard` verb ({last})"


def test_dashboard_command_shows_the_url_of_one_running_dashboard(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    import urllib.error
    import urllib.request

    missing = _dashboard_verb_missing()
    if missing is not None:
        print(f"SKIP: {missing}")
        pytest.skip(missing)
    prepared = prepare(tmp_path_factory, "nvim", "install Debian's neovim package")
    driver = prepared.tmp / "dashboard_driver.lua"
    driver.write_text(DASHBOARD_DRIVER)
    xdg = prepared.tmp / "xdg"
    env = {
        **os.environ,
        "NVIM_DSPY_LSP_PYTHON": sys.executable,
        "NVIM_DSPY_LSP_TEST_RESULT": str(prepared.result),
        "NVIM_DSPY_LSP_TEST_TIMEOUT_MS": str(WAIT_MS),
        **{f"XDG_{kind}_HOME": str(xdg / kind.lower()) for kind in ("CONFIG", "DATA", "STATE")},
        "XDG_CACHE_HOME": str(xdg / "cache"),
    }
    command = [prepared.editor, "--headless", "--clean", "-u", str(HERE / "nvim_init.lua")]
    subprocess.run(
        [*command, "-c", f"luafile {driver}"],
        cwd=prepared.tmp,
        env=env,
        timeout=RUN_TIMEOUT_S,
        capture_output=True,
        check=False,
    )
    result = json.loads(prepared.result.read_text())
    first, second = result["shown"]
    assert first["level"] == INFO, first
    assert re.fullmatch(r"dspy-lsp dashboard: http://127\.0\.0\.1:\d+/", first["message"])
    assert second == first  # the running dashboard, not a second one
    assert result["fetched"] == "200"
    url = first["message"].removeprefix("dspy-lsp dashboard: ")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # stopped when Neovim exited
        try:
            urllib.request.urlopen(url, timeout=2).close()
        except urllib.error.URLError:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"the dashboard at {url} still answers after Neovim exited")
