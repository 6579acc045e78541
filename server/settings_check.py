"""Checking one layer of settings key by key: a bad key is named and skipped, the rest applies.

A typo (``exlude``) is named with the closest valid key; a value of the wrong type is named with
what was expected; a rule code or prefix that chooses no rule (``DL1O4``) is named with the
closest code, since a selection that matches nothing would pass every check in silence.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from ..analyzers.selection import selects_any
from .settings_model import Settings

SECTIONS: dict[str, type[BaseModel]] = {
    name: field.annotation
    for name, field in Settings.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
}
"""The tables of keys (``lm``, ``feedback``, ``learn``), checked key by key like the top level."""

_SELECTOR_KEYS = ("select", "ignore")
_LOOK_ALIKE = str.maketrans("OI", "01")
"""Letters typed for digits (``DL1O4``): rule codes hold none of them."""


def checked_layer(values: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """``values`` without the keys ``Settings`` rejects, and one phrase per rejected key."""
    kept = {
        k: dict(v) if k in SECTIONS and isinstance(v, Mapping) else v for k, v in values.items()
    }
    problems: dict[tuple[str, ...], str] = {}
    while True:  # every round drops at least one key, so this ends
        try:
            Settings.model_validate(kept)
        except ValidationError as exc:
            dropped = False
            for error in exc.errors():
                key = _key_of(error["loc"], kept)
                problems.setdefault(key, _problem(key, error))
                dropped = _drop(kept, key) or dropped
            if not dropped:  # an error about no one key: nothing of this layer can be trusted
                return {}, tuple(problems.values())
            continue
        return kept, tuple(problems.values())


def unknown_selectors(values: Mapping[str, Any]) -> tuple[str, ...]:
    """One phrase per rule code or prefix in ``values`` (already checked) that chooses no rule,
    with the closest code."""
    if not any(key in values for key in (*_SELECTOR_KEYS, "overrides")):
        return ()
    settings = Settings.model_validate(values)
    known = selectable_codes()
    places = [(key, getattr(settings, key)) for key in _SELECTOR_KEYS if key in values]
    for i, override in enumerate(settings.overrides if "overrides" in values else ()):
        places += [(f"overrides[{i}].{key}", getattr(override, key)) for key in _SELECTOR_KEYS]
    phrases = []
    for where, selectors in places:
        for selector in selectors:
            if not selects_any(selector, known):
                typed = selector.strip().upper().translate(_LOOK_ALIKE)
                close = difflib.get_close_matches(typed, known, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                phrases.append(f"unknown rule code {selector!r} in {where}{hint}")
    return tuple(phrases)


def _key_of(loc: tuple[int | str, ...], kept: Mapping[str, Any]) -> tuple[str, ...]:
    """The key to skip for an error at ``loc``: a section's key, else a top-level key whole."""
    if not loc:
        return ()
    head = str(loc[0])
    if len(loc) >= 2 and head in SECTIONS and isinstance(kept.get(head), dict):
        return (head, str(loc[1]))
    return (head,)


def _drop(kept: dict[str, Any], key: tuple[str, ...]) -> bool:
    """Remove ``key``; False if it was not there (so the error was about no one key)."""
    if not key:
        return False
    container = kept[key[0]] if len(key) == 2 else kept
    if key[-1] not in container:
        return False
    del container[key[-1]]
    return True


def _problem(key: tuple[str, ...], error: ErrorDetails) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "(the whole layer)"
    if error["type"] != "extra_forbidden":
        return f"{where}: {error['msg']}"
    hint = ""
    if where == ".".join(key):  # a key of the top level or of a section: suggest its neighbour
        fields = SECTIONS[key[0]].model_fields if len(key) == 2 else Settings.model_fields
        close = difflib.get_close_matches(key[-1], list(fields), n=1)
        hint = f" (did you mean {'.'.join((*key[:-1], close[0]))}?)" if close else ""
    return f"unknown key {where}{hint}"


@cache
def selectable_codes() -> tuple[str, ...]:
    """Every code a selector may name: the rules' and the engine's own (DL000-DL002). Imported
    only when a layer selects, since the rules bring libcst."""
    from ..analyzers.engine import META_RULES
    from ..analyzers.rules import ALL_RULES

    return (*ALL_RULES, *sorted(META_RULES))
