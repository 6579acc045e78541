"""A project's own test command, run in a copy of the project: the user's files are never
written, a test that hangs is killed with its whole process group, the child has no network
where the OS allows it, and its output is capped (the head and the tail are what explain a
failure)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal, TypeVar

MAX_OUTPUT_CHARS = 20_000
"""Output kept of a test run: its first and last halves, the middle cut."""
COPY_IGNORE = shutil.ignore_patterns(
    ".git", "__pycache__", "*.pyc", ".tox", ".nox", ".mypy_cache", ".pytest_cache",
    ".ruff_cache", "node_modules", ".venv", "venv",
)  # fmt: skip
_NO_NETWORK_PREFIXES = (("unshare", "--net"), ("unshare", "--map-root-user", "--net"))


T = TypeVar("T")
Outcome = Literal["passed", "failed", "timeout", "cancelled"]
_POLL_S = 0.1


@dataclass(frozen=True)
class TestRun:
    outcome: Outcome
    output: str
    seconds: float
    offline: bool = False
    """Whether the run had no network (a network namespace of its own)."""


@contextlib.contextmanager
def project_copy(root: Path) -> Iterator[Path]:
    """A throwaway copy of ``root`` (without VCS data, caches or virtual environments),
    removed on exit: candidates are written and tested there, never in the project."""
    with tempfile.TemporaryDirectory(prefix="dspy-lsp-sandbox-") as tmp:
        copy = Path(tmp) / (root.resolve().name or "project")
        shutil.copytree(root, copy, ignore=COPY_IGNORE, symlinks=True)
        yield copy


def write_inside(copy: Path, relative: str, text: str) -> Path:
    """Write ``text`` to ``relative`` in ``copy``; a path that leads out of it is refused."""
    target = (copy / relative).resolve()
    if not target.is_relative_to(copy.resolve()):
        raise ValueError(f"{relative} is outside the project copy")
    target.write_text(text, encoding="utf-8")
    return target


def run_tests(
    command: str,
    cwd: Path,
    timeout_s: float,
    *,
    network: bool = False,
    cancel: threading.Event | None = None,
) -> TestRun:
    """``command`` in a shell in ``cwd``; at the timeout, or as soon as ``cancel`` is set, its
    whole process group is killed.

    No bytecode is written: a candidate the size of the original, written within the same
    second, would otherwise be run from the original's stale ``.pyc``. Unless ``network``,
    the command runs in a network namespace of its own when ``unshare`` can make one.
    """
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    prefix = () if network else no_network_prefix()
    argv = [*prefix, "/bin/sh", "-c", command]
    start = time.monotonic()
    with tempfile.TemporaryFile() as sink:  # a file, not a pipe: a flood of output fills disk
        proc = subprocess.Popen(  # pages, not memory, and never blocks the child
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            outcome = _wait(proc, start + timeout_s, cancel)
        except BaseException:  # Ctrl-C, or the caller cancelled: leave no test run behind
            kill_group(proc)
            raise
        finally:
            kill_group(proc)  # what it left running in its group too
        output = capped(sink)
    return TestRun(outcome, output, time.monotonic() - start, offline=bool(prefix))


def _wait(
    proc: subprocess.Popen[bytes], deadline: float, cancel: threading.Event | None
) -> Outcome:
    while True:
        try:
            proc.wait(timeout=min(_POLL_S, max(0.0, deadline - time.monotonic())))
            return "passed" if proc.returncode == 0 else "failed"
        except subprocess.TimeoutExpired:
            if cancel is not None and cancel.is_set():
                return "cancelled"
            if time.monotonic() >= deadline:
                return "timeout"


async def run_tests_async(command: str, cwd: Path, timeout_s: float) -> TestRun:
    """``run_tests`` off the event loop; cancelling the caller kills the run at once."""
    return await cancellable(lambda cancel: run_tests(command, cwd, timeout_s, cancel=cancel))


async def cancellable(work: Callable[[threading.Event], T]) -> T:
    """``work`` in a thread, told through its event when the caller is cancelled: a thread
    cannot be killed, but a run that watches the event kills its tests within ``_POLL_S``."""
    cancel = threading.Event()
    try:
        return await asyncio.to_thread(work, cancel)
    except asyncio.CancelledError:
        cancel.set()
        raise


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # it ended meanwhile
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def capped(sink: IO[bytes]) -> str:
    """The head and tail of what a run wrote to ``sink``, decoded."""
    sink.seek(0, os.SEEK_END)
    size = sink.tell()
    half = MAX_OUTPUT_CHARS // 2
    sink.seek(0)
    if size <= MAX_OUTPUT_CHARS:
        return sink.read().decode("utf-8", "replace")
    head = sink.read(half).decode("utf-8", "replace")
    sink.seek(size - half)
    tail = sink.read(half).decode("utf-8", "replace")
    return f"{head}\n[... {size - 2 * half} bytes of output cut ...]\n{tail}"


@functools.cache
def no_network_prefix() -> tuple[str, ...]:
    """The ``unshare`` command line that gives a child no network here, or () where none
    works (not Linux, no ``unshare``, or user namespaces disabled)."""
    if shutil.which("unshare") is None:
        return ()
    for prefix in _NO_NETWORK_PREFIXES:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=10)
            if probe.returncode == 0:
                return prefix
    return ()
