"""The team store's tables, their versioned migrations and row-level security.

Every row carries ``project`` (see ``tenant.py``) and the user who produced it; every query
filters on ``project``, and where the connecting role owns the tables, row-level security
enforces the same, so a query that forgot the filter reads nothing of another project.
The policy reads ``dspy_lsp.project``, set per transaction by ``tenant_transaction``.

Migrations run in one transaction under an advisory lock: several servers starting at once
(a team opening their editors in the morning) wait for the first, then find nothing to do.
PostgreSQL's DDL is transactional, so an interrupted migration leaves the previous version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

TENANT_TABLES = ("feedback_events", "lm_cache", "lm_calls", "program_versions", "program_pointers")

_LOCK_KEY = 0x44534C50  # "DSLP", as in the SQLite files' application id

# MIGRATIONS[n] takes the database from version n to n + 1. Append steps; never edit one that
# has shipped.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE feedback_events ("
        " id BIGSERIAL PRIMARY KEY,"
        " project TEXT NOT NULL,"
        " user_name TEXT NOT NULL,"
        " event_key UUID NOT NULL,"
        " kind TEXT NOT NULL,"
        " finding_id TEXT NOT NULL,"
        " rule TEXT NOT NULL,"
        " category TEXT,"
        " program_version TEXT NOT NULL,"
        " unit_hash TEXT,"
        " path TEXT,"
        " action_kind TEXT,"
        " edit TEXT,"
        " code TEXT,"
        " reason TEXT,"
        " created DOUBLE PRECISION NOT NULL,"
        " line INTEGER,"
        " end_line INTEGER,"
        " message TEXT,"
        " context TEXT,"
        " recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
        " UNIQUE (project, event_key))",
        "CREATE INDEX feedback_events_created ON feedback_events (project, created)",
        "CREATE TABLE lm_cache ("
        " project TEXT NOT NULL,"
        " digest TEXT NOT NULL,"
        " value TEXT NOT NULL,"
        " user_name TEXT NOT NULL,"
        " last_used DOUBLE PRECISION NOT NULL,"
        " PRIMARY KEY (project, digest))",
        "CREATE INDEX lm_cache_last_used ON lm_cache (project, last_used)",
        "CREATE TABLE lm_calls ("
        " id BIGSERIAL PRIMARY KEY,"
        " project TEXT NOT NULL,"
        " user_name TEXT NOT NULL,"
        " at TIMESTAMPTZ NOT NULL,"
        " program TEXT NOT NULL,"
        " version TEXT NOT NULL,"
        " model TEXT NOT NULL,"
        " prompt_tokens INTEGER NOT NULL,"
        " completion_tokens INTEGER NOT NULL,"
        " cost_usd DOUBLE PRECISION NOT NULL,"
        " latency_s DOUBLE PRECISION NOT NULL,"
        " outcome TEXT NOT NULL)",
        "CREATE INDEX lm_calls_at ON lm_calls (project, at)",
        "CREATE TABLE program_versions ("
        " project TEXT NOT NULL,"
        " kind TEXT NOT NULL,"
        " version TEXT NOT NULL,"
        " meta JSONB NOT NULL,"
        " state JSONB NOT NULL,"
        " user_name TEXT NOT NULL,"
        " saved_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
        " PRIMARY KEY (project, version))",
        "CREATE TABLE program_pointers ("
        " project TEXT NOT NULL,"
        " kind TEXT NOT NULL,"
        " active TEXT,"
        " history JSONB NOT NULL DEFAULT '[]',"
        " generation BIGINT NOT NULL DEFAULT 1,"
        " user_name TEXT NOT NULL,"
        " updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
        " PRIMARY KEY (project, kind))",
    ),
    # Row-level security, where the role may set it (it owns the tables): skipped with a notice
    # otherwise, and the queries' own filters still keep projects apart.
    (
        "DO $$ DECLARE t TEXT; BEGIN"
        f" FOREACH t IN ARRAY ARRAY{list(TENANT_TABLES)!r} LOOP"
        "  EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);"
        "  EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);"
        "  EXECUTE format('CREATE POLICY tenant ON %I"
        "   USING (project = current_setting(''dspy_lsp.project'', true))"
        "   WITH CHECK (project = current_setting(''dspy_lsp.project'', true))', t);"
        " END LOOP;"
        " EXCEPTION WHEN insufficient_privilege THEN"
        "  RAISE NOTICE 'dspy-lsp: row-level security not set (the role does not own the tables)';"
        " END $$",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class TeamSchemaTooNew(Exception):
    def __init__(self, found: int) -> None:
        super().__init__(
            f"the team store has schema version {found}, newer than this dspy-lsp supports"
            f" ({SCHEMA_VERSION}); upgrade dspy-lsp"
        )


def migrate(conn: psycopg.Connection) -> int:
    """Bring the database to ``SCHEMA_VERSION``; returns the version it was at. Safe to run from
    any number of processes at once."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute("CREATE TABLE IF NOT EXISTS dspy_lsp_schema (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM dspy_lsp_schema").fetchone()
        if row is None:
            conn.execute("INSERT INTO dspy_lsp_schema (version) VALUES (0)")
        found = 0 if row is None else int(row[0])
        if found > SCHEMA_VERSION:
            raise TeamSchemaTooNew(found)
        for step in MIGRATIONS[found:]:
            for statement in step:
                conn.execute(statement)
        conn.execute("UPDATE dspy_lsp_schema SET version = %s", (SCHEMA_VERSION,))
    return found


def row_security_enforced(conn: psycopg.Connection) -> bool:
    """Whether every tenant table has forced row-level security (the dashboard says so)."""
    row = conn.execute(
        "SELECT count(*) FROM pg_class WHERE relname = ANY(%s)"
        " AND relrowsecurity AND relforcerowsecurity",
        (list(TENANT_TABLES),),
    ).fetchone()
    return row is not None and row[0] == len(TENANT_TABLES)
