from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from scratch_dirs import scratch_dir

sys.path.insert(0, str(Path(__file__).parent))

# The suite never reads or writes the developer's own dspy-lsp config, data or cache; servers
# and CLIs the tests start inherit these.
_HOME = scratch_dir("dspy-lsp-tests-home-")
for _name, _sub in (
    ("XDG_CONFIG_HOME", "config"),
    ("XDG_DATA_HOME", "data"),
    ("XDG_CACHE_HOME", "cache"),
):
    os.environ[_name] = str(_HOME / _sub)


@pytest.fixture
def examples_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def quiet_model_metadata() -> Iterator[None]:
    """Dspy warns that the offline model-metadata refresh failed; that is expected here."""
    logger = logging.getLogger("dspy.clients.model_metadata")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(previous)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[object]:
    """The run's throwaway PostgreSQL cluster (see postgres_cluster.py); skipped, with the
    reason printed, where the server binaries or the driver are missing."""
    from postgres_cluster import missing_reason, remove_cluster, start_cluster

    reason = missing_reason()
    if reason is not None:
        pytest.skip(f"no PostgreSQL for the team-store tests: {reason}")
    cluster = start_cluster()
    yield cluster
    remove_cluster(cluster)


@pytest.fixture
def pg_url(pg_cluster: object) -> str:
    """A fresh, empty database on the run's cluster: its URL (no password; trust on a socket)."""
    return pg_cluster.create_database()  # type: ignore[attr-defined]
