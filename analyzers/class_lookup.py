"""A module class with its ancestors, as far as the module's facts can see them.

Questions such as "does any base define ``m``?" or "is ``KeyError`` caught by this earlier
handler?" have a sure answer only when every ancestor is visible: a module class, ``object`` or
a builtin class (whose members Python itself lists).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass

from .module_facts import ClassFacts, ModuleFacts, Signature

_BUILTIN_CLASSES = {
    name: value
    for name, value in vars(builtins).items()
    if isinstance(value, type) and not name.startswith("_")
}


@dataclass(frozen=True)
class Lineage:
    """A class and the ancestors the module defines, in a depth-first, left-first order."""

    name: str
    classes: tuple[tuple[str, ClassFacts], ...]
    builtin_bases: tuple[type, ...]
    closed: bool
    """Every ancestor is a module class or a builtin class: no member can come from elsewhere."""
    opaque: bool
    """Some class in the line may gain members the facts cannot list."""

    def has_member(self, name: str) -> bool:
        if any(name in klass.members for _, klass in self.classes):
            return True
        return any(hasattr(base, name) for base in (*self.builtin_bases, object))

    def method(self, name: str, on_class: bool = False) -> Signature | None:
        """The method ``name`` that Python's method resolution surely picks: the class's own,
        or the first along a line of single inheritance (None: anything else). ``on_class``:
        called on the class (``cls.name()``), so only class and static methods."""
        own = self.classes[0][1]
        if name not in own.members and any(len(k.bases) > 1 for _, k in self.classes):
            return None
        for _, klass in self.classes:
            if name in klass.members:
                return klass.method(name, on_class)
        return None

    def names(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.classes)

    def members(self) -> set[str]:
        found = {name for _, klass in self.classes for name in klass.members}
        return found.union(*(dir(base) for base in self.builtin_bases))


def lineage(facts: ModuleFacts, name: str) -> Lineage | None:
    """None when ``name`` is not a class the module defines once."""
    if facts.klass(name) is None:
        return None
    classes: list[tuple[str, ClassFacts]] = []
    builtin_bases: list[type] = []
    closed, opaque = True, False
    todo, seen = [name], set()
    while todo:
        current = todo.pop(0)
        if current in seen:
            continue
        seen.add(current)
        klass = facts.klass(current)
        if klass is None:
            base = _BUILTIN_CLASSES.get(current)
            if base is not None and current not in facts.bound:
                builtin_bases.append(base)
            else:
                closed = False
            continue
        classes.append((current, klass))
        opaque |= klass.opaque
        todo[:0] = list(klass.bases)
    return Lineage(
        name=name,
        classes=tuple(classes),
        builtin_bases=tuple(builtin_bases),
        closed=closed,
        opaque=opaque,
    )


# Names of classes meant to be completed elsewhere: a mixin's host or a base's subclasses.
_PARTIAL_HINTS = ("mixin", "base", "abstract", "interface", "protocol")


def completed_elsewhere(facts: ModuleFacts, name: str) -> bool:
    """A subclass in the module, or the name (``JSONMixin``, ``BaseView``), says other classes
    may supply members or override methods (the template method pattern)."""
    return name in facts.subclassed or any(hint in name.lower() for hint in _PARTIAL_HINTS)


def stands_alone(facts: ModuleFacts, name: str) -> bool:
    """The module instantiates the class, and nothing says it is completed elsewhere: a class
    a library never instantiates itself is usually a base for its users' subclasses."""
    return name in facts.called and not completed_elsewhere(facts, name)


def builtin_class(facts: ModuleFacts, name: str) -> type | None:
    """The builtin class ``name`` still names in this module (not rebound at its top level)."""
    if name in facts.bound:
        return None
    return _BUILTIN_CLASSES.get(name)
