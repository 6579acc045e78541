"""A project's formatter and its style, as data read from its pyproject.toml."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BlackStyle:
    """``[tool.black]`` as data: what black's ``Mode`` needs (preview styles stay off)."""

    line_length: int = 88
    target_versions: tuple[str, ...] = ()
    """``"py311"`` and the like; when empty, black takes them from ``requires_python``."""
    requires_python: str | None = None
    """``[project] requires-python``; when that is unset too, black infers them from the code."""
    skip_string_normalization: bool = False
    skip_magic_trailing_comma: bool = False
    required_version: str | None = None


@dataclass(frozen=True)
class RuffStyle:
    """``[tool.ruff]``/``[tool.ruff.format]`` as data: the options ruff's formatter reads."""

    line_length: int | None = None
    indent_width: int | None = None
    target_version: str | None = None
    format_options: tuple[tuple[str, str | bool | int], ...] = ()
    """``[tool.ruff.format]`` keys (``quote-style``...) with values already checked."""


FormatStyle = BlackStyle | RuffStyle
