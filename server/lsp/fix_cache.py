"""What the fix loop did, remembered per unit, finding, plan program and tests (``fix_actions``
builds the key), so picking "Plan refactor" again runs nothing until one of them changes."""

from __future__ import annotations

from collections import OrderedDict

from ..lm.tier import FixOutcome

CACHED_FIXES = 128


class FixCache:
    """The loop's attempts per unit, finding, plan program and tests, most recent kept."""

    def __init__(self, size: int = CACHED_FIXES) -> None:
        self._size = size
        self._entries: OrderedDict[str, FixOutcome] = OrderedDict()

    def get(self, key: str) -> FixOutcome | None:
        if key in self._entries:
            self._entries.move_to_end(key)
        return self._entries.get(key)

    def put(self, key: str, outcome: FixOutcome) -> None:
        self._entries[key] = outcome
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
