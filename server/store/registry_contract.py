"""What both program registries share: version ids, metadata, the active pointer, and the
checks every state read or written goes through.

The file registry (``registry.py``) and the team registry (``postgres/registry.py``) differ
only in where the bytes live and how writers exclude each other; what a version is, which
states are accepted (the artifact contract, ``analyzers/programs/artifact.py``), how a
reference resolves and how activation and rollback move the history are decided here, once.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ...analyzers.programs.artifact import ArtifactError, parse_state
from .artifacts import KINDS

FORMAT = 1
HASH = re.compile(r"[0-9a-f]{12}")
_PREFIX = re.compile(r"[0-9a-f]{4,12}")
FIX = "remove it, or activate another version with `dspy-lsp programs activate`"


class RegistryError(Exception):
    """A registry operation that cannot be done; the message names the place and the remedy."""


class RegistryUnavailable(RegistryError):
    """The registry's storage cannot be used right now (the team store down): no operation
    can be done, whatever it is asked."""


@dataclass(frozen=True)
class ArtifactMeta:
    kind: str
    version: str  # "<kind>@<12 hex>", as ``version_for`` computes it from the state
    parent: str | None
    optimizer: str
    lm: str | None
    reflection_lm: str | None
    dataset_hash: str
    train_size: int
    dev_size: int
    scores: dict[str, float]  # e.g. {"baseline_dev": 0.41, "dev": 0.63}
    created: str  # ISO 8601, UTC
    note: str = ""


_META = TypeAdapter(ArtifactMeta)


@dataclass(frozen=True)
class ActiveProgram:
    """What the server runs for one kind; no ``state`` means the built-in program."""

    kind: str
    version: str | None  # None: computed from the program (legacy file or built-in)
    state: dict[str, Any] | None
    meta: ArtifactMeta | None
    source: Path | None  # the file the state came from; None for the team store
    problem: str | None = None  # why the program meant to run could not: this is the fallback

    def label(self) -> str:
        if self.version:
            return self.version
        return f"the legacy {self.source}" if self.source else f"the built-in {self.kind} program"


@dataclass(frozen=True)
class Pointer:
    active: str | None
    history: tuple[str | None, ...] = field(default=())


def version_for(kind: str, state: dict[str, Any]) -> str:
    """The id the server gives ``state``: what it hashes to once written and read back."""
    from ...analyzers.programs.modules import build, program_version

    return program_version(kind, build(kind, json.loads(json.dumps(state))))


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise RegistryError(f"unknown program kind {kind!r}; expected one of {KINDS}")


def check_version(kind: str, version: str) -> None:
    check_kind(kind)
    prefix, _, digest = version.partition("@")
    if prefix != kind or not HASH.fullmatch(digest):
        raise RegistryError(f"{version!r} is not a {kind} version id ({kind}@<12 hex digits>)")


def canonical_state(state: dict[str, Any], meta: ArtifactMeta) -> dict[str, Any]:
    """``state`` in the contract's canonical form, checked to be ``meta.version``: what ``save``
    stores. Imports dspy (to check the id)."""
    check_version(meta.kind, meta.version)
    try:
        plain = json.loads(json.dumps(state))
    except (TypeError, ValueError) as exc:
        raise RegistryError(f"{meta.version}: the state is not JSON ({exc})") from exc
    try:
        plain = parse_state(meta.kind, plain).dump()
        computed = version_for(meta.kind, plain)
    except ArtifactError as exc:
        raise RegistryError(f"{meta.version}: not a program artifact: {exc}") from exc
    if computed != meta.version:
        raise RegistryError(
            f"meta.version is {meta.version} but the state is {computed}; "
            "compute it with registry_contract.version_for(kind, state)"
        )
    return plain


def same_state(kind: str, stored: Any, plain: dict[str, Any]) -> bool:
    """Whether a stored state is ``plain`` (the canonical form of what is being saved)."""
    try:
        return parse_state(kind, stored).dump() == plain
    except ArtifactError:
        return False


def checked_artifact(
    meta: Any, state: Any, version: str, where: str
) -> tuple[dict[str, Any], ArtifactMeta]:
    """A stored version's state and metadata, refused unless both keep to the contract."""
    if not isinstance(state, dict):
        raise RegistryError(f"{where}: not a program artifact; {FIX}")
    try:
        checked = _META.validate_python(meta)
    except ValidationError as exc:
        raise RegistryError(f"{where}: bad metadata ({exc.error_count()} errors); {FIX}") from exc
    if checked.version != version:
        raise RegistryError(f"{where}: holds {checked.version}, not {version}; {FIX}")
    try:
        parse_state(version.partition("@")[0], state)
    except ArtifactError as exc:
        raise RegistryError(f"{where}: refused: {exc}; {FIX}") from exc
    return state, checked


