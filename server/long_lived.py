"""Imports whose objects live as long as the process, done without full garbage collections.

pygls, lsprotocol, libcst and pydantic build a few hundred thousand objects at import that never
die; a full collection among them costs about 20 ms, and several ran during each import. Full
collections wait until the import is done (young ones still run), and what it built is then
frozen, so no later collection walks it again.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def long_lived() -> Iterator[None]:
    young, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, 1_000_000)
    try:
        yield
    finally:
        gc.freeze()
        gc.set_threshold(young, middle, old)
