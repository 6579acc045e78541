"""Versioned program artifacts: each saved once, one active per kind, a history to roll back.

Layout under the programs directory::

    <kind>/<hash>.json   {"format": 1, "meta": {...}, "state": {...}}; never rewritten
    <kind>/ACTIVE.json   {"active": "<kind>@<hash>" | null, "history": [...]}; null = built-in
    <kind>.json          legacy bare state, used while <kind>/ACTIVE.json does not exist

Every state read or written keeps to the artifact contract (``analyzers/programs/artifact.py``):
prompt parts only, bounded; ``save`` writes them in its canonical form. Every write goes to a
temporary file that is renamed into place, so a reader (the server polls) never sees half a
file. Writers serialise on a per-kind lock file, so two processes activating at once cannot lose
each other's update. A broken or refused file is reported, never raised at the server: it falls
back to the legacy file, then to the built-in program (a running server keeps its program).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ...analyzers.programs.artifact import ArtifactError, parse_state
from .artifacts import KINDS, read_json, read_legacy_state
from .safe_write import fsync_dir, replace_content

FORMAT = 1
POINTER = "ACTIVE.json"
_HASH = re.compile(r"[0-9a-f]{12}")
_PREFIX = re.compile(r"[0-9a-f]{4,12}")
Mark = tuple[int, int, int] | None


class RegistryError(Exception):
    """A registry operation that cannot be done; the message names the file and the remedy."""


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
    source: Path | None  # the file the state came from
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


class ProgramRegistry:
    def __init__(self, root: Path) -> None:
        self.root = root

    # -- saved versions ---------------------------------------------------------------------
    def save(self, state: dict[str, Any], meta: ArtifactMeta) -> Path:
        """Write one version, in the contract's canonical form; the same version again is a no-op.

        Imports dspy (to check the id).
        """
        _check_version(meta.kind, meta.version)
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
                "compute it with registry.version_for(kind, state)"
            )
        path = self.path_of(meta.version)
        with self._locked(meta.kind):
            if path.exists():
                existing, _ = _read_artifact(path, meta.version)
                if parse_state(meta.kind, existing).dump() != plain:
                    raise RegistryError(
                        f"{path} holds a different state under the same version; "
                        "it was edited by hand: remove it and save again"
                    )
                return path
            payload = {"format": FORMAT, "meta": asdict(meta), "state": plain}
            _write_atomic(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")
        return path

    def path_of(self, version: str) -> Path:
        kind, _, digest = version.partition("@")
        _check_version(kind, version)
        return self._dir(kind) / f"{digest}.json"

    def scan(self, kind: str) -> tuple[list[ArtifactMeta], list[str]]:
        """The readable versions of ``kind``, oldest first, and a message per unreadable one."""
        metas: list[ArtifactMeta] = []
        problems: list[str] = []
        for path in self._version_files(kind):
            try:
                metas.append(_read_artifact(path, f"{kind}@{path.stem}")[1])
            except RegistryError as exc:
                problems.append(str(exc))
        return sorted(metas, key=lambda m: (m.created, m.version)), problems

    def versions(self, kind: str) -> list[ArtifactMeta]:
        return self.scan(kind)[0]

    def resolve(self, ref: str, kind: str | None = None) -> str:
        """The full version id ``ref`` names: ``analyze@3fa2c0e1d2b4``, ``analyze@3fa2``, ``3fa2``."""
        named_kind, _, digest = ref.rpartition("@")
        if named_kind:
            if kind is not None and named_kind != kind:
                raise RegistryError(f"{ref} is not a {kind} version")
            kind = named_kind
        if not _PREFIX.fullmatch(digest):
            raise RegistryError(f"{ref!r} is not a version id (4 to 12 hex digits of the hash)")
        kinds = (kind,) if kind else KINDS
        matches = [
            f"{k}@{path.stem}"
            for k in kinds
            for path in self._version_files(k)
            if path.stem.startswith(digest)
        ]
        if not matches:
            raise RegistryError(
                f"no saved version matches {ref} in {self.root}; see `dspy-lsp programs list`"
            )
        if len(matches) > 1:
            raise RegistryError(f"{ref} is ambiguous ({', '.join(matches)}); give more of it")
        return matches[0]

    def load(self, kind: str, version: str) -> tuple[dict[str, Any], ArtifactMeta]:
        full = self.resolve(version, kind)
        return _read_artifact(self.path_of(full), full)

    # -- the active version -----------------------------------------------------------------
    def pointer(self, kind: str) -> Pointer | None:
        """``<kind>/ACTIVE.json``, or None when no version of ``kind`` was ever activated."""
        path = self._dir(kind) / POINTER
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RegistryError(_bad_pointer(path, str(exc), kind)) from exc
        pointer = _as_pointer(data)
        if pointer is None:
            raise RegistryError(_bad_pointer(path, "not an active-version pointer", kind))
        return pointer

    def active(self, kind: str) -> str | None:
        pointer = self.pointer(kind)
        return pointer.active if pointer else None

    def activate(self, kind: str, version: str | None) -> str | None:
        """Make ``version`` (None: the built-in program) active; returns its full id.

        The previous active version goes onto the history. A pointer file too broken to read
        is replaced: activating is how the user repairs it.
        """
        target = None if version is None else self.resolve(version, kind)
        if target is not None:
            self.load(kind, target)  # never point the server at a file it cannot read
        with self._locked(kind):
            try:
                current = self.pointer(kind)
            except RegistryError:
                current = None
            if current is None:
                self._write_pointer(kind, Pointer(target))
            elif current.active != target:
                self._write_pointer(kind, Pointer(target, (*current.history, current.active)))
        return target

    def rollback(self, kind: str) -> str | None:
        """Back to the version active before; returns it (None: built-in or the legacy file).

        Past the first activation, the pointer is removed, so whatever ran before the registry
        (the legacy ``<kind>.json`` or the built-in program) runs again.
        """
        with self._locked(kind):
            current = self.pointer(kind)
            if current is None:
                raise RegistryError(
                    f"no {kind} version was ever activated in {self.root}; nothing to roll back"
                )
            if not current.history:
                path = self._dir(kind) / POINTER
                path.unlink()
                fsync_dir(path.parent)
                return None
            previous = current.history[-1]
            if previous is not None:
                self.load(kind, previous)
            self._write_pointer(kind, Pointer(previous, current.history[:-1]))
            return previous

    def active_programs(self) -> tuple[dict[str, ActiveProgram], list[str]]:
        """The program to run per kind, and the problems met on the way; never raises."""
        chosen = {kind: self._active_program(kind) for kind in KINDS}
        return chosen, problems_of(chosen, chosen)

    def signature(self) -> tuple[Mark, ...]:
        """A fingerprint of every file that decides the active programs, from ``stat`` alone.

        Version files are never rewritten, so the pointers and the legacy files are enough.
        """
        marks: list[Mark] = []
        for kind in KINDS:
            for path in (self._dir(kind) / POINTER, self.root / f"{kind}.json"):
                try:
                    stat = path.stat()
                except OSError:
                    marks.append(None)
                    continue
                marks.append((stat.st_ino, stat.st_mtime_ns, stat.st_size))
        return tuple(marks)

    # -- internals --------------------------------------------------------------------------
    def _active_program(self, kind: str) -> ActiveProgram:
        trouble: str | None = None
        try:
            pointer = self.pointer(kind)
            if pointer is not None and pointer.active is None:
                return ActiveProgram(kind, None, None, None, None)
            if pointer is not None and pointer.active is not None:
                path = self.path_of(pointer.active)
                state, meta = _read_artifact(path, pointer.active)
                return ActiveProgram(kind, meta.version, state, meta, path)
        except RegistryError as exc:
            trouble = str(exc)
        legacy = self.root / f"{kind}.json"
        state, problem = read_legacy_state(legacy, kind)
        why = "; ".join(p for p in (trouble, problem) if p) or None
        if state is not None:
            return ActiveProgram(kind, None, state, None, legacy, why)
        return ActiveProgram(kind, None, None, None, None, why)

    def _dir(self, kind: str) -> Path:
        if kind not in KINDS:
            raise RegistryError(f"unknown program kind {kind!r}; expected one of {KINDS}")
        return self.root / kind

    def _version_files(self, kind: str) -> list[Path]:
        directory = self._dir(kind)
        if not directory.is_dir():
            return []
        return sorted(
            p for p in directory.iterdir() if p.suffix == ".json" and _HASH.fullmatch(p.stem)
        )

    def _write_pointer(self, kind: str, pointer: Pointer) -> None:
        payload = {"active": pointer.active, "history": list(pointer.history)}
        _write_atomic(self._dir(kind) / POINTER, json.dumps(payload, indent=2) + "\n")

    @contextlib.contextmanager
    def _locked(self, kind: str) -> Iterator[None]:
        """Exclusive across processes; closing the descriptor releases the lock."""
        directory = self._dir(kind)
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def problems_of(chosen: dict[str, ActiveProgram], running: dict[str, ActiveProgram]) -> list[str]:
    """A line per kind whose chosen program could not be used, naming what runs instead."""
    return [f"{c.problem}; using {running[k].label()}" for k, c in chosen.items() if c.problem]


def _check_version(kind: str, version: str) -> None:
    if kind not in KINDS:
        raise RegistryError(f"unknown program kind {kind!r}; expected one of {KINDS}")
    prefix, _, digest = version.partition("@")
    if prefix != kind or not _HASH.fullmatch(digest):
        raise RegistryError(f"{version!r} is not a {kind} version id ({kind}@<12 hex digits>)")


def _read_artifact(path: Path, version: str) -> tuple[dict[str, Any], ArtifactMeta]:
    fix = "remove it, or activate another version with `dspy-lsp programs activate`"
    try:
        data = read_json(path)
    except FileNotFoundError as exc:
        raise RegistryError(f"{path}: {version} is not saved (was it removed?)") from exc
    except (OSError, ValueError) as exc:
        raise RegistryError(f"{path}: {exc}; {fix}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("state"), dict):
        raise RegistryError(f"{path}: not a program artifact; {fix}")
    fmt = data.get("format")
    if not isinstance(fmt, int) or fmt > FORMAT:
        raise RegistryError(f"{path}: format {fmt!r} is not one this dspy-lsp reads; upgrade it")
    try:
        meta = _META.validate_python(data.get("meta"))
    except ValidationError as exc:
        raise RegistryError(f"{path}: bad metadata ({exc.error_count()} errors); {fix}") from exc
    if meta.version != version:
        raise RegistryError(f"{path}: holds {meta.version}, not {version}; {fix}")
    try:
        parse_state(version.partition("@")[0], data["state"])
    except ArtifactError as exc:
        raise RegistryError(f"{path}: refused: {exc}; {fix}") from exc
    return data["state"], meta


def _as_pointer(data: Any) -> Pointer | None:
    if not isinstance(data, dict) or "active" not in data:
        return None
    history = data.get("history", [])
    if not isinstance(history, list):
        return None
    entries = [data["active"], *history]
    if not all(e is None or isinstance(e, str) for e in entries):
        return None
    return Pointer(entries[0], tuple(history))


def _bad_pointer(path: Path, why: str, kind: str) -> str:
    return (
        f"{path}: {why}; rewrite it with `dspy-lsp programs activate VERSION` (or `{kind}@builtin`)"
    )


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_content(path, text.encode("utf-8"), mode=0o644)
