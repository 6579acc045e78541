"""The team feedback store keeps every acknowledged event through database outages: queued
locally while PostgreSQL is down, sent in order when it is back, never twice.

These tests stop and start the run's PostgreSQL cluster; each starts it again however it ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg

from dspy_lsp.analyzers.learning.records import FeedbackEvent
from dspy_lsp.server.store.feedback_backend import open_feedback_store
from dspy_lsp.server.store.feedback_schema import to_row
from dspy_lsp.server.store.postgres.feedback import TeamFeedbackStore
from dspy_lsp.server.store.postgres.outbox import Outbox, outbox_path
from dspy_lsp.server.store.store_choice import StoreChoice
from dspy_lsp.server.store.store_url import parse_store_url
from dspy_lsp.server.store.tenant import Tenant

PROJECT = "github.com/acme/app"


def event(name: str) -> FeedbackEvent:
    return FeedbackEvent(
        kind="accepted", finding_id=name, rule="DL104", program_version="rule", created=1.0
    )


def open_team(url: str, user: str = "ana@example.com", **kwargs: object) -> TeamFeedbackStore:
    store = open_feedback_store(
        StoreChoice(parse_store_url(url), Tenant(PROJECT, user)), Path("unused"), **kwargs
    )
    assert isinstance(store, TeamFeedbackStore)
    return store


def stored_names(url: str) -> list[str]:
    """finding_id of every row of the project, in id order (duplicates included)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT finding_id FROM feedback_events WHERE project = %s ORDER BY id", (PROJECT,)
        ).fetchall()
    return [row[0] for row in rows]


@contextlib.contextmanager
def database_down(cluster: object) -> Iterator[None]:
    """The cluster stopped for the block, started again however the block ends."""
    cluster.stop()  # type: ignore[attr-defined]
    try:
        yield
    finally:
        cluster.start()  # type: ignore[attr-defined]


