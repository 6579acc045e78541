"""Storage that disappears: the feedback file deleted, replaced, out of space, or its side files
damaged while a real server writes to it.

An event is acknowledged when the server answers the feedback command ``recorded: 1``; every
acknowledged event must be in the file at the store's path (or, when the path now holds a file
that is not ours, in the rescue file beside it) once the server has shut down, under the id it
was given. The user is told once per incident, never once per event.

The servers are the durability suite's (``start_server``): real processes over stdio. A full
disk is a file-size limit set on the running server (``prlimit``), lowered to nothing and raised
again: every write then fails as on a full disk (EFBIG, where a full disk gives ENOSPC; the server
cannot tell them apart and does not try), and space "returns" without root or a tiny mount.
"""

from __future__ import annotations

import os
import resource
import shutil
import sqlite3
from pathlib import Path

import pytest
from e2e.conftest import behave_like_an_editor
from lsp_client import open_and_wait, replace_and_wait
from lsprotocol import types
from test_store import event

from dspy_lsp.server.lsp.constants import CMD_FEEDBACK
from dspy_lsp.server.store.feedback_store import FeedbackStore
from dspy_lsp.server.store.sqlite_file import open_database
from reliability.test_durability import Writer, integrity, payload, start_server, stop

FLAGGED = "def f(items=[]):\n    return items\n"


async def send(writer: Writer, root: Path, count: int) -> list[int]:
    """``count`` feedback commands, one after another; the ids of those acknowledged."""
    acknowledged = []
    for _ in range(count):
        n = writer.sent
        writer.sent += 1
        result = await writer.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=CMD_FEEDBACK, arguments=[payload(root, "a", n)])
        )
        if result["recorded"] == 1:
            [rowid] = result["ids"]
            writer.acknowledged[rowid] = f"a-{n}"
            acknowledged.append(rowid)
    return acknowledged


def stored(path: Path) -> dict[int, str]:
    """Row id -> finding id of every event in the file at ``path``."""
    assert integrity(path) == "ok"
    with FeedbackStore(path, environ={}) as store:
        return {s.id: s.event.finding_id for s in store.events()}


def shown(writer: Writer) -> list[str]:
    """The messages the server showed the user (window/showMessage), but the no-LM hint: it is
    shown once per user, so whether it appears depends on which test ran first."""
    return [m.message for m in writer.client.messages if "no LM configured" not in m.message]


