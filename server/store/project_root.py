"""The root of the project a path belongs to: where a run's globs are anchored and what its
feedback is keyed by, whatever directory the command was typed in.

The directory of the pyproject.toml that configures dspy-lsp (the settings find it), else the
git root, else the nearest pyproject.toml's directory: ruff anchors its globs at its own
configuration the same way.
"""

from __future__ import annotations

from pathlib import Path


def git_root(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` holding ``.git`` (a directory, or the file a
    worktree or a submodule has)."""
    directory = _directory(start)
    return next((d for d in (directory, *directory.parents) if (d / ".git").exists()), None)


def project_root(start: Path, configured: Path | None = None) -> Path | None:
    """``configured`` (where ``[tool.dspy-lsp]`` was found), else the git root, else the nearest
    pyproject.toml's directory at or above ``start``; None outside any project."""
    if configured is not None:
        return configured
    directory = _directory(start)
    found = git_root(directory)
    if found is not None:
        return found
    candidates = (directory, *directory.parents)
    return next((d for d in candidates if (d / "pyproject.toml").is_file()), None)


def _directory(start: Path) -> Path:
    resolved = start.resolve()
    return resolved if resolved.is_dir() else resolved.parent
