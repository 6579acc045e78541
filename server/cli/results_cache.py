"""The rule tier's results on disk, one small JSON file per source file, as ruff keeps its cache.

It lives in ``.dspy-lsp-cache/`` at the project root, or in ``$DSPY_LSP_CACHE_DIR``. The folder
has a CACHEDIR.TAG and its own ``.gitignore``, and it holds one folder per analyzer build. A cloned
repository may ship anything under that name. So a cache folder that is a link, or belongs to
another user, is refused, and the cache never writes outside the project. Entries are read
without following links, and written through O_EXCL temp files renamed into place. An entry that
cannot be read or parsed is a miss, never an error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .rule_result import RuleResult

log = logging.getLogger(__name__)

CACHE_DIR = ".dspy-lsp-cache"
CACHE_DIR_ENV = "DSPY_LSP_CACHE_DIR"
_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by dspy-lsp.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)
_BUILD_PREFIX = "rules-"
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


class CacheRefused(Exception):
    """The cache folder is not one dspy-lsp may use; the message says why."""


class ResultsCache:
    """The entries of one analyzer build under one cache folder, with this run's counts."""

    def __init__(self, directory: Path, build: str) -> None:
        self.directory = directory
        self.build = build
        self.hits = 0
        self.misses = 0

    @classmethod
    def open(cls, project: Path, build: str, env: Mapping[str, str]) -> ResultsCache | None:
        """The cache for ``project`` (created if need be); None if it cannot be created (a
        read-only tree). Raises ``CacheRefused`` for a folder a repository could have planted."""
        chosen = env.get(CACHE_DIR_ENV)
        base = Path(chosen) if chosen else project / CACHE_DIR
        try:
            if chosen:  # the user's own choice: it may be a link, and may need its parents
                base.mkdir(parents=True, exist_ok=True)
            else:
                _own_folder(base)
            for name, text in ((".gitignore", "*\n"), ("CACHEDIR.TAG", _TAG)):
                if not os.path.lexists(base / name):
                    _write(base / name, text.encode())
            directory = base / f"{_BUILD_PREFIX}{build[:16]}"
            if _own_folder(directory):
                _remove_other_builds(base, keep=directory)
        except CacheRefused:
            raise
        except OSError as exc:
            log.debug("no results cache at %s: %s", base, exc)
            return None
        return cls(directory, build)

    def get(self, key: str) -> RuleResult | None:
        try:
            fd = os.open(self.directory / f"{key}.json", _READ_FLAGS)
            with os.fdopen(fd, "rb") as handle:
                if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                    raise ValueError("not a regular file")
                result = RuleResult.model_validate_json(handle.read())
        except (OSError, ValueError):  # absent, planted, truncated or from another format
            self.misses += 1
            return None
        self.hits += 1
        return result

    def put(self, key: str, result: RuleResult) -> None:
        try:
            _write(self.directory / f"{key}.json", result.model_dump_json().encode())
        except OSError as exc:  # full or read-only: the next run computes it again
            log.debug("could not cache %s: %s", key, exc)


def _own_folder(path: Path) -> bool:
    """Create ``path`` (True) or accept it as it is: a real folder of this user, not a link."""
    try:
        path.mkdir()
        created = True
    except FileExistsError:
        created = False
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        raise CacheRefused(f"{path} is a symbolic link")
    if not stat.S_ISDIR(info.st_mode):
        raise CacheRefused(f"{path} is not a directory")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise CacheRefused(f"{path} belongs to another user")
    return created


def _remove_other_builds(base: Path, keep: Path) -> None:
    """A new build's first run drops the entries of the others, which nothing will read again
    (each edit of a rule is a build, during development). rmtree never follows a link."""
    for old in base.glob(f"{_BUILD_PREFIX}*"):
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)


def _write(path: Path, data: bytes) -> None:
    """Replace ``path`` in one rename, never writing through a name planted there."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:16]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
