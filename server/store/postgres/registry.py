"""The program registry in the team store: one project's versions and active pointers, shared
by every server and command line of the project, whoever runs them.

``program_versions`` holds each saved version once (meta and state as JSONB); every read checks
them against the artifact contract exactly as the file registry checks its files
(``registry_contract``), so a row written by hand is refused, never run. ``program_pointers``
holds a row per kind: the active version, the history ``rollback`` walks back, and a
``generation`` every activation and rollback increments. A rollback past the first activation
keeps the row with a JSON null history (no pointer: the built-in program), so the generation
only ever grows and a poller cannot miss a change that ends where it started.

Activation and rollback lock the kind's row (``SELECT ... FOR UPDATE``) in one transaction, so
servers and CI jobs activating at once cannot lose each other's history.

The server notices a change by polling ``signature()`` (one SELECT of each kind's generation)
each second, as it stats the pointer files of the file registry: LISTEN needs a connection held
open per server for ever (and a pooler in transaction mode drops it), while a poll of a
three-row index lookup costs the database nothing and recovers from a restart by itself.

When the database is down, nothing here raises at the server: ``signature()`` returns a mark
of its own and ``active_programs()`` names the problem for each kind, so the server keeps the
programs it runs and says why; after a failure the database is left alone for a few seconds,
so the server's event loop never waits out a connection timeout twice in a row.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..artifacts import KINDS
from ..registry_contract import (
    HASH,
    ActiveProgram,
    ArtifactMeta,
    Pointer,
    Registry,
    RegistryError,
    RegistryUnavailable,
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
from ..tenant import Tenant
from .driver import TeamStoreUnavailable
from .outage import Outage, database_errors
from .scope import tenant_transaction
from .team_store import team_store

if TYPE_CHECKING:
    import psycopg

RETRY_AFTER_S = 5.0
"""How long the registry leaves an unreachable database alone: programs activated meanwhile
are picked up this much later, at most."""

UNREACHABLE = ("unreachable",)
"""``signature()`` while the database cannot be read: a change, so the server asks for the
active programs once, and learns the problem."""


class TeamRegistryUnavailable(RegistryUnavailable):
    """The team store cannot be read or written right now (down, no driver)."""


class TeamProgramRegistry(Registry):
    """The registry of ``tenant.project`` in the team database ``dsn``."""

    def __init__(self, dsn: str, tenant: Tenant) -> None:
        self._dsn = dsn
        self.tenant = tenant
        self.location = f"the team store (project {tenant.project!r})"
        self._outage = Outage("the program registry", RETRY_AFTER_S)
        self._last_failure = ""

    # -- saved versions ---------------------------------------------------------------------
    def save(self, state: dict[str, Any], meta: ArtifactMeta) -> None:
        from psycopg.types.json import Jsonb

        plain = canonical_state(state, meta)
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT meta, state FROM program_versions WHERE project = %s AND version = %s",
                (self.tenant.project, meta.version),
            ).fetchone()
            if row is not None:
                existing, _ = checked_artifact(
                    row[0], row[1], meta.version, self.where(meta.version)
                )
                if not same_state(meta.kind, existing, plain):
                    raise RegistryError(
                        f"{self.where(meta.version)} holds a different state under the same"
                        " version; it was changed by hand: delete its row and save again"
                    )
                return
            conn.execute(
                "INSERT INTO program_versions (project, kind, version, meta, state, user_name)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (project, version) DO NOTHING",
                (
                    self.tenant.project,
                    meta.kind,
                    meta.version,
                    Jsonb(asdict(meta)),
                    Jsonb(plain),
                    self.tenant.user,
                ),
            )

    def where(self, version: str) -> str:
        check_version(version.partition("@")[0], version)
        return f"{version} in {self.location}"

    def scan(self, kind: str) -> tuple[list[ArtifactMeta], list[str]]:
        check_kind(kind)
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT version, meta, state FROM program_versions"
                " WHERE project = %s AND kind = %s",
                (self.tenant.project, kind),
            ).fetchall()
        metas: list[ArtifactMeta] = []
        problems: list[str] = []
        for version, meta, state in rows:
            try:
                check_version(kind, version)
                metas.append(checked_artifact(meta, state, version, self.where(version))[1])
            except RegistryError as exc:
                problems.append(str(exc))
        return sorted(metas, key=lambda m: (m.created, m.version)), problems

    def resolve(self, ref: str, kind: str | None = None) -> str:
        kinds, digest = wanted_kinds(ref, kind)
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT kind, version FROM program_versions WHERE project = %s AND kind = ANY(%s)",
                (self.tenant.project, list(kinds)),
            ).fetchall()
        matches = (
            version
            for saved_kind, version in rows
            if version.startswith(f"{saved_kind}@{digest}")
            and HASH.fullmatch(version.partition("@")[2])
        )
        return one_match(ref, matches, self.location)

    def load(self, kind: str, version: str) -> tuple[dict[str, Any], ArtifactMeta]:
        full = self.resolve(version, kind)
        with self._transaction() as conn:
            return self._load(conn, full)

    # -- the active version -----------------------------------------------------------------
    def pointer(self, kind: str) -> Pointer | None:
        check_kind(kind)
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT active, history FROM program_pointers WHERE project = %s AND kind = %s",
                (self.tenant.project, kind),
            ).fetchone()
        return self._pointer_of(kind, row)

    def pointer_written(self, kind: str) -> datetime | None:
        check_kind(kind)
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT updated_at FROM program_pointers WHERE project = %s AND kind = %s"
                " AND history <> 'null'::jsonb",
                (self.tenant.project, kind),
            ).fetchone()
        return row[0] if row else None

    def activate(self, kind: str, version: str | None) -> str | None:
        """A pointer row too broken to read is replaced: activating is how it is repaired."""
        target = None if version is None else self.resolve(version, kind)
        with self._transaction() as conn:
            if target is not None:
                self._load(conn, target)  # never point the servers at a row they cannot read
            row = self._locked_pointer(conn, kind)
            try:
                current = self._pointer_of(kind, row)
            except RegistryError:
                current = None
            updated = activated(current, target)
            if updated is not None:
                self._write_pointer(conn, kind, updated)
        return target

    def rollback(self, kind: str) -> str | None:
        """Past the first activation, no version is active: the built-in program runs (the
        team store has no legacy file)."""
        with self._transaction() as conn:
            current = self._pointer_of(kind, self._locked_pointer(conn, kind))
            updated = rolled_back(current, kind, self.location)
            if updated is not None and updated.active is not None:
                self._load(conn, updated.active)
            self._write_pointer(conn, kind, updated)
        return updated.active if updated else None

    def active_programs(self) -> tuple[dict[str, ActiveProgram], list[str]]:
        try:
            with self._transaction() as conn:
                rows = conn.execute(
                    "SELECT p.kind, p.active, p.history, v.meta, v.state"
                    " FROM program_pointers p LEFT JOIN program_versions v"
                    " ON v.project = p.project AND v.version = p.active"
                    " WHERE p.project = %s",
                    (self.tenant.project,),
                ).fetchall()
        except TeamRegistryUnavailable as exc:
            chosen = {kind: ActiveProgram(kind, None, None, None, None, str(exc)) for kind in KINDS}
            return chosen, problems_of(chosen, chosen)
        found = {row[0]: row for row in rows}
        chosen = {kind: self._active_program(kind, found.get(kind)) for kind in KINDS}
        return chosen, problems_of(chosen, chosen)

    def signature(self) -> tuple[Any, ...]:
        """Each kind's generation: one index lookup."""
        try:
            with self._transaction() as conn:
                rows = conn.execute(
                    "SELECT kind, generation FROM program_pointers WHERE project = %s ORDER BY kind",
                    (self.tenant.project,),
                ).fetchall()
        except TeamRegistryUnavailable:
            return UNREACHABLE
        return tuple((kind, generation) for kind, generation in rows)

    # -- internals --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection]:
        """A transaction on the project's rows; the database's failures become
        TeamRegistryUnavailable (or a RegistryError for a refused statement)."""
        if self._outage.skipping:
            raise TeamRegistryUnavailable(self._last_failure)
        try:
            store = team_store(self._dsn)
            store.ensure_schema()
            with tenant_transaction(store.pool, self.tenant) as conn:
                yield conn
        except TeamStoreUnavailable as exc:
            raise TeamRegistryUnavailable(f"{self.location}: {exc}") from exc
        except database_errors() as exc:
            self._outage.failed(exc)
            if not self._outage.skipping:  # a statement refused: this call only
                raise RegistryError(f"{self.location} refused the request: {exc}") from exc
            self._last_failure = (
                f"{self.location} cannot be used ({exc}); the programs that run stay until it can"
            )
            raise TeamRegistryUnavailable(self._last_failure) from exc
        self._outage.succeeded()

    def _load(self, conn: psycopg.Connection, version: str) -> tuple[dict[str, Any], ArtifactMeta]:
        row = conn.execute(
            "SELECT meta, state FROM program_versions WHERE project = %s AND version = %s",
            (self.tenant.project, version),
        ).fetchone()
        if row is None:
            raise RegistryError(f"{self.where(version)}: not saved (was it deleted?)")
        return checked_artifact(row[0], row[1], version, self.where(version))

    def _locked_pointer(self, conn: psycopg.Connection, kind: str) -> tuple[Any, Any] | None:
        """The kind's pointer row, locked until the transaction ends (created if missing, so
        that two first activations also take turns)."""
        check_kind(kind)
        conn.execute(
            "INSERT INTO program_pointers (project, kind, active, history, generation, user_name)"
            " VALUES (%s, %s, NULL, 'null'::jsonb, 0, %s) ON CONFLICT (project, kind) DO NOTHING",
            (self.tenant.project, kind, self.tenant.user),
        )
        return conn.execute(
            "SELECT active, history FROM program_pointers"
            " WHERE project = %s AND kind = %s FOR UPDATE",
            (self.tenant.project, kind),
        ).fetchone()

    def _write_pointer(self, conn: psycopg.Connection, kind: str, pointer: Pointer | None) -> None:
        from psycopg.types.json import Jsonb

        conn.execute(
            "UPDATE program_pointers SET active = %s, history = %s, generation = generation + 1,"
            " user_name = %s, updated_at = now() WHERE project = %s AND kind = %s",
            (
                pointer.active if pointer else None,
                Jsonb(list(pointer.history) if pointer else None),
                self.tenant.user,
                self.tenant.project,
                kind,
            ),
        )

    def _pointer_of(self, kind: str, row: tuple[Any, Any] | None) -> Pointer | None:
        if row is None or row[1] is None:
            return None
        pointer = as_pointer({"active": row[0], "history": row[1]})
        if pointer is None:
            raise RegistryError(
                f"{self.location}: the {kind} pointer is not an active-version pointer; rewrite"
                f" it with `dspy-lsp programs activate VERSION` (or `{kind}@builtin`)"
            )
        return pointer

    def _active_program(self, kind: str, row: tuple[Any, ...] | None) -> ActiveProgram:
        try:
            pointer = self._pointer_of(kind, row[1:3] if row else None)
            if pointer is None or pointer.active is None:
                return ActiveProgram(kind, None, None, None, None)
            assert row is not None
            if row[3] is None:
                raise RegistryError(f"{self.where(pointer.active)}: not saved (was it deleted?)")
            check_version(kind, pointer.active)
            state, meta = checked_artifact(
                row[3], row[4], pointer.active, self.where(pointer.active)
            )
        except RegistryError as exc:
            return ActiveProgram(kind, None, None, None, None, str(exc))
        return ActiveProgram(kind, meta.version, state, meta, None)
