"""The Python files a run covers: named files, and ``.py``/``.pyi`` files under directories less
what the settings exclude and what ``.gitignore`` files ignore.

Apart from ``analysis`` so that a ``check`` answered from its results cache finds its files
without importing the rules (and libcst).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING

from .store.paths import inside
from .store.project_root import git_root

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec

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


@dataclass(frozen=True)
class _IgnoreFile:
    """One ``.gitignore`` (or the repository's ``info/exclude``): its patterns apply below
    ``base``."""

    base: Path
    spec: GitIgnoreSpec

    def verdict(self, position: Path, is_dir: bool) -> bool | None:
        """True if it ignores ``position``, False if it re-includes it (``!``), else None."""
        relative = position.relative_to(self.base).as_posix() + ("/" if is_dir else "")
        return self.spec.check_file(relative).include


def iter_python_files(
    paths: Sequence[Path], exclude: tuple[str, ...], root: Path | None = None
) -> Iterator[Path]:
    """Files named on the command line, and ``.py``/``.pyi`` files under directories.

    Under a directory, a file or directory is left out when an ``exclude`` glob matches it, as
    in ruff: a glob without ``/`` matches its name at any depth, any other its path from
    ``root`` (the project root; the directory walked when None), however the path was typed.
    So is what a ``.gitignore`` (from the git root down) or the repository's ``info/exclude``
    ignores. A file named on the command line is checked all the same.

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
        yield from _walk(path, exclude, (root or path).resolve())


def _walk(top: Path, exclude: tuple[str, ...], root: Path) -> Iterator[Path]:
    start = top.resolve()
    # Each directory still to visit: where it really is (its position under ``start``: the walk
    # follows no link to a directory) and the ignore files above it.
    pending = {os.fspath(top): (start, _ignore_files_above(start, root))}
    for dirpath, dirnames, filenames in os.walk(top):
        position, above = pending.pop(dirpath)
        chain = (*above, *_ignore_file(position / ".gitignore", position))
        kept = []
        for name in sorted(dirnames):
            if name in _SKIP_DIRS or name.endswith(".egg-info"):
                continue
            if _excluded(position / name, exclude, root) or _ignored(chain, position / name, True):
                continue
            kept.append(name)
            pending[os.path.join(dirpath, name)] = (position / name, chain)
        dirnames[:] = kept
        for name in sorted(filenames):
            candidate = Path(dirpath) / name
            if candidate.suffix not in (".py", ".pyi"):
                continue
            if _excluded(position / name, exclude, root) or _ignored(chain, position / name, False):
                continue
            if not candidate.is_file():
                log.warning("dspy-lsp: skipping %s: not a regular file", candidate)
            elif _in_tree(candidate, top):
                yield candidate


def _excluded(position: Path, patterns: tuple[str, ...], root: Path) -> bool:
    if not patterns:
        return False
    try:
        relative = position.relative_to(root).as_posix()
    except ValueError:  # a tree outside the project: its own path is all there is
        relative = position.as_posix()
    for pattern in patterns:
        anchored = pattern.removeprefix("./").lstrip("/").rstrip("/")
        if "/" in anchored:
            if fnmatch(relative, anchored):
                return True
        elif fnmatch(position.name, anchored):
            return True
    return False


def _ignored(chain: Sequence[_IgnoreFile], position: Path, is_dir: bool) -> bool:
    """Whether the ignore files above ``position`` ignore it: the deepest one that says decides."""
    for ignore_file in reversed(chain):
        verdict = ignore_file.verdict(position, is_dir)
        if verdict is not None:
            return verdict
    return False


def _ignore_files_above(start: Path, root: Path) -> tuple[_IgnoreFile, ...]:
    """The ignore files that apply to ``start`` from above it: from the git root (else the
    project root) down to its parent, after the repository's ``info/exclude``."""
    repository = git_root(start)
    top = repository or root
    if not start.is_relative_to(top) or start == top:
        found = ()
    else:
        found = tuple(
            ignore
            for directory in reversed(start.parents)
            if directory.is_relative_to(top)
            for ignore in _ignore_file(directory / ".gitignore", directory)
        )
    if repository is None:
        return found
    return (*_ignore_file(repository / ".git" / "info" / "exclude", repository), *found)


def _ignore_file(path: Path, base: Path) -> tuple[_IgnoreFile, ...]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:  # none (the usual case), or not a readable file
        return ()
    from pathspec import GitIgnoreSpec  # 50 ms to import: only where there is an ignore file

    return (_IgnoreFile(base, GitIgnoreSpec.from_lines(lines)),)


def _in_tree(path: Path, root: Path) -> bool:
    if inside(path, root):
        return True
    log.warning("dspy-lsp: skipping %s: a link to a file outside %s", path, root)
    return False