def side_files(store: Path) -> list[Path]:
    return [store.with_name(store.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


def replace_file(store: Path, replacement: Path) -> None:
    """Put ``replacement`` at the store's path in one rename, as a restore or a sync tool does,
    removing the side files that belonged to the file it replaces."""
    os.replace(replacement, store)
    for side in side_files(store):
        side.unlink(missing_ok=True)


async def test_a_store_deleted_while_the_server_runs_loses_no_acknowledged_event(
    tmp_path: Path,
) -> None:
    store = tmp_path / "feedback" / "feedback.sqlite3"
    writer = await start_server("a", tmp_path, store)
    try:
        assert len(await send(writer, tmp_path, 3)) == 3
        shutil.rmtree(store.parent)  # the file, its side files and its directory
        assert len(await send(writer, tmp_path, 3)) == 3
        told = shown(writer)
        store.unlink(missing_ok=True)  # again, after the last write: noticed at shutdown
    finally:
        await stop(writer)
    assert len(writer.acknowledged) == 6
    assert stored(store) == writer.acknowledged
    assert len(told) == 1 and "deleted" in told[0] and str(store) in told[0]
    assert sum("deleted" in m for m in shown(writer)) == 2  # once per deletion


async def test_a_store_replaced_by_a_backup_gets_the_events_the_backup_lacks(
    tmp_path: Path,
) -> None:
    store = tmp_path / "feedback.sqlite3"
    backup = tmp_path / "backup.sqlite3"
    writer = await start_server("a", tmp_path, store)
    try:
        await send(writer, tmp_path, 2)
        with sqlite3.connect(store) as live, sqlite3.connect(backup) as copy:
            live.backup(copy)  # a consistent copy, holding the first two events
        live.close()
        copy.close()
        await send(writer, tmp_path, 3)
        replace_file(store, backup)  # restored: the last three events are not in it
        await send(writer, tmp_path, 2)
        told = shown(writer)
    finally:
        await stop(writer)
    assert len(writer.acknowledged) == 7
    assert stored(store) == writer.acknowledged  # each once, under the id the client was given
    assert len(told) == 1 and "replaced by another feedback store" in told[0]


async def test_a_store_replaced_by_a_file_that_is_not_ours_is_left_untouched(
    tmp_path: Path,
) -> None:
    store = tmp_path / "feedback.sqlite3"
    foreign = tmp_path / "notes.sqlite3"
    with sqlite3.connect(foreign) as conn:  # another application's data, at our path
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    conn.close()
    content = foreign.read_bytes()
    writer = await start_server("a", tmp_path, store)
    try:
        await send(writer, tmp_path, 3)
        replace_file(store, foreign)
        await send(writer, tmp_path, 3)
        told = shown(writer)
    finally:
        await stop(writer)
    assert store.read_bytes() == content
    assert not any(side.exists() for side in side_files(store))
    [rescued] = tmp_path.glob("feedback.sqlite3.rescued-*")
    assert len(writer.acknowledged) == 6
    assert stored(rescued) == writer.acknowledged
    assert len(told) == 1 and "not a dspy-lsp feedback store" in told[0]
    assert str(rescued) in told[0]


async def test_a_full_disk_is_told_once_and_held_events_are_written_when_space_returns(
    tmp_path: Path,
) -> None:
    store = tmp_path / "feedback.sqlite3"
    writer = await start_server("a", tmp_path, store)
    try:
        assert len(await send(writer, tmp_path, 1)) == 1
        logged = len(writer.client.log_messages)
        # Python ignores SIGXFSZ, so the server sees EFBIG where it would see ENOSPC.
        resource.prlimit(writer.pid, resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))
        assert await send(writer, tmp_path, 20) == []  # not acknowledged: not on disk
        told = shown(writer)
        quiet = len(writer.client.log_messages) - logged
        resource.prlimit(writer.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
        assert len(await send(writer, tmp_path, 1)) == 1
        resumed = [m.message for m in writer.client.log_messages[logged:]]
    finally:
        await stop(writer)
    assert len(told) == 1 and "kept in memory" in told[0]
    assert quiet == 1  # the same message, logged; nothing per event
    assert any("written to" in m and "again" in m for m in resumed)
    found = stored(store)
    assert writer.acknowledged.items() <= found.items()
    assert sorted(found.values()) == sorted(f"a-{n}" for n in range(22))  # held ones too


async def test_a_damaged_shm_file_beside_the_store_does_not_kill_the_server(
    tmp_path: Path,
) -> None:
    """SQLite maps a WAL database's -shm file; truncated under it, its next access was SIGBUS."""
    store = tmp_path / "feedback.sqlite3"
    shm = store.with_name(store.name + "-shm")
    writer = await start_server("a", tmp_path, store)
    behave_like_an_editor(writer.client)
    uri = (tmp_path / "a.py").as_uri()
    try:
        await open_and_wait(writer.client, uri, FLAGGED)
        await send(writer, tmp_path, 1)
        with open(shm, "ab") as handle:  # the live one, or a stale one left by a crash
            handle.truncate(0)
        shm.chmod(0)
        await send(writer, tmp_path, 2)
        published = await replace_and_wait(writer.client, uri, FLAGGED + "x = 1\n", 2)
        assert [d.code for d in published.diagnostics] == ["DL101"]
        assert writer.client._server is not None and writer.client._server.returncode is None
        told = shown(writer)
    finally:
        await stop(writer)
    assert len(writer.acknowledged) == 3 and stored(store) == writer.acknowledged
    assert told == []


def test_databases_are_opened_with_nothing_mapped_into_memory(tmp_path: Path) -> None:
    """The LM cache opens its file the same way: no -shm, no mmap."""
    path = tmp_path / "f.sqlite3"
    path.touch()
    conn = open_database(
        path,
        migrations=[["CREATE TABLE t (x)"]],
        too_new=RuntimeError,
        timeout_s=1.0,
        durable=False,
    )
    try:
        conn.execute("INSERT INTO t VALUES (1)")
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("PRAGMA mmap_size").fetchone()[0] == 0
        assert not any(side.exists() for side in side_files(path))
    finally:
        conn.close()


def wal_file(path: Path) -> None:
    """A feedback file as an older dspy-lsp left it: one event, in WAL mode."""
    with FeedbackStore(path, environ={}) as store:
        store.record(event(0))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()


def test_a_wal_file_of_an_older_server_is_switched_to_a_rollback_journal(tmp_path: Path) -> None:
    path = tmp_path / "f.sqlite3"
    wal_file(path)
    with FeedbackStore(path, environ={}) as store:
        assert store._conn is not None
        assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert [s.event for s in store.events()] == [event(0)]
    assert not any(side.exists() for side in side_files(path))


def test_a_wal_file_an_older_server_holds_open_stays_wal_and_takes_writes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "f.sqlite3"
    wal_file(path)
    older = sqlite3.connect(path)
    older.execute("SELECT count(*) FROM events").fetchone()  # open, in WAL mode
    try:
        with FeedbackStore(path, environ={}) as store:
            store.record(event(1))
            assert [s.event for s in store.events()] == [event(0), event(1)]
    finally:
        older.close()


def test_events_moved_into_a_store_whose_ids_are_taken_get_new_ids(tmp_path: Path) -> None:
    path = tmp_path / "f.sqlite3"
    other = tmp_path / "other.sqlite3"
    told: list[str] = []
    with FeedbackStore(other, environ={}) as theirs:
        for n in (10, 11, 12):
            theirs.record(event(n))
    with FeedbackStore(path, environ={}, notify=told.append) as store:
        first = [store.record(event(n)) for n in (0, 1)]
        os.replace(other, path)  # ids 1 and 2 are other events there
        last = store.record(event(2))
    with FeedbackStore(path, environ={}) as merged:
        found = {s.id: s.event for s in merged.events()}
    assert first == [1, 2] and last == 6
    assert {rowid: e.finding_id for rowid, e in found.items()} == {
        1: "finding-10",
        2: "finding-11",
        3: "finding-12",
        4: "finding-0",
        5: "finding-1",
        6: "finding-2",
    }
    assert len(told) == 1 and "2 events were added" in told[0]


@pytest.mark.parametrize("change", ["deleted", "replaced"])
def test_servers_sharing_a_store_carry_each_event_once(tmp_path: Path, change: str) -> None:
    """Both notice on their own; what one carried, the other finds there (even renumbered)."""
    path = tmp_path / "f.sqlite3"
    told: list[str] = []
    theirs = [event(n) for n in (10, 11, 12)]
    with (
        FeedbackStore(path, environ={}, notify=told.append) as one,
        FeedbackStore(path, environ={}, notify=told.append) as two,
    ):
        one.record(event(0))
        two.record(event(1))
        if change == "deleted":
            path.unlink()
        else:  # by a store whose ids 1 to 3 hold other events
            other = tmp_path / "other.sqlite3"
            with FeedbackStore(other, environ={}) as store:
                for e in theirs:
                    store.record(e)
            os.replace(other, path)
        last = {two.record(event(2)): event(2), one.record(event(3)): event(3)}
    with FeedbackStore(path, environ={}) as after:
        found = {s.id: s.event for s in after.events()}
    ours = [event(n) for n in range(4)]
    assert sorted(found.values(), key=str) == sorted(
        ours + (theirs if change == "replaced" else []), key=str
    )
    assert last.items() <= found.items()
    assert len(told) == 1 and "2 events" in told[0]
