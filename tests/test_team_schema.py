"""The team store's migrations: versioned, idempotent, safe from many processes at once, and
row-level security that keeps projects apart even for a query that forgot its filter."""

from __future__ import annotations

import subprocess
import sys
import urllib.parse

import pytest

psycopg = pytest.importorskip("psycopg", reason="the team extra (psycopg) is not installed")

from dspy_lsp.server.store.postgres.schema import (  # noqa: E402
    MIGRATIONS,
    SCHEMA_VERSION,
    TeamSchemaTooNew,
    migrate,
    row_security_enforced,
)

_MIGRATE = (
    "import sys, psycopg\n"
    "from dspy_lsp.server.store.postgres.schema import migrate\n"
    "with psycopg.connect(sys.argv[1], autocommit=True) as conn:\n"
    "    print(migrate(conn))\n"
)


def test_servers_starting_together_migrate_once(pg_url: str) -> None:
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", _MIGRATE, pg_url], stdout=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    found = sorted(int(run.communicate(timeout=120)[0]) for run in runs)
    assert all(run.returncode == 0 for run in runs)
    # Exactly one process found an empty database; every other waited and found it done.
    assert found == [0] + [SCHEMA_VERSION] * 5
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert migrate(conn) == SCHEMA_VERSION
        assert conn.execute("SELECT version FROM dspy_lsp_schema").fetchall() == [(SCHEMA_VERSION,)]


def test_a_newer_database_is_refused_untouched(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        migrate(conn)
        conn.execute("UPDATE dspy_lsp_schema SET version = %s", (SCHEMA_VERSION + 1,))
        with pytest.raises(TeamSchemaTooNew, match="upgrade dspy-lsp"):
            migrate(conn)
        assert conn.execute("SELECT version FROM dspy_lsp_schema").fetchone() == (
            SCHEMA_VERSION + 1,
        )


def _role_url(pg_url: str, role: str) -> str:
    return pg_url.replace("postgresql://dspy@", f"postgresql://{role}@")


def _create_role(pg_url: str, role: str) -> None:
    """A login role (not a superuser: those bypass row-level security) that may create tables."""
    database = urllib.parse.urlsplit(pg_url).path.strip("/")
    with psycopg.connect(pg_url, autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
            admin.execute(f"CREATE ROLE {role} LOGIN")
        admin.execute(f'GRANT ALL ON DATABASE "{database}" TO {role}')
        admin.execute(f"GRANT ALL ON SCHEMA public TO {role}")


def test_row_security_hides_other_projects_from_an_unfiltered_query(pg_url: str) -> None:
    _create_role(pg_url, "team_owner")
    # The role that migrates owns the tables, so it may turn row-level security on.
    with psycopg.connect(_role_url(pg_url, "team_owner"), autocommit=True) as conn:
        migrate(conn)
        assert row_security_enforced(conn)
        for project in ("alpha", "beta"):
            with conn.transaction():
                conn.execute("SELECT set_config('dspy_lsp.project', %s, true)", (project,))
                conn.execute(
                    "INSERT INTO lm_cache (project, digest, value, user_name, last_used)"
                    " VALUES (%s, 'd', 'v', 'ada', 0)",
                    (project,),
                )
        with conn.transaction():
            conn.execute("SELECT set_config('dspy_lsp.project', 'alpha', true)")
            seen = conn.execute("SELECT project FROM lm_cache").fetchall()
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute(
                    "INSERT INTO lm_cache (project, digest, value, user_name, last_used)"
                    " VALUES ('beta', 'x', 'v', 'ada', 0)"
                )
        assert seen == [("alpha",)]
        # Without a project set, nothing at all.
        assert conn.execute("SELECT count(*) FROM lm_cache").fetchone() == (0,)


def test_a_role_that_does_not_own_the_tables_migrates_without_row_security(
    pg_url: str,
) -> None:
    # An administrator created the tables (the first step only) and granted them to the team.
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("CREATE TABLE dspy_lsp_schema (version INTEGER NOT NULL)")
        admin.execute("INSERT INTO dspy_lsp_schema VALUES (1)")
        for statement in MIGRATIONS[0]:
            admin.execute(statement)
    _create_role(pg_url, "team_member")
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("GRANT ALL ON ALL TABLES IN SCHEMA public TO team_member")
    with psycopg.connect(_role_url(pg_url, "team_member"), autocommit=True) as conn:
        assert migrate(conn) == 1
        assert not row_security_enforced(conn)  # not the owner: skipped, not failed
        assert conn.execute("SELECT version FROM dspy_lsp_schema").fetchone() == (SCHEMA_VERSION,)
