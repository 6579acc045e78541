"""The team store's durability with real servers: four ``dspy-lsp`` language servers record
feedback into one PostgreSQL database, which is stopped and started again mid-burst.

An event is acknowledged when its ``dspy-lsp.feedback`` command answers ``recorded: 1``: by
then it is committed in PostgreSQL, or, while the database is down, in the local queue. Every
acknowledged event must end up in the database exactly once, and each server must tell its user
once that events are queued and once that they were sent.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient
from pytest_lsp.client import make_test_lsp_client

from dspy_lsp.server.lsp.constants import CMD_FEEDBACK
from reliability.test_durability import payload, prime, stop

psycopg = pytest.importorskip("psycopg", reason="the team extra (psycopg) is not installed")

SERVERS = "abcd"
EVENTS_PER_SERVER = int(os.environ.get("DSPY_LSP_DURABILITY_EVENTS", "120"))
PAUSE_S = 0.01
"""Between one server's commands: a burst long enough for the outage to fall inside it."""
OUTAGE_S = 1.5


@dataclass
class TeamWriter:
    name: str
    client: LanguageClient
    acknowledged: list[str] = field(default_factory=list)
    refused: int = 0


async def start_server(name: str, root: Path, url: str) -> TeamWriter:
    client = make_test_lsp_client()
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(root / ".data"),  # where the local queue goes
        "DSPY_LSP_STORE__URL": url,
        "DSPY_LSP_STORE__USER": f"dev-{name}@example.com",
    }
    await client.start_io(sys.executable, "-m", "dspy_lsp.server", env=env)
    await client.initialize_session(
        types.InitializeParams(capabilities=types.ClientCapabilities(), root_uri=root.as_uri())
    )
    return TeamWriter(name, client)


async def burst(writer: TeamWriter, root: Path, acked: list[int]) -> None:
    for n in range(EVENTS_PER_SERVER):
        params = types.ExecuteCommandParams(
            command=CMD_FEEDBACK, arguments=[payload(root, writer.name, n)]
        )
        result = await writer.client.workspace_execute_command_async(params)
        if result["recorded"] == 1:
            writer.acknowledged.append(f"{writer.name}-{n}")
            acked[0] += 1
        else:
            writer.refused += 1
        await asyncio.sleep(PAUSE_S)


async def outage(cluster: object, acked: list[int], after: int) -> float:
    """Stop PostgreSQL once ``after`` events are acknowledged, start it ``OUTAGE_S`` later;
    returns the number acknowledged when it went down."""
    while acked[0] < after:
        await asyncio.sleep(0.01)
    at = acked[0]
    await asyncio.to_thread(cluster.stop)  # type: ignore[attr-defined]
    try:
        await asyncio.sleep(OUTAGE_S)
    finally:
        await asyncio.to_thread(cluster.start)  # type: ignore[attr-defined]
    return at


def stored(url: str) -> Counter[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT finding_id FROM feedback_events WHERE project = 'acme-app'"
        ).fetchall()
    return Counter(row[0] for row in rows)


def settled(writers: list[TeamWriter], url: str, acknowledged: int) -> bool:
    """Every acknowledged event is stored, and every server that queued said it was sent."""
    for w in writers:
        messages = [m.message for m in w.client.messages]
        if any("is unreachable" in m for m in messages) and not any(
            "is back;" in m for m in messages
        ):
            return False
    return sum(stored(url).values()) >= acknowledged


async def test_four_servers_lose_and_duplicate_nothing_across_a_database_restart(
    pg_url: str, pg_cluster: object, tmp_path: Path
) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "acme-app"\n')
    writers = await asyncio.gather(*(start_server(n, tmp_path, pg_url) for n in SERVERS))
    acked = [0]
    try:
        await asyncio.gather(*(prime(w) for w in writers))  # type: ignore[arg-type]
        total = len(SERVERS) * EVENTS_PER_SERVER
        down = asyncio.create_task(outage(pg_cluster, acked, total // 3))
        await asyncio.gather(*(burst(w, tmp_path, acked) for w in writers))
        went_down_at = await down
        deadline = time.monotonic() + 120
        while not settled(writers, pg_url, acked[0]) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)  # the servers send their queues in the background
        told = {w.name: [m.message for m in w.client.messages] for w in writers}
    finally:
        await asyncio.gather(*(stop(w) for w in writers))  # type: ignore[arg-type]
    acknowledged = [name for w in writers for name in w.acknowledged]
    found = stored(pg_url)
    print(
        f"\nteam outage: {len(SERVERS)} servers x {EVENTS_PER_SERVER} events, database down at"
        f" {went_down_at} acknowledged for {OUTAGE_S}s; acknowledged {len(acknowledged)},"
        f" stored {sum(found.values())}, distinct {len(found)}"
    )
    assert went_down_at < len(acknowledged), "the outage fell after the burst"
    assert all(w.refused == 0 for w in writers)  # queued, not refused, while it was down
    assert [name for name in acknowledged if found[name] == 0] == [], "acknowledged, then lost"
    assert [name for name, n in found.items() if n > 1] == [], "duplicated"
    assert set(found) == set(acknowledged)
    went = {name: sum("is unreachable" in m for m in told[name]) for name in told}
    back = {name: sum("is back;" in m for m in told[name]) for name in told}
    assert any(went.values()), told  # the servers that wrote during the outage said so...
    assert all(went[name] == back[name] == 1 for name in told if went[name]), told  # once each
