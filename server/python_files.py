"""The Python files a run covers: named files, and ``.py``/``.pyi`` files under directories.

Apart from ``analysis`` so that a ``check`` answered from its results cache finds its files
without importing the rules (and libcst).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from fnmatch import fnmatch
from pathlib import Path

from .store.paths import inside

log = logging.getLogger(__name__)

_SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".venv",
        "venv",
        "node_modules",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".dspy-lsp-cache",
        "build",
        "dist",
        ".eggs",
    }
)


def iter_python_files(paths: Sequence[Path], exclude: tuple[str, ...]) -> Iterator[Path]:
    """Files named on the command line, and ``.py``/``.pyi`` files under directories.

    Only regular files: reading a FIFO or a device named ``*.py`` would block forever. A link
    that leads out of the tree being checked (a named file's directory, or the directory
    walked) is skipped: a repository must not get a file outside it read, sent or rewritten.
    """
    for path in paths:
        if path.is_file():
            if _in_tree(path, path.parent):
                yield path
            continue
        if not path.is_dir():
            log.warning("dspy-lsp: skipping %s: not a regular file or directory", path)
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(
                d for d in dirnames if d not in _SKIP_DIRS and not d.endswith(".egg-info")
            )
            for name in sorted(filenames):
                candidate = Path(dirpath) / name
                if candidate.suffix not in (".py", ".pyi") or any(
                    fnmatch(candidate.as_posix(), pattern) for pattern in exclude
                ):
                    continue
                if not candidate.is_file():
                    log.warning("dspy-lsp: skipping %s: not a regular file", candidate)
                elif _in_tree(candidate, path):
                    yield candidate


def _in_tree(path: Path, root: Path) -> bool:
    if inside(path, root):
        return True
    log.warning("dspy-lsp: skipping %s: a link to a file outside %s", path, root)
    return False
