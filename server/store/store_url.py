"""The ``store.url`` setting: which backend keeps feedback, the LM cache, telemetry and programs.

Checked before anything connects, so a typo or a password pasted into a settings file is an
error the user reads, not a connection attempt. A password in the URL is refused: settings files
are shared, logged and shown on the dashboard, while libpq already reads ``PGPASSWORD`` and
``~/.pgpass``.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


class StoreUrlError(ValueError):
    """``store.url`` cannot be used; the message says why and what to write instead."""


@dataclass(frozen=True)
class StoreUrl:
    backend: Literal["sqlite", "postgresql"]
    path: Path | None = None
    """The SQLite file (sqlite backend only)."""
    dsn: str | None = None
    """What psycopg connects with (postgresql backend only); it holds no password."""

    def display(self) -> str:
        """For messages and the dashboard."""
        return f"sqlite://{self.path}" if self.path is not None else str(self.dsn)


def parse_store_url(url: str) -> StoreUrl:
    """``sqlite:///abs/path`` or ``postgresql://[user@]host[:port]/db[?options]``."""
    parts = urllib.parse.urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        if parts.netloc or not parts.path.startswith("/") or parts.path == "/":
            raise StoreUrlError(
                f"store.url {url!r}: a SQLite store is sqlite:/// followed by an absolute path"
            )
        return StoreUrl("sqlite", path=Path(urllib.parse.unquote(parts.path)))
    if scheme in ("postgresql", "postgres"):
        if parts.password is not None:
            raise StoreUrlError(
                "store.url holds a password; remove it and put it in ~/.pgpass or the"
                " PGPASSWORD environment variable (settings files are shared and shown)"
            )
        options = urllib.parse.parse_qs(parts.query)
        if "password" in options:
            raise StoreUrlError(
                "store.url has a password= option; use ~/.pgpass or PGPASSWORD instead"
            )
        if not parts.path.strip("/") and "dbname" not in options:
            raise StoreUrlError(f"store.url {url!r} names no database (postgresql://host/db)")
        return StoreUrl("postgresql", dsn=urllib.parse.urlunsplit(parts._replace(scheme=scheme)))
    raise StoreUrlError(f"store.url {url!r}: expected postgresql://user@host/db or sqlite:///path")
