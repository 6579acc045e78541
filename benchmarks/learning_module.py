"""``benchmarks/learning.py`` (its LM set-up, meter and quiet), for the other benchmarks."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

TESTS_DIR = Path(__file__).resolve().parents[1] / "tests"


def learning() -> ModuleType:
    """Loaded by path: under pytest the name ``learning`` is the tests' package. The fakes and
    the loader live in tests/."""
    if str(TESTS_DIR) not in sys.path:
        sys.path.append(str(TESTS_DIR))
    from benchmark_scripts import load_benchmark

    return load_benchmark("learning")
