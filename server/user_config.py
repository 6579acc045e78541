"""The user's own settings file and the projects the user trusts.

``$XDG_CONFIG_HOME/dspy-lsp/config.toml`` holds settings in the form of ``[tool.dspy-lsp]``
(without the ``tool.dspy-lsp`` prefix); they are trusted, like editor settings. The file
``trusted-projects`` beside it lists, one absolute path a line, the projects whose own
pyproject.toml may choose trusted-only settings (``dspy-lsp trust``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .store.paths import user_dir
from .store.safe_write import replace_content

CONFIG_NAME = "config.toml"
TRUST_NAME = "trusted-projects"

T = TypeVar("T")

# path -> ((mtime_ns, size), parsed content): the server resolves settings on every keystroke.
_cache: dict[Path, tuple[tuple[int, int], object]] = {}


def config_path() -> Path:
    return user_dir("config") / CONFIG_NAME


def trust_path() -> Path:
    return user_dir("config") / TRUST_NAME


def read_config() -> tuple[dict[str, object], str | None]:
    """The user config file's table (empty when there is none), or why it cannot be read."""
    try:
        return _read_cached(config_path(), _parse_toml) or {}, None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return {}, str(exc)


def trusted_projects() -> tuple[Path, ...]:
    try:
        listed = _read_cached(trust_path(), _parse_lines)
    except (OSError, UnicodeDecodeError):
        return ()
    return listed or ()


def is_trusted(root: Path) -> bool:
    """Whether the user trusted ``root`` or a directory above it."""
    real = root.resolve()
    return any(real == t or t in real.parents for t in trusted_projects())


def trust(root: Path) -> Path:
    """Record ``root`` as trusted; returns the path recorded."""
    real = root.resolve()
    listed = trusted_projects()
    if real not in listed:
        _write_list((*listed, real))
    return real


def untrust(root: Path) -> bool:
    """Forget ``root``; False if it was not trusted (by that exact path)."""
    real = root.resolve()
    listed = trusted_projects()
    if real not in listed:
        return False
    _write_list(tuple(p for p in listed if p != real))
    return True


def stamp() -> tuple[tuple[int, int] | None, ...]:
    """What the user's files look like now (mtime and size): settings resolved under one stamp
    hold until it changes."""
    return tuple(_stat(path) for path in (config_path(), trust_path()))


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _read_cached(path: Path, parse: Callable[[str], T]) -> T | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        _cache.pop(path, None)
        return None
    stamp = (st.st_mtime_ns, st.st_size)
    hit = _cache.get(path)
    if hit is not None and hit[0] == stamp:
        return hit[1]  # type: ignore[return-value]
    value = parse(path.read_text(encoding="utf-8"))
    _cache[path] = (stamp, value)
    return value


def _parse_toml(text: str) -> dict[str, object]:
    return tomllib.loads(text)


def _parse_lines(text: str) -> tuple[Path, ...]:
    lines = (line.strip() for line in text.splitlines())
    return tuple(Path(line) for line in lines if line and not line.startswith("#"))


def _write_list(paths: tuple[Path, ...]) -> None:
    """Replace the trust list atomically, private to the user."""
    target = trust_path()
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    body = "# Projects whose pyproject.toml may choose trusted-only settings (dspy-lsp trust).\n"
    body += "".join(f"{p}\n" for p in paths)
    replace_content(target, body.encode(), mode=0o600)
