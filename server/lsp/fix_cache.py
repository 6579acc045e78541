"""What the fix loop did, remembered per unit, finding, plan program and tests (``fix_actions``
builds the key), so picking "Plan refactor" again runs nothing until one of them changes."""

from __future__ import annotations

from collections import OrderedDict

from ...analyzers.programs.attempts import Attempt

CACHED_FIXES = 128


class FixCache:
    """The loop's attempts per unit, finding, plan program and tests, most recent kept."""

    def __init__(self, size: int = CACHED_FIXES) -> None:
        self._size = size
        self._entries: OrderedDict[str, tuple[tuple[Attempt, ...], str]] = OrderedDict()

    def get(self, key: str) -> tuple[tuple[Attempt, ...], str] | None:
        if key in self._entries:
            self._entries.move_to_end(key)
        return self._entries.get(key)

    def put(self, key: str, attempts: tuple[Attempt, ...], reason: str) -> None:
        self._entries[key] = (attempts, reason)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
