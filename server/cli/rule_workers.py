"""Per-file work of a ``check`` run in worker processes, one per core, results in input order.

A handful of files are done in this process instead. A worker is a fresh interpreter that
imports libcst (about 0.6 s), as much as analysing a small tree. Workers run the same functions
as this process, so the output does not depend on where a file was analysed. Their stdout goes
to /dev/null, because only the report may be written there.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from ..settings import ResolvedSettings

WORKERS_ENV = "DSPY_LSP_WORKERS"
"""How many worker processes to use (1: none); default one per core this process may run on."""
PARALLEL_MIN_FILES = 8

Result = TypeVar("Result")


@dataclass(frozen=True)
class FileJob:
    """One file's text and the settings it is checked under (an index: settings travel once)."""

    settings: int
    path: Path
    text: str


FileTask = Callable[[str, Path, ResolvedSettings], Result]
"""A module-level function of (text, path, settings), so a worker can import it by name."""


def worker_count(env: Mapping[str, str]) -> int:
    chosen = env.get(WORKERS_ENV, "").strip()
    if chosen.isdigit() and int(chosen) > 0:
        return int(chosen)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class Workers:
    """Runs a task over files here, or in a pool of processes started on first need."""

    def __init__(self, settings: Sequence[ResolvedSettings], count: int) -> None:
        self.settings = tuple(settings)
        self.count = count
        self._pool: ProcessPoolExecutor | None = None

    def map(
        self, task: FileTask[Result], jobs: Sequence[FileJob], done: Callable[[], None]
    ) -> list[Result]:
        """``task`` over every job, in the jobs' order; ``done`` is called as each one ends."""
        if self.count < 2 or len(jobs) < PARALLEL_MIN_FILES:
            results = []
            for job in jobs:
                results.append(task(job.text, job.path, self.settings[job.settings]))
                done()
            return results
        pool = self._started(len(jobs))
        # Longest first, so that a big file started last does not hold up the end of the run.
        order = sorted(range(len(jobs)), key=lambda i: -len(jobs[i].text))
        futures: dict[Future[Result], int] = {pool.submit(_run, task, jobs[i]): i for i in order}
        out: dict[int, Result] = {}
        for future in as_completed(futures):
            out[futures[future]] = future.result()
            done()
        return [out[i] for i in range(len(jobs))]

    def __enter__(self) -> Workers:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._pool is None:
            return
        if error is not None:  # Ctrl-C or a failure: what still runs is not waited for
            # The executor has no public way to stop its workers before Python 3.14.
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.terminate()
        self._pool.shutdown(wait=error is None, cancel_futures=True)
        self._pool = None

    def _started(self, jobs: int) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=min(self.count, jobs),
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_initialise,
                initargs=(self.settings,),
            )
        return self._pool


_settings: tuple[ResolvedSettings, ...] = ()


def _initialise(settings: tuple[ResolvedSettings, ...]) -> None:
    global _settings
    _settings = settings
    # Ctrl-C is the parent's to handle (it stops the workers), so no worker prints a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def _run(task: FileTask[Result], job: FileJob) -> Result:
    return task(job.text, job.path, _settings[job.settings])
