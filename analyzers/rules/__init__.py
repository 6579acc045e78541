"""The rule registry: every ``Rule`` subclass defined in a module of this package, by code.

Adding a rule means adding a module here; nothing else needs to change.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..rule import Rule


def _discover() -> dict[str, type[Rule]]:
    found: dict[str, type[Rule]] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Rule) and value is not Rule:
                if value.__module__ != module.__name__:
                    continue
                if value.CODE in found and found[value.CODE] is not value:
                    raise RuntimeError(f"duplicate rule code {value.CODE}")
                found[value.CODE] = value
    return dict(sorted(found.items()))


ALL_RULES: dict[str, type[Rule]] = _discover()
