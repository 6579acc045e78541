"""Where optimized program state lives, and reading it safely.

An artifact is what ``dspy.Module.save("<kind>.json")`` writes: instructions and demos per
predictor, no code. ``dspy-lsp optimize`` writes them; the server only reads. A broken artifact
is reported and the built-in program is used instead.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
KINDS = ("analyze", "plan")


def default_programs_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share"
    return root / "dspy-lsp" / "programs"


def load_states(directory: Path) -> tuple[dict[str, dict[str, Any] | None], list[str]]:
    """``{kind: state or None}`` and the problems found; a missing directory is no problem."""
    states: dict[str, dict[str, Any] | None] = {}
    problems: list[str] = []
    for kind in KINDS:
        path = directory / f"{kind}.json"
        states[kind] = None
        if not path.is_file():
            continue
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems.append(f"{path}: {exc}; using the built-in {kind} program")
            continue
        if not isinstance(state, dict):
            problems.append(f"{path}: not a program state; using the built-in {kind} program")
            continue
        states[kind] = state
    return states, problems
