"""The VS Code extension: strict type-check, lint, unit tests and a packaged .vsix.

Run from pytest so that ``python -m pytest`` stays the one command for the whole suite.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[2] / "vscode-client"


def _npm(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DSPY_LSP_PYTHON": sys.executable}
    return subprocess.run(
        ["npm", *args], cwd=CLIENT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_extension_type_checks_lints_passes_its_tests_and_packages() -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed; the VS Code extension cannot be built here")
    if not (CLIENT / "node_modules").is_dir():
        installed = _npm("ci", "--no-audit", "--no-fund")
        assert installed.returncode == 0, installed.stdout + installed.stderr
    tested = _npm("test")
    output = tested.stdout + tested.stderr
    assert tested.returncode == 0, output
    assert re.search(r"\sfail 0\s*$", output, re.MULTILINE), output[-2000:]
    for old in CLIENT.glob("*.vsix"):
        old.unlink()
    packaged = _npm("run", "package")
    assert packaged.returncode == 0, packaged.stdout + packaged.stderr
    [vsix] = list(CLIENT.glob("dspy-lsp-*.vsix"))
    assert vsix.stat().st_size > 10_000
