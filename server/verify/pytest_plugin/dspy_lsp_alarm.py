"""A pytest plugin dspy-lsp loads into the project's own test runs (on ``PYTHONPATH``, with
``-p dspy_lsp_alarm``): one test that hangs fails after ``DSPY_LSP_TEST_TIMEOUT`` seconds
instead of running into the whole run's timeout, which would lose every other test's result
and coverage. The project needs nothing installed; the run's own timeout still applies (a test
stuck in C code is not interrupted by a signal). Imports only pytest and the standard library.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest


class Overran(Exception):
    """Raised in a test that ran past its time."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: Any) -> Iterator[None]:
    seconds = float(os.environ.get("DSPY_LSP_TEST_TIMEOUT") or 0)
    if seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return

    def overran(signum: int, frame: Any) -> None:
        raise Overran(f"{item.nodeid} ran longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, overran)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
