"""``dspy-lsp store migrate``: copy a user's history from the SQLite files into the team store.

Feedback events go to the project's rows under the user's name; optionally, an LM cache file's
entries go to the project's shared cache and a program registry's versions to the team's (the
team's active version stands where it has one). Each event's key is derived from its content and its
row id in the file, so running the command again (or after an interrupted run) adds nothing
twice. Sources are read, never changed. Exit codes: 0 done, 2 error (one line on stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sqlite3
import sys
import urllib.parse
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..lm import cache as lm_cache
from ..settings import project_settings
from ..store import sqlite_file
from ..store.feedback_schema import COLUMNS, StoredEvent
from ..store.feedback_store import FeedbackStore, FeedbackStoreError, default_store_path
from ..store.postgres.feedback import INSERT_EVENT, text_safe
from ..store.project_root import project_root
from ..store.registry import ProgramRegistry
from ..store.registry_contract import RegistryUnavailable
from ..store.registry_copy import CopiedPrograms, copy_programs
from ..store.store_url import StoreUrlError, parse_store_url
from ..store.tenant import Tenant, project_key, user_name
from .help_text import described

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

EXIT_OK, EXIT_ERROR = 0, 2

EVENT_KEYS = uuid.UUID("5b0c6f0e-4f52-4d4e-9a36-64737079736c")
"""The uuid5 namespace of migrated events' keys; changing it would duplicate every event a
second migrate copies."""

_INSERT_ENTRY = (
    "INSERT INTO lm_cache (project, digest, value, user_name, last_used)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (project, digest) DO NOTHING"
)


class MigrateError(Exception):
    """The migration cannot run; the message says why and what to do instead."""


@dataclass(frozen=True)
class Moved:
    """What one source gave the team store."""

    what: str
    """"feedback events", "LM cache entries"."""
    added: int
    present: int
    """Rows the team store already held (an earlier migrate, or another user's same entry)."""


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    store = sub.add_parser(
        "store",
        help="move your history into the team store",
        description=described(__doc__),
    )
    verbs = store.add_subparsers(dest="verb", required=True)
    migrate = verbs.add_parser(
        "migrate",
        help="copy feedback (and an LM cache, programs) into PostgreSQL",
        description="Copy the feedback events of a SQLite feedback file, and optionally an LM"
        " cache file's entries and a program registry's versions, into a team store's rows of"
        " one project. Running it again adds nothing twice.",
    )
    migrate.add_argument(
        "--from",
        dest="source",
        metavar="URL",
        help="the feedback file, sqlite:///path or a path (default: this project's: feedback.path,"
        " else the per-user file of the project's root)",
    )
    migrate.add_argument(
        "--to",
        dest="target",
        metavar="URL",
        help="the team store, postgresql://user@host/db without a password (default: store.url)",
    )
    migrate.add_argument(
        "--cache-from",
        metavar="URL",
        help="also copy this LM cache file's entries, sqlite:///path or a path (default: none;"
        " the per-user cache holds every project's units, so it is copied only when named)",
    )
    migrate.add_argument(
        "--programs-from",
        type=Path,
        metavar="DIR",
        help="also copy this program registry's versions, lm.programs_dir (default: none); a"
        " kind's active version is copied only where the team has none",
    )
    migrate.add_argument(
        "--project",
        metavar="KEY",
        help="the project key the rows go under (default: the project here: [tool.dspy-lsp]"
        " project, else its [project] name, else its git remote)",
    )
    migrate.add_argument(
        "--user",
        metavar="NAME",
        help="who events the file does not attribute are attributed to (default: store.user,"
        " else your global git e-mail, else your login)",
    )
    migrate.add_argument(
        "--workspace",
        type=Path,
        metavar="DIR",
        help="a directory of the project whose history to move (default: the current one)",
    )


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        lines, problems = _migrate(args)
    except MigrateError as exc:
        print(f"dspy-lsp: {exc}", file=sys.stderr)
        return EXIT_ERROR
    for problem in problems:
        print(f"dspy-lsp: not copied: {problem}", file=sys.stderr)
    out.write("".join(f"{line}\n" for line in lines))
    return EXIT_OK


def _migrate(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """What was moved, a line each, and what could not be (a version the team store refused)."""
    directory = (args.workspace or Path.cwd()).resolve()
    resolved = project_settings(directory)
    settings = resolved.settings
    root = project_root(directory, resolved.root)
    dsn = _target(args.target or settings.store.url)
    project = args.project or (project_key(root, settings.project) if root else None)
    if not project:
        raise MigrateError(
            f"{directory} has no project key (no [tool.dspy-lsp] project, [project] name or git"
            " remote); name one with --project"
        )
    tenant = Tenant(project, args.user or user_name(settings.store.user))
    if args.source:
        feedback = _source_path(args.source, "--from")
    elif settings.feedback.path:
        feedback = Path(settings.feedback.path)
    else:
        feedback = default_store_path(root or directory)
    # A file named on the command line must exist; a developer with no history yet has none.
    history = bool(args.source) or feedback.exists()
    events = read_events(feedback) if history else []
    entries = read_cache(_source_path(args.cache_from, "--cache-from")) if args.cache_from else []
    if args.programs_from and not args.programs_from.is_dir():
        raise MigrateError(f"{args.programs_from} is not a directory (no programs to move)")
    pool = _open(dsn)
    moved = [copy_events(pool, tenant, events)]
    if args.cache_from:
        moved.append(copy_cache(pool, tenant, entries))
    where = f"to {dsn} for project {tenant.project}"
    lines = [f"moved {m.added:,} {m.what} ({m.present:,} already there) {where}" for m in moved]
    if not history:
        lines.insert(0, f"no local feedback history at {feedback}; the team store is ready")
    if not args.programs_from:
        return lines, []
    copied = _copy_programs(args.programs_from, dsn, tenant)
    lines.append(f"copied {copied.versions:,} program versions (any already there kept) {where}")
    lines += [f"{kind}: {_program(v)} is now active" for kind, v in copied.activated.items()]
    lines += [
        f"{kind}: the team's active {_program(v)} was kept" for kind, v in copied.kept.items()
    ]
    return lines, copied.problems


def _copy_programs(directory: Path, dsn: str, tenant: Tenant) -> CopiedPrograms:
    from ..store.postgres.registry import TeamProgramRegistry

    try:
        return copy_programs(ProgramRegistry(directory), TeamProgramRegistry(dsn, tenant))
    except RegistryUnavailable as exc:
        raise MigrateError(str(exc)) from None


def _program(version: str | None) -> str:
    return version or "built-in program"


def _target(url: str | None) -> str:
    if not url:
        raise MigrateError("name the team store: --to postgresql://user@host/db (or set store.url)")
    try:
        parsed = parse_store_url(url)
    except StoreUrlError as exc:
        raise MigrateError(str(exc)) from None
    if parsed.dsn is None:
        raise MigrateError(f"--to {url}: the target must be a PostgreSQL team store")
    return parsed.dsn


def _source_path(value: str, option: str) -> Path:
    """``sqlite:///abs/path`` or a plain path."""
    if "://" not in value:
        return Path(value)
    try:
        parsed = parse_store_url(value)
    except StoreUrlError as exc:
        raise MigrateError(f"{option}: {exc}") from None
    if parsed.path is None:
        raise MigrateError(f"{option} {value}: a source is a SQLite file (sqlite:///path)")
    return parsed.path


def _open(dsn: str) -> ConnectionPool:
    """The team store's pool, its schema brought up to date."""
    from ..store.postgres.driver import TeamStoreUnavailable, unreachable_errors
    from ..store.postgres.outage import database_errors
    from ..store.postgres.team_store import team_store

    try:
        store = team_store(dsn)
        store.ensure_schema()
    except TeamStoreUnavailable as exc:
        raise MigrateError(str(exc)) from None
    except unreachable_errors() as exc:
        raise MigrateError(f"the team store {dsn} cannot be reached: {exc}") from None
    except database_errors() as exc:  # a newer schema, a role without the rights
        raise MigrateError(f"the team store {dsn} cannot be used: {exc}") from None
    return store.pool


def _check_source(path: Path, table: str, what: str) -> None:
    """``path`` is a dspy-lsp file holding ``table``; nothing is created or written."""
    if not path.is_file():
        raise MigrateError(f"{path} does not exist (no {what} to move)")
    try:
        sqlite_file.claim(path, frozenset({table}))
        with contextlib.closing(_read_only(path)) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    except (OSError, sqlite3.Error) as exc:
        raise MigrateError(f"{path} is not a dspy-lsp {what} file: {exc}") from None
    if table not in tables:
        raise MigrateError(f"{path} is not a dspy-lsp {what} file (it has no {table} table)")


def _read_only(path: Path) -> sqlite3.Connection:
    uri = f"file:{urllib.parse.quote(os.fspath(path))}?mode=ro&nofollow=1"
    return sqlite3.connect(uri, uri=True)


@dataclass(frozen=True)
class SourceEvent:
    """An event of a feedback file, with who recorded it and its key where the file has them
    (files written before users were recorded have neither)."""

    stored: StoredEvent
    user: str | None
    key: str | None


def read_events(path: Path) -> list[SourceEvent]:
    """Every event of the feedback file at ``path``, oldest first."""
    _check_source(path, "events", "feedback")
    try:
        with FeedbackStore(path) as store:  # brings an older file up to date first
            events = store.events()
        with contextlib.closing(_read_only(path)) as conn:
            owners = {
                rowid: (user, key)
                for rowid, user, key in conn.execute("SELECT id, user_name, event_key FROM events")
            }
    except FeedbackStoreError as exc:
        raise MigrateError(str(exc)) from None
    except sqlite3.Error as exc:
        raise MigrateError(f"the feedback file {path} cannot be read: {exc}") from None
    return [SourceEvent(e, *owners.get(e.id, (None, None))) for e in events]


def read_cache(path: Path) -> list[tuple[str, str, float]]:
    """(digest, value, last_used) of every entry of the LM cache file at ``path``."""
    _check_source(path, "entries", "LM cache")
    try:
        with contextlib.closing(_read_only(path)) as conn:
            found = sqlite_file.user_version(conn)
            if found > lm_cache.SCHEMA_VERSION:
                raise MigrateError(f"{path}: {lm_cache.SchemaTooNewError(found)}")
            rows = conn.execute("SELECT digest, value, last_used FROM entries").fetchall()
    except sqlite3.Error as exc:
        raise MigrateError(f"the LM cache {path} cannot be read: {exc}") from None
    return [(str(d), str(v), float(t)) for d, v, t in rows]


def event_key(user: str, event: SourceEvent) -> uuid.UUID:
    """The event's own key, else one derived from its row: the same however often the file is
    migrated. The user is part of it, as two users' files number their rows alike."""
    if event.key:
        return uuid.UUID(event.key)
    content = json.dumps([user, event.stored.id, dataclasses.asdict(event.stored.event)])
    return uuid.uuid5(EVENT_KEYS, content)


def copy_events(pool: ConnectionPool, tenant: Tenant, events: Sequence[SourceEvent]) -> Moved:
    """Insert ``events`` in one transaction, each under the user who recorded it (else
    ``tenant.user``); those already there are skipped."""
    rows = []
    for e in events:
        user = e.user or tenant.user
        fields = (text_safe(getattr(e.stored.event, c)) for c in COLUMNS)
        rows.append((tenant.project, user, event_key(user, e), *fields))
    return Moved("feedback events", *_insert(pool, tenant, INSERT_EVENT, rows))


def copy_cache(
    pool: ConnectionPool, tenant: Tenant, entries: Sequence[tuple[str, str, float]]
) -> Moved:
    """Insert the cache ``entries``; a digest the project already has keeps its value."""
    rows = [(tenant.project, d, v, tenant.user, t) for d, v, t in entries]
    return Moved("LM cache entries", *_insert(pool, tenant, _INSERT_ENTRY, rows))


def _insert(
    pool: ConnectionPool, tenant: Tenant, statement: str, rows: Sequence[Sequence[Any]]
) -> tuple[int, int]:
    """(added, already there) after inserting ``rows`` all at once or not at all."""
    from ..store.postgres.driver import unreachable_errors
    from ..store.postgres.outage import database_errors
    from ..store.postgres.scope import tenant_transaction

    if not rows:
        return 0, 0
    try:
        with tenant_transaction(pool, tenant) as conn, conn.cursor() as cursor:
            cursor.executemany(statement, rows)
            added = cursor.rowcount
    except unreachable_errors() as exc:
        raise MigrateError(f"the team store went away; nothing was moved: {exc}") from None
    except database_errors() as exc:
        raise MigrateError(f"the team store refused the rows; nothing was moved: {exc}") from None
    return added, len(rows) - added
