"""Where optimized program state lives, and the legacy single-file form of it.

The versioned registry (``registry.py``) keeps artifacts under ``<programs dir>/<kind>/``. Before
it, an artifact was one bare ``dspy.Module.save("<kind>.json")`` in the programs directory; such a
file is still honoured while no version of that kind has been activated. Either way the state
must keep to the artifact contract (``analyzers/programs/artifact.py``): it is data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...analyzers.programs.artifact import MAX_ARTIFACT_BYTES, parse_state
from ...analyzers.programs.kinds import SERVED
from .paths import user_dir

KINDS: tuple[str, ...] = tuple(kind.value for kind in SERVED)


def default_programs_dir(environ: dict[str, str] | None = None) -> Path:
    return user_dir("data", environ) / "programs"


def programs_dir(configured: str | None) -> Path:
    """The directory ``lm.programs_dir`` names, or the per-user default."""
    return Path(configured) if configured else default_programs_dir()


def read_json(path: Path) -> Any:
    """The JSON in ``path``; ValueError for a file too large to be an artifact, left unread."""
    with path.open("rb") as handle:
        data = handle.read(MAX_ARTIFACT_BYTES + 1)
    if len(data) > MAX_ARTIFACT_BYTES:
        raise ValueError(f"more than {MAX_ARTIFACT_BYTES} bytes: too large for a program artifact")
    return json.loads(data.decode("utf-8"))


def read_legacy_state(path: Path, kind: str) -> tuple[dict[str, Any] | None, str | None]:
    """The bare state in ``path`` and None, or None and why it cannot be used; absent is fine."""
    if not path.is_file():
        return None, None
    try:
        state = read_json(path)
        parse_state(kind, state)
    except (OSError, ValueError) as exc:  # ArtifactError is a ValueError
        return None, f"{path}: {exc}"
    return state, None