def wait_until(condition: object, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_record_returns_once_the_event_is_committed(pg_url: str) -> None:
    with open_team(pg_url) as store:
        for n in range(5):
            store.record(event(f"e{n}"))
            # Another connection sees it at once: it was committed, not merely sent.
            assert stored_names(pg_url)[-1] == f"e{n}"
        assert store.queued == 0


def test_events_recorded_while_the_database_is_down_are_queued_then_sent_in_order(
    pg_url: str, pg_cluster: object
) -> None:
    told: list[str] = []
    with open_team(pg_url, notify=told.append) as store:
        store.record(event("before"))
        with database_down(pg_cluster):
            for name in ("down-1", "down-2", "down-3"):
                store.record(event(name))
            assert store.queued == 3
            assert unreachable(pg_url)
        store.record(event("after"))  # behind the queue, not ahead of it
        wait_until(lambda: store.queued == 0)
        wait_until(lambda: len(told) == 2)
    assert stored_names(pg_url) == ["before", "down-1", "down-2", "down-3", "after"]
    assert len(told) == 2  # once for the outage, once when it is over
    assert "unreachable" in told[0] and "queued locally" in told[0]
    assert "is back" in told[1]


def unreachable(url: str) -> bool:
    try:
        psycopg.connect(url, connect_timeout=2).close()
    except psycopg.OperationalError:
        return True
    return False


def test_a_queue_sent_again_after_a_crash_stores_each_event_once(pg_url: str) -> None:
    """A crash between the database's commit and the queue's delete: the next sender sends the
    same events again, and their keys keep them single."""
    with open_team(pg_url) as store:
        for n in range(3):
            store.record(event(f"e{n}"))
    with psycopg.connect(pg_url) as conn:
        keys = conn.execute("SELECT event_key::text FROM feedback_events ORDER BY id").fetchall()
    dsn = parse_store_url(pg_url).dsn
    assert dsn is not None
    with Outbox(outbox_path(dsn, PROJECT)) as queue:  # what the crash left behind
        for (key,), n in zip(keys, range(3), strict=True):
            queue.put(key, "ana@example.com", to_row(event(f"e{n}"), ()))
    with open_team(pg_url) as store:
        wait_until(lambda: store.queued == 0)
    assert stored_names(pg_url) == ["e0", "e1", "e2"]


_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from dspy_lsp.analyzers.learning.records import FeedbackEvent
    from dspy_lsp.server.settings_model import Settings
    from dspy_lsp.server.store.feedback_backend import feedback_choice, open_feedback_store
    from dspy_lsp.server.store.postgres.team_store import close_team_stores

    url, who, count, pause, root = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), Path(sys.argv[5])
    acked = open(root / f"{who}.acked", "a", encoding="utf-8")
    settings = Settings.model_validate({"project": "github.com/acme/app", "store": {"url": url}})
    choice, user = feedback_choice(settings, root)
    store = open_feedback_store(choice, root / "unused.sqlite3", user=user)
    for n in range(count):
        store.record(FeedbackEvent(
            kind="accepted", finding_id=f"{who}-{n}", rule="DL104", program_version="rule",
            created=time.time(),
        ))
        print(f"{who}-{n}", file=acked, flush=True)  # acknowledged: record returned
        time.sleep(pause)
    if "--die" in sys.argv:
        time.sleep(60)  # killed here by the test
    store.close()
    close_team_stores()
    """
)


def start_writer(
    url: str, who: str, count: int, pause: float, root: Path, *extra: str
) -> subprocess.Popen[str]:
    """A process recording ``count`` events through the server's code path; each name goes to
    ``root / <who>.acked`` once ``record`` returned."""
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, url, who, str(count), str(pause), str(root), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def acked(root: Path, who: str) -> list[str]:
    path = root / f"{who}.acked"
    return path.read_text(encoding="utf-8").split() if path.exists() else []


def test_a_queue_left_by_a_killed_server_is_sent_by_the_next(
    pg_url: str, pg_cluster: object, tmp_path: Path
) -> None:
    with database_down(pg_cluster):
        writer = start_writer(pg_url, "w", 5, 0.0, tmp_path, "--die")
        wait_until(lambda: len(acked(tmp_path, "w")) == 5 or writer.poll() is not None)
        with contextlib.suppress(ProcessLookupError):  # ended early: its stderr says why
            os.kill(writer.pid, signal.SIGKILL)
        _, err = writer.communicate()
        acknowledged = acked(tmp_path, "w")
        assert len(acknowledged) == 5, err
    dsn = parse_store_url(pg_url).dsn
    assert dsn is not None
    with Outbox(outbox_path(dsn, PROJECT)) as queue:
        assert queue.count() == 5  # on disk, acknowledged, not sent
    with open_team(pg_url) as store:  # the next server of this project
        wait_until(lambda: store.queued == 0)
    assert stored_names(pg_url) == acknowledged


def test_four_servers_lose_and_duplicate_nothing_when_the_database_restarts_mid_burst(
    pg_url: str, pg_cluster: object, tmp_path: Path
) -> None:
    """The issue's test: four processes record a burst each through the server's code path;
    PostgreSQL is stopped and started in the middle. Every acknowledged event is stored once."""
    count = 200
    writers = [start_writer(pg_url, f"w{n}", count, 0.01, tmp_path) for n in range(4)]

    def under_way() -> bool:  # every burst started (or a writer ended early: its stderr says)
        return all(acked(tmp_path, f"w{n}") for n in range(4)) or any(
            writer.poll() is not None for writer in writers
        )

    try:
        wait_until(under_way)
        time.sleep(0.3)
        with database_down(pg_cluster):
            time.sleep(1.5)
        outputs = [writer.communicate(timeout=300) for writer in writers]
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
    for writer, (_, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
    acknowledged = [name for n in range(4) for name in acked(tmp_path, f"w{n}")]
    assert len(acknowledged) == 4 * count
    queued = [err for _, err in outputs if "queued locally" in err]
    assert queued, "the outage fell outside the burst"
    with open_team(pg_url) as store:  # anything a writer left queued at exit
        wait_until(lambda: store.queued == 0)
    stored = Counter(stored_names(pg_url))
    assert not [name for name in acknowledged if stored[name] == 0], "acknowledged, then lost"
    assert not [name for name, n in stored.items() if n > 1], "duplicated"
    assert set(stored) == set(acknowledged)
    for who in range(4):  # each server's events arrive in the order it recorded them
        mine = [name for name in stored_names(pg_url) if name.startswith(f"w{who}-")]
        assert mine == [f"w{who}-{n}" for n in range(count)]
