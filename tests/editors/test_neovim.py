"""Headless Neovim, configured by editors/neovim/init.lua, against the real dspy-lsp.

The Lua driver (nvim_driver.lua) opens a copy of examples/inventory/store.py, waits for
diagnostics, lists the DL104 code actions and applies the quick fix through
``vim.lsp.buf.code_action()``, writes the file, then runs :DspyLspFixAll; it reports as JSON,
which these tests check, together with the feedback store the server wrote (``feedback.path``).
Needs ``nvim`` on PATH (Debian: ``neovim``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from editor_feedback import quick_fixes, wait_for_events
from editor_run import SAMPLE, prepare

HERE = Path(__file__).resolve().parent
WAIT_MS = 30_000  # each wait inside Neovim
RUN_TIMEOUT_S = 180  # the whole Neovim run
# Sent as the "dspy-lsp" initializationOptions: DL101 (store.py line 9) must then be absent,
# and the pedantic rules run, so :DspyLspFixAll has DL113's safe fixes (the dicts are annotated).
SETTINGS = {"ignore": ["DL101"], "select": ["DL", "pedantic"]}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    prepared = prepare(tmp_path_factory, "nvim", "install Debian's neovim package")
    nvim, tmp, target = prepared.editor, prepared.tmp, prepared.target
    result_path, feedback = prepared.result, prepared.feedback
    settings = {**SETTINGS, "feedback": {"path": str(feedback)}}
    xdg = tmp / "xdg"  # keeps Neovim's state and LSP log out of the user's home
    env = {
        **os.environ,
        "NVIM_DSPY_LSP_PYTHON": sys.executable,
        "NVIM_DSPY_LSP_TEST_FILE": str(target),
        "NVIM_DSPY_LSP_TEST_RESULT": str(result_path),
        "NVIM_DSPY_LSP_TEST_TIMEOUT_MS": str(WAIT_MS),
        "NVIM_DSPY_LSP_TEST_SETTINGS": json.dumps(settings),
        **{f"XDG_{kind}_HOME": str(xdg / kind.lower()) for kind in ("CONFIG", "DATA", "STATE")},
        "XDG_CACHE_HOME": str(xdg / "cache"),
    }
    command = [
        nvim,
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
    return {**result, "feedback_path": str(feedback)}


def test_diagnostics_reach_neovim(run: dict) -> None:
    assert run["filetype"] == "python"
    assert "DL104" in run["codes"]
    assert run["dl104_line"] == 45
    assert "DL101" not in run["codes"], "the ignore setting did not reach the server"


def test_code_actions_at_the_dl104_line(run: dict) -> None:
    dl104 = [title for title in run["titles"] if title.startswith("DL104: ")]
    assert dl104, run["titles"]
    assert dl104[0] in run["preferred"], "the safe DL104 fix is not the preferred action"
    assert "Dismiss DL104: false positive (suppress on this line)" in run["titles"]
    assert "Dismiss DL104: not now (hide this session)" in run["titles"]


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
