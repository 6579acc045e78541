"""Which rules run on which file: ruff-style code prefixes plus per-path overrides."""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatch
from typing import Annotated

from pydantic import BeforeValidator, Field

from .models import Frozen


def one_or_many(value: object) -> object:
    """A bare string where a list is expected is a list of one, as ruff reads ``ignore = "E501"``."""
    return (value,) if isinstance(value, str) else value


Selectors = Annotated[tuple[str, ...], BeforeValidator(one_or_many)]
"""Rule codes or prefixes (``"ALL"`` too); a bare string is one of them."""


class PathOverride(Frozen):
    """Extra selection for files matching ``path`` (an fnmatch glob on the project-relative path)."""

    path: str = Field(description="An fnmatch glob on the project-relative path.")
    select: Selectors = ()
    ignore: Selectors = ()


class RuleSelection(Frozen):
    select: tuple[str, ...] = ("ALL",)
    ignore: tuple[str, ...] = ()
    overrides: tuple[PathOverride, ...] = Field(default=())

    def codes_for(self, available: tuple[str, ...], relpath: str | None = None) -> tuple[str, ...]:
        """The codes in force for ``relpath``; the most specific prefix wins, as in ruff."""
        select, ignore = list(self.select), list(self.ignore)
        for override in self.overrides:
            if relpath is not None and _matches(relpath, override.path):
                select += override.select
                ignore += override.ignore
        return tuple(code for code in available if _enabled(code, select, ignore))


def selects_any(selector: str, codes: Iterable[str]) -> bool:
    """Whether ``selector`` (a code, a prefix or ``ALL``) chooses at least one of ``codes``."""
    return any(_prefix_len(code, [selector]) >= 0 for code in codes)


def _matches(relpath: str, pattern: str) -> bool:
    relpath = relpath.replace("\\", "/")
    return fnmatch(relpath, pattern) or fnmatch(relpath, pattern.rstrip("/") + "/*")


def _prefix_len(code: str, prefixes: list[str]) -> int:
    best = -1
    for prefix in prefixes:
        p = prefix.strip().upper()
        if p == "ALL":
            best = max(best, 0)
        elif p and code.startswith(p):
            best = max(best, len(p))
    return best


def _enabled(code: str, select: list[str], ignore: list[str]) -> bool:
    chosen, dropped = _prefix_len(code, select), _prefix_len(code, ignore)
    return chosen >= 0 and chosen > dropped
