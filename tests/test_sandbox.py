"""The project's tests run in a copy of it: the user's files untouched, hangs killed with their
children, output capped, and no network for the child where the OS allows it."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from pathlib import Path

import pytest

from dspy_lsp.server.verify.sandbox import (
    MAX_OUTPUT_CHARS,
    no_network_prefix,
    project_copy,
    run_tests,
    run_tests_async,
    write_inside,
)

PYTHON = sys.executable


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (root / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    )
    return root


def test_a_candidate_is_tested_in_a_copy_and_the_project_is_untouched(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    command = f"{PYTHON} -m pytest -x -q -p no:cacheprovider"
    with project_copy(root) as copy:
        assert not (copy / ".git").exists()  # no VCS data in the copy
        assert run_tests(command, copy, 120).outcome == "failed"
        write_inside(copy, "calc.py", "def add(a, b):\n    return a + b\n")
        run = run_tests(command, copy, 120)
        assert run.outcome == "passed" and "1 passed" in run.output
    assert not copy.exists()
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_a_write_outside_the_copy_is_refused(tmp_path: Path) -> None:
    with project_copy(_project(tmp_path)) as copy, pytest.raises(ValueError, match="outside"):
        write_inside(copy, "../../escape.py", "x = 1\n")
    assert not (tmp_path / "escape.py").exists()


def test_a_hanging_test_is_killed_at_the_timeout_with_what_it_started(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    # The shell starts a grandchild that would outlive a kill of the shell alone.
    command = f"sleep 300 & echo $! > {marker}; echo started; sleep 300"
    started = time.monotonic()
    run = run_tests(command, tmp_path, timeout_s=1.0)
    assert run.outcome == "timeout" and "started" in run.output
    assert time.monotonic() - started < 60  # killed, not waited for (300 s)
    grandchild = int(marker.read_text())
    for _ in range(100):  # the kernel reaps it a moment later
        if not _alive(grandchild):
            break
        time.sleep(0.05)
    assert not _alive(grandchild)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")  # a zombie is dead


def test_a_flood_of_output_keeps_its_head_and_tail(tmp_path: Path) -> None:
    flood = f"{PYTHON} -c \"print('FIRST'); print('x' * 5_000_000); print('LAST')\""
    run = run_tests(flood, tmp_path, 120)
    assert run.outcome == "passed" and len(run.output) < MAX_OUTPUT_CHARS + 100
    assert run.output.startswith("FIRST") and run.output.rstrip().endswith("LAST")
    assert "bytes of output cut" in run.output


def test_the_child_has_no_network_where_the_os_allows_it(tmp_path: Path) -> None:
    if not no_network_prefix():
        pytest.skip("unshare cannot make a network namespace here: tests run with the network")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        probe = f"{PYTHON} -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 5)\""
        offline = run_tests(probe, tmp_path, 60)
        online = run_tests(probe, tmp_path, 60, network=True)
    assert offline.offline and offline.outcome == "failed"
    assert not online.offline and online.outcome == "passed"


async def test_cancelling_the_caller_stops_the_tests_and_what_they_started(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    command = f"sleep 300 & echo $! > {marker}; sleep 300"
    task = asyncio.create_task(run_tests_async(command, tmp_path, timeout_s=600))
    for _ in range(600):  # until the shell has started its child
        if marker.exists() and marker.read_text().strip():
            break
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    grandchild = int(marker.read_text())
    for _ in range(200):
        if not _alive(grandchild):
            break
        await asyncio.sleep(0.05)
    assert not _alive(grandchild)
