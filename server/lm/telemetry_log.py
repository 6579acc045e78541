"""The tier's LM calls, handed to the telemetry store on a thread of their own.

Recording must never fail nor slow an LM call: ``record`` only queues (dropping the row when
the queue is full), and one writer thread per process opens each store (a per-user file, or a
project in the team database) on first use and writes.
A store that cannot be opened or written is logged once and its rows dropped. What is queued
when the process exits is written first, for at most ``EXIT_FLUSH_S`` (``check --lm`` exits
right after its last call).
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..store.postgres.driver import TeamStoreUnavailable
from ..store.telemetry import LmCall, TelemetryStoreError
from .storage import TelemetryReader, TelemetryTarget, open_telemetry

log = logging.getLogger(__name__)

EXIT_FLUSH_S = 2.0
_QUEUE_SIZE = 10_000


@dataclass(frozen=True)
class _Opening:
    model: str
    at: datetime


_Item = tuple[TelemetryTarget, LmCall | _Opening] | threading.Event


class TelemetryLog:
    """Where one tier's calls go: the store at ``target``, written in the background."""

    def __init__(self, target: TelemetryTarget) -> None:
        self.target = target

    def record(self, call: LmCall) -> None:
        _writer().put((self.target, call))

    def record_breaker_opening(self, model: str, at: datetime) -> None:
        _writer().put((self.target, _Opening(model, at)))

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until everything recorded so far is written; False if it took too long."""
        return _writer().flush(timeout_s)


def usage_of(history: Sequence[Mapping[str, Any]]) -> tuple[int, int, float]:
    """Prompt tokens, completion tokens and cost (USD) in an LM's ``history``, as the endpoint
    reported them (0 where it reported none: a local model, a dspy cache hit)."""
    prompt = completion = 0
    cost = 0.0
    for entry in history:
        usage = entry.get("usage") or {}
        try:
            prompt += int(usage.get("prompt_tokens") or 0)
            completion += int(usage.get("completion_tokens") or 0)
            cost += float(entry.get("cost") or 0.0)
        except (TypeError, ValueError, AttributeError):
            continue  # telemetry: an odd entry is not worth a failed call
    return prompt, completion, cost


class _Writer:
    def __init__(self) -> None:
        self._queue: queue.Queue[_Item] = queue.Queue(_QUEUE_SIZE)
        self._stores: dict[TelemetryTarget, TelemetryReader] = {}
        self._failed: set[TelemetryTarget] = set()
        self._dropped = False
        self.pid = os.getpid()
        thread = threading.Thread(target=self._run, name="dspy-lsp telemetry", daemon=True)
        thread.start()
        atexit.register(self._at_exit)

    def put(self, item: _Item) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            if not self._dropped:
                self._dropped = True
                log.warning("LM telemetry: the writer is behind; rows are being dropped")

    def flush(self, timeout_s: float) -> bool:
        done = threading.Event()
        self.put(done)
        return done.wait(timeout_s)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                self._write(*item)
            except Exception as exc:  # the thread must outlive any one row
                log.warning("LM telemetry: a row was not written: %s", exc)

    def _write(self, target: TelemetryTarget, row: LmCall | _Opening) -> None:
        store = self._stores.get(target)
        if store is None:
            try:
                store = self._stores[target] = open_telemetry(target)
            except (TelemetryStoreError, TeamStoreUnavailable) as exc:
                if target not in self._failed:
                    self._failed.add(target)
                    log.warning("LM telemetry: not recorded: %s", exc)
                return
        if isinstance(row, _Opening):
            store.record_breaker_opening(row.model, row.at)
        else:
            store.record(row)

    def _at_exit(self) -> None:
        self.flush(EXIT_FLUSH_S)


_lock = threading.Lock()
_instance: _Writer | None = None


def _writer() -> _Writer:
    global _instance
    with _lock:
        if _instance is None or _instance.pid != os.getpid():  # a forked child has no thread
            _instance = _Writer()
        return _instance
