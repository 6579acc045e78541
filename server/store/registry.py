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
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .artifacts import KINDS, read_json, read_legacy_state
from .registry_contract import (
    FIX,
    FORMAT,
    HASH,
    ActiveProgram,
    ArtifactMeta,
    Pointer,
    Registry,
    RegistryError,
    activated,
    as_pointer,
    canonical_state,
    check_kind,
    check_version,
    checked_artifact,
    one_match,
    problems_of,
    rolled_back,
    same_state,
    wanted_kinds,
)
from .safe_write import fsync_dir, replace_content

POINTER = "ACTIVE.json"
Mark = tuple[int, int, int] | None


class ProgramRegistry(Registry):
    """The registry in a directory: one user's, or whatever ``lm.programs_dir`` names."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)

    # -- saved versions ---------------------------------------------------------------------
    def save(self, state: dict[str, Any], meta: ArtifactMeta) -> None:
        plain = canonical_state(state, meta)
        path = self.path_of(meta.version)
        with self._locked(meta.kind):
            if path.exists():
                existing, _ = _read_artifact(path, meta.version)
                if not same_state(meta.kind, existing, plain):
                    raise RegistryError(
                        f"{path} holds a different state under the same version; "
                        "it was edited by hand: remove it and save again"
                    )
                return
            payload = {"format": FORMAT, "meta": asdict(meta), "state": plain}
            _write_atomic(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")

    def path_of(self, version: str) -> Path:
        kind, _, digest = version.partition("@")
        check_version(kind, version)
        return self._dir(kind) / f"{digest}.json"

    def where(self, version: str) -> str:
        return str(self.path_of(version))

    def scan(self, kind: str) -> tuple[list[ArtifactMeta], list[str]]:
        metas: list[ArtifactMeta] = []
        problems: list[str] = []
        for path in self._version_files(kind):
            try:
                metas.append(_read_artifact(path, f"{kind}@{path.stem}")[1])
            except RegistryError as exc:
                problems.append(str(exc))
        return sorted(metas, key=lambda m: (m.created, m.version)), problems

    def resolve(self, ref: str, kind: str | None = None) -> str:
        kinds, digest = wanted_kinds(ref, kind)
        matches = (
            f"{k}@{path.stem}"
            for k in kinds
            for path in self._version_files(k)
            if path.stem.startswith(digest)
        )
        return one_match(ref, matches, self.location)

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
        pointer = as_pointer(data)
        if pointer is None:
            raise RegistryError(_bad_pointer(path, "not an active-version pointer", kind))
        return pointer

    def pointer_written(self, kind: str) -> datetime | None:
        try:
            return datetime.fromtimestamp((self._dir(kind) / POINTER).stat().st_mtime, UTC)
        except OSError:
            return None

    def activate(self, kind: str, version: str | None) -> str | None:
        """A pointer file too broken to read is replaced: activating is how the user repairs it."""
        target = None if version is None else self.resolve(version, kind)
        if target is not None:
            self.load(kind, target)  # never point the server at a file it cannot read
        with self._locked(kind):
            try:
                current = self.pointer(kind)
            except RegistryError:
                current = None
            updated = activated(current, target)
            if updated is not None:
                self._write_pointer(kind, updated)
        return target

    def rollback(self, kind: str) -> str | None:
        """Past the first activation, the pointer is removed, so whatever ran before the registry
        (the legacy ``<kind>.json`` or the built-in program) runs again.
        """
        with self._locked(kind):
            updated = rolled_back(self.pointer(kind), kind, self.location)
            if updated is None:
                path = self._dir(kind) / POINTER
                path.unlink()
                fsync_dir(path.parent)
                return None
            if updated.active is not None:
                self.load(kind, updated.active)
            self._write_pointer(kind, updated)
            return updated.active

    def active_programs(self) -> tuple[dict[str, ActiveProgram], list[str]]:
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
        check_kind(kind)
        return self.root / kind

    def _version_files(self, kind: str) -> list[Path]:
        directory = self._dir(kind)
        if not directory.is_dir():
            return []
        return sorted(
            p for p in directory.iterdir() if p.suffix == ".json" and HASH.fullmatch(p.stem)
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


def _read_artifact(path: Path, version: str) -> tuple[dict[str, Any], ArtifactMeta]:
    try:
        data = read_json(path)
    except FileNotFoundError as exc:
        raise RegistryError(f"{path}: {version} is not saved (was it removed?)") from exc
    except (OSError, ValueError) as exc:
        raise RegistryError(f"{path}: {exc}; {FIX}") from exc
    if not isinstance(data, dict):
        raise RegistryError(f"{path}: not a program artifact; {FIX}")
    fmt = data.get("format")
    if not isinstance(fmt, int) or fmt > FORMAT:
        raise RegistryError(f"{path}: format {fmt!r} is not one this dspy-lsp reads; upgrade it")
    return checked_artifact(data.get("meta"), data.get("state"), version, str(path))


def _bad_pointer(path: Path, why: str, kind: str) -> str:
    return (
        f"{path}: {why}; rewrite it with `dspy-lsp programs activate VERSION` (or `{kind}@builtin`)"
    )


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_content(path, text.encode("utf-8"), mode=0o644)
