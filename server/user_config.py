"""The user's own settings file and the projects the user trusts.

``$XDG_CONFIG_HOME/dspy-lsp/config.toml`` holds settings in the form of ``[tool.dspy-lsp]``
(without the ``tool.dspy-lsp`` prefix); they are trusted, like editor settings. The file
``trusted-projects`` beside it lists, one absolute path a line, the projects whose own
pyproject.toml may choose trusted-only settings (``dspy-lsp trust``). ``notices`` records the
one-time notices and offers the user has had, so the server says each once.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .store.paths import user_dir
from .store.safe_write import replace_content

CONFIG_NAME = "config.toml"
TRUST_NAME = "trusted-projects"
NOTICES_NAME = "notices"

T = TypeVar("T")

# path -> ((mtime_ns, size), parsed content): the server resolves settings on every keystroke.
_cache: dict[Path, tuple[tuple[int, int], object]] = {}


def config_path() -> Path:
    return user_dir("config") / CONFIG_NAME


def trust_path() -> Path:
    return user_dir("config") / TRUST_NAME


def notices_path() -> Path:
    return user_dir("config") / NOTICES_NAME


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


class ConfigNotWritten(Exception):
    """The user's config could not take a setting; the message says what to add by hand."""


def remember_lm(model: str, api_base: str) -> Path:
    """Set ``lm.model`` and ``lm.api-base`` in the user's config, keeping everything else in
    it; refuses (``ConfigNotWritten``) when the file holds a model already or would not parse
    after the change."""
    path = config_path()
    table, error = read_config()
    lines = f'model = "{_toml_string(model)}"\napi-base = "{_toml_string(api_base)}"\n'
    if error is not None:
        raise ConfigNotWritten(f"{path} cannot be read ({error}); add under [lm]:\n{lines}")
    lm = table.get("lm")
    if isinstance(lm, dict) and {"model", "api-base", "api_base"} & set(lm):
        raise ConfigNotWritten(f"{path} already sets lm.model or lm.api-base; left as it is")
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if text and not text.endswith("\n"):
        text += "\n"
    header = re.search(r"^\[lm\][ \t]*(#.*)?\n", text, re.MULTILINE)
    if header is not None:
        updated = text[: header.end()] + lines + text[header.end() :]
    else:
        updated = text + ("\n" if text else "") + "[lm]\n" + lines
    try:
        tomllib.loads(updated)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigNotWritten(f"{path} would not parse ({exc}); add under [lm]:\n{lines}") from exc
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    replace_content(path, updated.encode("utf-8"), mode=0o600)
    return path


def _toml_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def noticed(key: str) -> bool:
    """Whether the one-time notice or offer ``key`` was had already."""
    try:
        return key in (_read_cached(notices_path(), _parse_words) or ())
    except (OSError, UnicodeDecodeError):
        return False


def record_notice(key: str) -> None:
    """Remember ``key`` (best effort: a read-only config directory only means a repeat)."""
    if noticed(key):
        return
    target = notices_path()
    try:
        listed = _read_cached(target, _parse_words) or ()
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        body = "# One-time notices and offers dspy-lsp has shown (delete a line to see it again).\n"
        replace_content(target, (body + "".join(f"{k}\n" for k in (*listed, key))).encode())
    except OSError:
        pass


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


def _parse_words(text: str) -> tuple[str, ...]:
    lines = (line.strip() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


def _write_list(paths: tuple[Path, ...]) -> None:
    """Replace the trust list atomically, private to the user."""
    target = trust_path()
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    body = "# Projects whose pyproject.toml may choose trusted-only settings (dspy-lsp trust).\n"
    body += "".join(f"{p}\n" for p in paths)
    replace_content(target, body.encode(), mode=0o600)
