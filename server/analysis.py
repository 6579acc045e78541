"""Analysis of one file under the settings in force for it; shared by the CLI and the server."""

from __future__ import annotations

from pathlib import Path

from ..analyzers.chunks import Chunking
from ..analyzers.engine import Analysis, analyze_source
from ..analyzers.rules import ALL_RULES
from .settings import ResolvedSettings, relative_path


def codes_for(path: Path | None, resolved: ResolvedSettings) -> tuple[str, ...]:
    relpath = relative_path(path, resolved.root) if path is not None else None
    return resolved.settings.selection().codes_for(tuple(ALL_RULES), relpath)


def analyze_file_text(
    text: str, path: Path | None, resolved: ResolvedSettings, previous: Chunking | None = None
) -> Analysis:
    return analyze_source(
        text,
        codes_for(path, resolved),
        max_chars=resolved.settings.max_file_chars,
        previous=previous,
    )