def as_pointer(data: Any) -> Pointer | None:
    """``{"active": ..., "history": [...]}`` as a Pointer; None if it is not one."""
    if not isinstance(data, dict) or "active" not in data:
        return None
    history = data.get("history", [])
    if not isinstance(history, list):
        return None
    entries = [data["active"], *history]
    if not all(e is None or isinstance(e, str) for e in entries):
        return None
    return Pointer(entries[0], tuple(history))


def activated(current: Pointer | None, target: str | None) -> Pointer | None:
    """The pointer once ``target`` is active; None when it already is (nothing to write)."""
    if current is None:
        return Pointer(target)
    if current.active == target:
        return None
    return Pointer(target, (*current.history, current.active))


def rolled_back(current: Pointer | None, kind: str, where: str) -> Pointer | None:
    """The pointer once ``rollback`` ran: the version active before, its entry off the
    history; None past the first activation (no pointer: what ran before the registry)."""
    if current is None:
        raise RegistryError(
            f"no {kind} version was ever activated in {where}; nothing to roll back"
        )
    if not current.history:
        return None
    return Pointer(current.history[-1], current.history[:-1])


def wanted_kinds(ref: str, kind: str | None) -> tuple[tuple[str, ...], str]:
    """The kinds ``ref`` may name and the digest prefix it gives: ``analyze@3fa2c0e1d2b4``,
    ``analyze@3fa2``, ``3fa2``."""
    named_kind, _, digest = ref.rpartition("@")
    if named_kind:
        if kind is not None and named_kind != kind:
            raise RegistryError(f"{ref} is not a {kind} version")
        kind = named_kind
    if not _PREFIX.fullmatch(digest):
        raise RegistryError(f"{ref!r} is not a version id (4 to 12 hex digits of the hash)")
    return ((kind,) if kind else KINDS), digest


def one_match(ref: str, matches: Iterable[str], where: str) -> str:
    """The single saved version ``ref`` names, or why there is not one."""
    found = sorted(matches)
    if not found:
        raise RegistryError(
            f"no saved version matches {ref} in {where}; see `dspy-lsp programs list`"
        )
    if len(found) > 1:
        raise RegistryError(f"{ref} is ambiguous ({', '.join(found)}); give more of it")
    return found[0]


def problems_of(chosen: dict[str, ActiveProgram], running: dict[str, ActiveProgram]) -> list[str]:
    """A line per kind whose chosen program could not be used, naming what runs instead."""
    return [f"{c.problem}; using {running[k].label()}" for k, c in chosen.items() if c.problem]


class Registry(ABC):
    """Saved versions of each program kind (never rewritten), one active per kind, and the
    history ``rollback`` walks back. Every reader goes through the checks above."""

    location: str
    """Where the registry is, for messages: its directory, or the team store's project."""

    @abstractmethod
    def save(self, state: dict[str, Any], meta: ArtifactMeta) -> None:
        """Store one version in the contract's canonical form; the same version again is a
        no-op, a different state under a saved id is refused. Imports dspy (to check the id)."""

    @abstractmethod
    def where(self, version: str) -> str:
        """Where ``version`` is (or would be) kept, for messages."""

    @abstractmethod
    def scan(self, kind: str) -> tuple[list[ArtifactMeta], list[str]]:
        """The readable versions of ``kind``, oldest first, and a message per unreadable one."""

    @abstractmethod
    def resolve(self, ref: str, kind: str | None = None) -> str:
        """The full version id ``ref`` names (see ``wanted_kinds``)."""

    @abstractmethod
    def load(self, kind: str, version: str) -> tuple[dict[str, Any], ArtifactMeta]: ...

    @abstractmethod
    def pointer(self, kind: str) -> Pointer | None:
        """The active pointer, or None when no version of ``kind`` is active (never activated,
        or rolled back past the first activation)."""

    @abstractmethod
    def pointer_written(self, kind: str) -> datetime | None:
        """When the pointer was last written (the dashboard shows it); None if never."""

    @abstractmethod
    def activate(self, kind: str, version: str | None) -> str | None:
        """Make ``version`` (None: the built-in program) active; returns its full id. The
        previous active version goes onto the history; atomic across processes."""

    @abstractmethod
    def rollback(self, kind: str) -> str | None:
        """Back to the version active before; returns it (None: built-in or the legacy file)."""

    @abstractmethod
    def active_programs(self) -> tuple[dict[str, ActiveProgram], list[str]]:
        """The program to run per kind, and the problems met on the way; never raises."""

    @abstractmethod
    def signature(self) -> tuple[Any, ...]:
        """Changes whenever the active programs may have; cheap (the server polls it each
        second) and never raises."""

    def versions(self, kind: str) -> list[ArtifactMeta]:
        return self.scan(kind)[0]

    def active(self, kind: str) -> str | None:
        pointer = self.pointer(kind)
        return pointer.active if pointer else None
