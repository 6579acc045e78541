"""Where optimized program state lives, and the legacy single-file form of it.

The versioned registry (``registry.py``) keeps artifacts under ``<programs dir>/<kind>/``. Before
it, an artifact was one bare ``dspy.Module.save("<kind>.json")`` in the programs directory; such a
file is still honoured while no version of that kind has been activated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .paths import user_dir

KINDS = ("analyze", "plan")


def default_programs_dir(environ: dict[str, str] | None = None) -> Path:
    return user_dir("data", environ) / "programs"


def programs_dir(configured: str | None) -> Path:
    """The directory ``lm.programs_dir`` names, or the per-user default."""
    return Path(configured) if configured else default_programs_dir()


def read_legacy_state(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The bare state in ``path`` and None, or None and why it cannot be used; absent is fine."""
    if not path.is_file():
        return None, None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{path}: {exc}"
    if not isinstance(state, dict):
        return None, f"{path}: not a program state"
    return state, None
