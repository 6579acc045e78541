"""A transaction on behalf of one project: what every team-store query runs in."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..tenant import Tenant

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool


@contextlib.contextmanager
def tenant_transaction(pool: ConnectionPool, tenant: Tenant) -> Iterator[psycopg.Connection]:
    """A connection in a transaction that sees ``tenant.project``'s rows only (row-level
    security, where set); it commits when the block ends, and rolls back if it raises."""
    with pool.connection() as conn, conn.transaction():
        conn.execute("SELECT set_config('dspy_lsp.project', %s, true)", (tenant.project,))
        yield conn
