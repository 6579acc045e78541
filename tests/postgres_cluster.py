"""A throwaway PostgreSQL cluster for the team-store tests: initdb into a temporary directory,
a unix socket there, no TCP, no system service; stopped and removed when the run ends.

PostgreSQL refuses to run as root, so under root (CI containers) it runs as the ``postgres``
user the Debian package creates. The cluster can be stopped and started mid-test
(``stop``/``start``): that is how the durability tests cut the database away.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path


def _bin_dir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return versions[-1].parent if versions else None


def missing_reason() -> str | None:
    """Why no cluster can be started here, or None when one can."""
    if _bin_dir() is None:
        return "PostgreSQL's server binaries (pg_ctl, initdb) are not installed"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run the cluster as"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (the team extra)"
    return None


@dataclass
class Cluster:
    root: Path
    bin_dir: Path
    superuser: str = "dspy"
    fsync: bool = False
    """Off for the tests, which need no crash safety; on where commit latency is measured."""

    @property
    def socket_dir(self) -> Path:
        return self.root

    def url(self, database: str = "postgres", user: str | None = None) -> str:
        return f"postgresql://{user or self.superuser}@/{database}?host={self.socket_dir}"

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self._run(
            "initdb", "-D", str(self.root / "data"), "-A", "trust", "-U", self.superuser,
            "--no-sync", "-E", "UTF8", "--locale=C",
        )  # fmt: skip

    def start(self) -> None:
        fsync = "on" if self.fsync else "off"
        options = (
            f"-k {self.socket_dir} -c listen_addresses='' -c fsync={fsync} -c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.root / "data"), "-o", options,
            "-l", str(self.root / "log"), "-w", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", mode, "-w", "stop")

    def create_database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def start_cluster(*, fsync: bool = False) -> Cluster:
    bin_dir = _bin_dir()
    assert bin_dir is not None
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="dspy-lsp-pg-")), bin_dir, fsync=fsync)
    os.chmod(cluster.root, 0o755)
    cluster.init()
    cluster.start()
    return cluster


def remove_cluster(cluster: Cluster) -> None:
    with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
        cluster.stop("immediate")
    shutil.rmtree(cluster.root, ignore_errors=True)
