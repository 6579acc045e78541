"""Per-user directories (XDG base directories), in one place.

Everything dspy-lsp writes on its own account lives under these unless a trusted setting says
otherwise: a project's files never choose where the user's data goes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

APP = "dspy-lsp"

_XDG: dict[str, tuple[str, tuple[str, ...]]] = {
    "config": ("XDG_CONFIG_HOME", (".config",)),
    "data": ("XDG_DATA_HOME", (".local", "share")),
    "cache": ("XDG_CACHE_HOME", (".cache",)),
}


def user_dir(
    kind: Literal["config", "data", "cache"], environ: Mapping[str, str] | None = None
) -> Path:
    """``$XDG_<KIND>_HOME/dspy-lsp``, or its default under the home directory.

    The XDG spec says relative paths are invalid and must be ignored.
    """
    env = os.environ if environ is None else environ
    variable, default = _XDG[kind]
    base = env.get(variable, "")
    root = Path(base) if os.path.isabs(base) else Path.home().joinpath(*default)
    return root / APP


def inside(path: Path, root: Path) -> bool:
    """Whether ``path``, with every link followed, lies in ``root`` (links followed too)."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a link loop
        return False
