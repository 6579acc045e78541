"""Which rules run on which file: ruff-style code prefixes, named groups, per-path overrides.

A selector is ``ALL``, a code or prefix (``DL1``), or a group: ``pedantic`` or a category
(``bug``, ``design``, ``performance``, ``maintainability``, ``security``). Pedantic rules are
correct but rarely acted on; a prefix does not choose them, so the default ``["DL"]`` runs the
rules that find bugs, and ``["DL", "pedantic"]`` adds the rest. The more specific selector
wins between ``select`` and ``ignore``: an exact code, then longer prefixes, then a group, then
``ALL``.
"""

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
"""Rule codes, prefixes or groups (``"ALL"`` too); a bare string is one of them."""


DEFAULT_SELECT = ("DL",)
PEDANTIC = "pedantic"
CATEGORIES = ("bug", "design", "performance", "maintainability", "security")
GROUPS = (PEDANTIC, *CATEGORIES)


class PathOverride(Frozen):
    """Extra selection for files matching ``path`` (an fnmatch glob on the project-relative path)."""

    path: str = Field(description="An fnmatch glob on the project-relative path.")
    select: Selectors = ()
    ignore: Selectors = ()


class RuleSelection(Frozen):
    select: tuple[str, ...] = DEFAULT_SELECT
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
    """Whether ``selector`` (a code, a prefix, a group or ``ALL``) chooses at least one of
    ``codes``."""
    return any(_specificity(code, [selector], choosing=False) >= 0 for code in codes)


def _matches(relpath: str, pattern: str) -> bool:
    relpath = relpath.replace("\\", "/")
    return fnmatch(relpath, pattern) or fnmatch(relpath, pattern.rstrip("/") + "/*")


def _specificity(code: str, selectors: list[str], *, choosing: bool) -> int:
    """How specifically the best of ``selectors`` names ``code`` (-1: not at all). When
    ``choosing``, a prefix does not name a pedantic rule: only ``ALL``, a group or its code do."""
    groups = _groups_of(code)
    gated = choosing and PEDANTIC in groups
    best = -1
    for selector in selectors:
        s = selector.strip()
        upper = s.upper()
        if upper == "ALL":
            best = max(best, 0)
        elif s.lower() in groups:
            best = max(best, 1)
        elif upper and code.startswith(upper) and (not gated or upper == code):
            best = max(best, 1 + len(upper))
    return best


def _groups_of(code: str) -> frozenset[str]:
    """The groups a rule belongs to: its category, and ``pedantic`` if it is."""
    from .rules import ALL_RULES

    rule = ALL_RULES.get(code)
    if rule is None:
        return frozenset()
    return frozenset({rule.CATEGORY, PEDANTIC} if rule.PEDANTIC else {rule.CATEGORY})


def _enabled(code: str, select: list[str], ignore: list[str]) -> bool:
    chosen = _specificity(code, select, choosing=True)
    dropped = _specificity(code, ignore, choosing=False)
    return chosen >= 0 and chosen > dropped
