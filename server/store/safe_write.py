"""Replacing a file's content without ever writing through a link or leaving a temp file.

The temp file is created with ``mkstemp`` (O_EXCL, mode 0600) in the target's directory, so a
name planted by a repository (``x.py.dspy-lsp.tmp -> ~/.bashrc``) is never opened; it takes the
target's mode and owner before it replaces the target in one rename, so a crash leaves the old
file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


def replace_content(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Give ``path`` the content ``data``; an existing file keeps its mode and owner.

    ``path`` must not be a symbolic link (callers resolve links they mean to follow). Raises
    ``OSError`` when the file cannot be written; nothing is left behind then.
    """
    try:
        current = os.lstat(path)
    except FileNotFoundError:
        current = None
    if current is not None and not stat.S_ISREG(current.st_mode):
        raise IsADirectoryError(f"{path} is not a regular file; not writing to it")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".dspy-lsp.tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if current is not None:
            os.chmod(tmp, stat.S_IMODE(current.st_mode))
            with contextlib.suppress(PermissionError):  # only root may give a file away
                os.chown(tmp, current.st_uid, current.st_gid)
        elif mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make the rename durable: it lives in the directory, not in the file."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
