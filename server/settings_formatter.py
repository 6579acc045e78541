"""Which formatter a project uses, and its style, read from its pyproject.toml as data.

The project's file is untrusted, but a style (a line length, a quote style) chooses no process
and no path: values of the wrong type or outside the formatter's choices are ignored. Only
pyproject.toml is read; ``ruff.toml`` and ``extend`` are not followed.

Which formatter, most explicit first: ``[tool.black]``; ``[tool.ruff.format]``; black among the
development dependencies; ``[tool.ruff]`` with ruff among them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..analyzers.format_style import BlackStyle, FormatStyle, RuffStyle

_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_DEV_EXTRA = re.compile(r"dev|lint|style|quality", re.IGNORECASE)
_PY_VERSION = re.compile(r"py3\d{1,2}")

_RUFF_FORMAT_CHOICES: dict[str, tuple[str, ...] | type[bool]] = {
    "quote-style": ("double", "single", "preserve"),
    "indent-style": ("space", "tab"),
    "line-ending": ("auto", "lf", "cr-lf", "native"),
    "skip-magic-trailing-comma": bool,
    "docstring-code-format": bool,
}


def formatter_style(pyproject: Mapping[str, Any]) -> FormatStyle | None:
    """The formatter ``pyproject`` (a parsed pyproject.toml) configures, or None."""
    tool = _table(pyproject, "tool")
    black, ruff = _table(tool, "black"), _table(tool, "ruff")
    dev = set(_dev_requirements(pyproject, tool))
    if "black" in tool:
        return _black_style(black, pyproject)
    if "format" in ruff:
        return _ruff_style(ruff)
    if "black" in dev:
        return _black_style({}, pyproject)
    if "ruff" in tool and "ruff" in dev:
        return _ruff_style(ruff)
    return None


def _table(data: object, key: str) -> Mapping[str, Any]:
    value = data.get(key) if isinstance(data, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _black_style(table: Mapping[str, Any], pyproject: Mapping[str, Any]) -> BlackStyle:
    values = {str(k).replace("_", "-"): v for k, v in table.items()}
    targets = values.get("target-version")
    required = values.get("required-version")
    requires_python = _table(pyproject, "project").get("requires-python")
    return BlackStyle(
        line_length=_length(values.get("line-length")) or BlackStyle.line_length,
        target_versions=tuple(
            t.lower() for t in targets if isinstance(t, str) and _PY_VERSION.fullmatch(t.lower())
        )
        if isinstance(targets, list)
        else (),
        skip_string_normalization=values.get("skip-string-normalization") is True,
        skip_magic_trailing_comma=values.get("skip-magic-trailing-comma") is True,
        required_version=str(required) if isinstance(required, str | int) else None,
        requires_python=requires_python if isinstance(requires_python, str) else None,
    )


def _ruff_style(table: Mapping[str, Any]) -> RuffStyle:
    target = table.get("target-version")
    indent = table.get("indent-width")
    return RuffStyle(
        line_length=_length(table.get("line-length")),
        indent_width=indent if type(indent) is int and 1 <= indent <= 16 else None,
        target_version=target
        if isinstance(target, str) and _PY_VERSION.fullmatch(target)
        else None,
        format_options=tuple(
            (key, value) for key, value in _table(table, "format").items() if _allowed(key, value)
        ),
    )


def _allowed(key: str, value: object) -> bool:
    """Whether ``[tool.ruff.format]``'s ``key = value`` is one ruff's formatter accepts."""
    if key == "docstring-code-line-length":
        return value == "dynamic" or _length(value) is not None
    allowed = _RUFF_FORMAT_CHOICES.get(key)
    if allowed is bool:
        return isinstance(value, bool)
    return isinstance(allowed, tuple) and value in allowed


def _length(value: object) -> int | None:
    return value if type(value) is int and 1 <= value <= 320 else None


def _dev_requirements(pyproject: Mapping[str, Any], tool: Mapping[str, Any]) -> Iterator[str]:
    """Names of the development requirements, wherever the common tools keep them. An extra
    counts only when named like one (``dev``, ``lint``): others are what users install."""
    extras = _table(_table(pyproject, "project"), "optional-dependencies")
    groups: list[object] = [v for k, v in extras.items() if _DEV_EXTRA.search(str(k))]
    groups += list(_table(pyproject, "dependency-groups").values())
    poetry = _table(tool, "poetry")
    groups.append(list(_table(poetry, "dev-dependencies")))
    groups += [list(_table(g, "dependencies")) for g in _table(poetry, "group").values()]
    groups += list(_table(_table(tool, "pdm"), "dev-dependencies").values())
    groups.append(_table(tool, "uv").get("dev-dependencies"))
    for group in groups:
        for requirement in group if isinstance(group, list) else ():
            match = _NAME.match(requirement) if isinstance(requirement, str) else None
            if match:
                yield match[1].lower().replace("_", "-")
