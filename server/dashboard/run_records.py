"""What ``optimize`` and ``learn`` runs leave behind, written by the runs and read by the
dashboard's jobs panel: one JSON record per run under ``<programs dir>/runs/``, and learn's
state (``learn-state.json``), beside the versions the runs save, so every server, watcher and
dashboard of one programs directory sees the same runs.

A record is rewritten whole (atomically) as the run goes: started, its stage and progress, the
lines it printed (the last ``LOG_LINES``), what it saved and activated, how it ended. Recording
never fails a run: a write that fails is reported once on stderr. Only the newest ``KEEP_RUNS``
records are kept. Stdlib only: the CLI imports this on its way to an optimization.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ...analyzers.learning.trigger import LearnState

LOG_LINES = 40
KEEP_RUNS = 50
PROGRESS_EVERY_S = 1.0
"""A progress update is written at most this often (a new stage is written at once)."""


@dataclass(frozen=True)
class RunRecord:
    id: str
    command: str
    """"optimize" or "learn"."""
    program: str | None
    pid: int
    host: str
    started: str
    """ISO 8601, UTC, as ``finished``."""
    finished: str | None = None
    status: str = "running"
    """running | succeeded | failed."""
    stage: str | None = None
    progress: float | None = None
    exit_code: int | None = None
    saved: dict[str, str] = field(default_factory=dict)
    activated: dict[str, str] = field(default_factory=dict)
    log: tuple[str, ...] = ()


def runs_dir(programs_dir: Path) -> Path:
    return programs_dir / "runs"


def read_runs(programs_dir: Path) -> tuple[list[RunRecord], list[str]]:
    """The runs recorded for ``programs_dir`` (any order), and a message per unreadable file."""
    directory = runs_dir(programs_dir)
    if not directory.is_dir():
        return [], []
    records, problems = [], []
    for path in sorted(directory.glob("*.json")):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            raw["log"] = tuple(raw.get("log", ()))
            records.append(RunRecord(**raw))
        except (OSError, ValueError, TypeError) as exc:
            problems.append(f"{path}: not a run record ({exc})")
    return records, problems


def state_path(programs_dir: Path) -> Path:
    return programs_dir / "learn-state.json"


def read_state(path: Path) -> LearnState:
    """What the last learn run saw; a missing or unreadable file is a fresh start."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return LearnState(int(raw["last_event_id"]), raw.get("baseline_acceptance"))
    except (OSError, ValueError, KeyError, TypeError):
        return LearnState()  # none yet, or unreadable: start afresh (costs one extra run)


def write_state(path: Path, state: LearnState) -> None:
    from ..store.safe_write import replace_content

    path.parent.mkdir(parents=True, exist_ok=True)
    replace_content(path, json.dumps(dataclasses.asdict(state)).encode("utf-8"), mode=0o600)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class RunRecorder:
    """The record of one run, kept up to date on disk as the run reports."""

    def __init__(
        self,
        programs_dir: Path,
        command: str,
        program: str | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], str] = _now,
    ) -> None:
        started = now()
        stamp = started.replace(":", "").replace("-", "").replace("+0000", "")
        self.path = runs_dir(programs_dir) / f"{stamp}-{command}-{os.getpid()}.json"
        self.record = RunRecord(
            id=self.path.stem,
            command=command,
            program=program,
            pid=os.getpid(),
            host=os.uname().nodename,
            started=started,
        )
        self._clock, self._now = clock, now
        self._last_write = clock()
        self._broken = False
        self._prune()
        self._write()

    def say(self, message: str) -> None:
        """Print ``message`` on stderr, as the run always did, and keep it in the log."""
        print(message, file=sys.stderr)
        log = (*self.record.log, *message.splitlines())[-LOG_LINES:]
        self._update(log=log)

    def progress(self, stage: str, fraction: float) -> None:
        moved = stage != self.record.stage
        self.record = dataclasses.replace(self.record, stage=stage, progress=fraction)
        if moved or self._clock() - self._last_write >= PROGRESS_EVERY_S:
            self._write()

    def outcome(self, saved: dict[str, str], activated: dict[str, str]) -> None:
        self._update(saved=dict(saved), activated=dict(activated))

    def finish(self, exit_code: int) -> None:
        status = "succeeded" if exit_code == 0 else "failed"
        self._update(finished=self._now(), status=status, exit_code=exit_code)

    def _update(self, **changes: object) -> None:
        self.record = dataclasses.replace(self.record, **changes)  # type: ignore[arg-type]
        self._write()

    def _write(self) -> None:
        from ..store.safe_write import replace_content

        self._last_write = self._clock()
        payload = json.dumps(dataclasses.asdict(self.record), indent=1) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            replace_content(self.path, payload.encode("utf-8"), mode=0o600)
        except OSError as exc:
            if not self._broken:
                self._broken = True
                print(f"dspy-lsp: warning: the run is not recorded ({exc})", file=sys.stderr)

    def _prune(self) -> None:
        """Drop the oldest records past ``KEEP_RUNS`` (this run's makes one more)."""
        try:
            older = sorted(self.path.parent.glob("*.json"))
            for path in older[: max(0, len(older) - KEEP_RUNS + 1)]:
                path.unlink(missing_ok=True)
        except OSError:
            pass
