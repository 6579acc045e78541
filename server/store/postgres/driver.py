"""psycopg 3 and its pool, imported only when a team store is configured.

A pool rather than one connection: the server's threads (feedback, LM answers, telemetry, the
programs watcher) each take a connection for one short transaction, and a connection the
database dropped (a restart, a failover) is checked and replaced instead of failing every
later call.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

CONNECT_TIMEOUT_S = 3
"""How long a connection attempt may take before the database counts as unreachable."""


class TeamStoreUnavailable(Exception):
    """The team extra is not installed, or the database cannot be reached right now."""


def open_pool(dsn: str, *, max_size: int = 4, name: str = "dspy-lsp") -> ConnectionPool:
    """A pool on ``dsn``; it connects lazily, so a database that is down does not stop start-up."""
    try:
        from psycopg_pool import ConnectionPool
    except ImportError as exc:
        raise TeamStoreUnavailable(
            "store.url names PostgreSQL but psycopg is not installed: pip install 'dspy-lsp[team]'"
        ) from exc
    # The pool warns at every failed reconnection (several a second while the database is down);
    # the stores say once that it is unreachable, and once that it is back.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    kwargs: dict[str, Any] = {
        "connect_timeout": CONNECT_TIMEOUT_S,
        "application_name": name,
        "autocommit": True,  # transactions are explicit (conn.transaction())
    }
    return ConnectionPool(
        dsn,
        min_size=0,
        max_size=max_size,
        kwargs=kwargs,
        open=True,
        timeout=CONNECT_TIMEOUT_S,
        check=ConnectionPool.check_connection,
        reconnect_timeout=0,  # keep trying for as long as the server runs
        name=name,
    )


def unreachable_errors() -> tuple[type[BaseException], ...]:
    """What a call raises when the database is down or the network is: worth queueing for."""
    import psycopg
    from psycopg_pool import PoolTimeout

    return (psycopg.OperationalError, PoolTimeout)
