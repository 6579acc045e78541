"""What every real-editor test prepares: the editor binary (or a printed skip) and a scratch
project holding a copy of the sample file, with paths for the driver's result and the store."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "inventory" / "store.py"


@dataclass(frozen=True)
class EditorRun:
    editor: str
    """The editor's executable."""
    tmp: Path
    target: Path
    """The copy of examples/inventory/store.py the editor opens."""
    result: Path
    """Where the driver writes what it saw, as JSON."""
    feedback: Path
    """The feedback store the server is told to use."""


def prepare(tmp_path_factory: pytest.TempPathFactory, program: str, install_hint: str) -> EditorRun:
    """Skip (with the reason printed) unless ``program`` is on PATH; else a fresh project."""
    editor = shutil.which(program)
    if editor is None:
        reason = f"{program} is not on PATH ({install_hint})"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp(program)
    target = tmp / "project" / "inventory" / "store.py"
    target.parent.mkdir(parents=True)
    shutil.copyfile(SAMPLE, target)
    return EditorRun(editor, tmp, target, tmp / "result.json", tmp / "feedback.sqlite3")
