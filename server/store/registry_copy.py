"""Copying one program registry into another: a user's directory into the team store
(``dspy-lsp store migrate``).

Every readable version is saved in the target (a version it holds already is left as it is:
versions are named by their hash). A kind's active pointer and its history are replayed only
where the target has none: the team's choice of program is never overridden by one user's
migration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .artifacts import KINDS
from .registry_contract import Registry, RegistryError, RegistryUnavailable


@dataclass(frozen=True)
class CopiedPrograms:
    versions: int
    """Versions saved in the target (those it held already included)."""
    activated: dict[str, str | None] = field(default_factory=dict)
    """Kinds whose pointer was copied -> the version now active there (None: built-in)."""
    kept: dict[str, str | None] = field(default_factory=dict)
    """Kinds whose pointer the target had already -> its active version, left as it was."""
    problems: list[str] = field(default_factory=list)
    """Versions and pointers not copied, and why."""


def copy_programs(source: Registry, target: Registry) -> CopiedPrograms:
    """Copy ``source``'s versions and pointers into ``target``; raises RegistryUnavailable
    if either cannot be used at all (the team store down)."""
    versions = 0
    activated: dict[str, str | None] = {}
    kept: dict[str, str | None] = {}
    problems: list[str] = []
    for kind in KINDS:
        metas, unreadable = source.scan(kind)
        problems += unreadable
        for meta in metas:
            state, _ = source.load(kind, meta.version)
            try:
                target.save(state, meta)
            except RegistryUnavailable:
                raise
            except RegistryError as exc:  # this version only (a different state, same id)
                problems.append(str(exc))
                continue
            versions += 1
        try:
            pointer = source.pointer(kind)
        except RegistryUnavailable:
            raise
        except RegistryError as exc:
            problems.append(str(exc))
            continue
        if pointer is None:
            continue
        theirs = target.pointer(kind)
        if theirs is not None:
            kept[kind] = theirs.active
            continue
        try:
            for entry in (*pointer.history, pointer.active):
                target.activate(kind, entry)
        except RegistryUnavailable:
            raise
        except RegistryError as exc:
            problems.append(f"the {kind} history was copied only in part: {exc}")
        activated[kind] = target.active(kind)
    return CopiedPrograms(versions, activated, kept, problems)
