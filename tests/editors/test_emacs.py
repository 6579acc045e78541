"""Headless Emacs with eglot, configured by editors/emacs/dspy-lsp.el, against the real dspy-lsp.

`emacs --batch` loads emacs_driver.el, which loads the config, opens a copy of
examples/inventory/store.py, runs `M-x eglot`, waits for dspy-lsp's Flymake diagnostics, lists
the code actions on the DL104 line, applies the DL104 quick fix through `eglot-code-actions`
(which then runs the action's dspy-lsp.feedback command), saves, and waits for DL104 to go away.
It writes what it saw as JSON, which these tests check, together with the feedback store the
server wrote (``feedback.path``).
Needs `emacs` with eglot (Debian: emacs-nox + elpa-eglot on Emacs 28; built in from Emacs 29).
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
DRIVER = HERE / "emacs_driver.el"
WAIT_S = 30  # each wait inside Emacs; its watchdog fires after four of these
RUN_TIMEOUT_S = 180  # the whole Emacs run, server included


def _tail(text: str, chars: int = 6000) -> str:
    return text[-chars:] if len(text) > chars else text


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    prepared = prepare(tmp_path_factory, "emacs", "Debian: apt-get install emacs-nox elpa-eglot")
    emacs, tmp, target = prepared.editor, prepared.tmp, prepared.target
    result_path, feedback = prepared.result, prepared.feedback
    home = tmp / "home"  # no user init files, packages or caches from the real home
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "EGLOT_DSPY_LSP_PYTHON": sys.executable,
        "EMACS_DRIVER_FILE": str(target),
        "EMACS_DRIVER_RESULT": str(result_path),
        "EMACS_DRIVER_TIMEOUT": str(WAIT_S),
        "EMACS_DRIVER_FEEDBACK": str(feedback),
    }
    # Its own session, so a timeout can kill Emacs and the server it started together.
    proc = subprocess.Popen(
        [emacs, "--batch", "-l", str(DRIVER)],
        cwd=tmp,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"emacs did not finish in {RUN_TIMEOUT_S}s; its output:\n{_tail(output)}")
    print(output)
    if not result_path.is_file():
        pytest.fail(f"emacs exited {proc.returncode} without a result; output:\n{_tail(output)}")
    result = json.loads(result_path.read_text(encoding="utf-8"))
    if proc.returncode != 0 or result.get("status") != "ok":
        pytest.fail(
            f"emacs driver failed (exit {proc.returncode}, status {result.get('status')}): "
            f"{result.get('error')}\noutput:\n{_tail(output)}"
        )
    return {**result, "feedback_path": str(feedback)}


def test_eglot_starts_dspy_lsp_with_this_interpreter(run: dict) -> None:
    assert run["major_mode"] in ("python-mode", "python-ts-mode")
    assert run["server_name"] == "dspy-lsp"
    assert run["server_python"] == sys.executable
    assert Path(run["server_executable"]).resolve() == Path(sys.executable).resolve()
    print(f"Emacs {run['emacs_version']}, eglot {run['eglot_version']} ({run['eglot_library']})")


def test_flymake_shows_dl104_from_dspy_lsp(run: dict) -> None:
    assert "DL104" in run["codes"]
    assert run["dl104_line"] == 45
    assert run["dl104_text"] == "item == None"


def test_settings_reach_the_server(run: dict) -> None:
    # The driver sets dspy-lsp-settings to (:ignore ["DL113"] :debounce-ms 120 :feedback ...).
    feedback = {"path": run["feedback_path"]}
    assert run["init_options"] == {
        "dspy-lsp": {"ignore": ["DL113"], "debounce-ms": 120, "feedback": feedback}
    }
    assert run["server_settings"]["ignore"] == ["DL113"]
    assert run["server_settings"]["debounce_ms"] == 120
    assert run["server_settings"]["feedback"]["path"] == run["feedback_path"]
    assert run["server_config_errors"] == []
    assert "DL113" not in run["codes"]


def test_code_actions_at_the_dl104_line(run: dict) -> None:
    by_title = {action["title"]: action for action in run["actions"]}
    fixes = [t for t in by_title if t.startswith("DL104:")]
    assert len(fixes) == 1, by_title
    fix = by_title[fixes[0]]
    assert fix["kind"] == "quickfix"
    assert fix["preferred"] is True
    assert fix["has_edit"] is True  # eglot has no codeAction/resolve: the edit comes inline
    # actions.dismiss = "menu" (the default): one "Dismiss…" action, after the fixes
    assert "Dismiss DL104…" in by_title
    assert list(by_title).index("Dismiss DL104…") > list(by_title).index(fixes[0])
    assert [a["kind"] for a in run["fix_all_actions"]] == ["source.fixAll.dspy-lsp"]


def test_quick_fix_applied_and_saved(run: dict) -> None:
    assert run["applied_title"].startswith("DL104:")
    assert run["prompts"] == []  # eglot applied the edit without asking
    final = run["final_text"]
    assert "    if item is None:\n" in final
    assert "item == None" not in final
    original = SAMPLE.read_text(encoding="utf-8")
    assert final == original.replace("if item == None:", "if item is None:", 1)


def test_dl104_gone_after_the_fix(run: dict) -> None:
    assert "DL104" not in run["codes_after"]
    assert set(run["codes_after"]) == set(run["codes"]) - {"DL104"}
    assert run["shutdown"] is True


def test_applied_quick_fix_records_an_accepted_event(run: dict) -> None:
    """eglot ran the action's dspy-lsp.feedback command after applying its edit."""
    # eglot waits for the command's answer, which the server sends once the event is stored.
    answer = run["fix_command_answer"]
    assert answer and answer["recorded"] == 1, answer
    events = wait_for_events(Path(run["feedback_path"]), lambda found: bool(quick_fixes(found)))
    fixes = quick_fixes(events)
    assert len(fixes) == 1, f"events in the store: {events}"
    event = fixes[0]
    assert (event.kind, event.rule, event.action_kind) == ("accepted", "DL104", "quickfix")
    assert event.program_version == "rule"
    assert "if item == None:" in event.code and "if item is None:" not in event.code
    assert "if item is None:" in event.edit and "if item == None:" not in event.edit
    # Accepted, so not also counted as fixed by hand when the file was saved.
    assert [e.kind for e in events if e.rule == "DL104"] == ["accepted"]
