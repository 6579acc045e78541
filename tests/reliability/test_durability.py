"""Durability: four real servers write feedback to one SQLite file; one is SIGKILLed mid-burst.

Every event a server acknowledged (``{"recorded": 1, "ids": [...]}``) must be in the file under
the id it was given, every command of a surviving server must be recorded, the file must pass
SQLite's integrity check and keep taking writes, and the schema migration must be idempotent:
run again and again, or by several processes at once, it leaves the same version, schema and
rows.

The client is pytest-lsp's ``LanguageClient``, the one the e2e suite uses, started by hand (not
the fixture) rather than a JSON-RPC client of our own: four servers run side by side in one
event loop, and when one dies its pending requests fail at once (pygls fails them on process
exit), which is exactly the line between acknowledged and not.

Bigger bursts: ``DSPY_LSP_DURABILITY_EVENTS=600 pytest tests/reliability/test_durability.py -s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol import types
from pygls.exceptions import JsonRpcInternalError
from pytest_lsp import LanguageClient
from pytest_lsp.client import make_test_lsp_client

from dspy_lsp.server.lsp.constants import CMD_FEEDBACK
from dspy_lsp.server.store.feedback_schema import MIGRATIONS, SCHEMA_VERSION
from dspy_lsp.server.store.feedback_store import FeedbackStore

SERVERS = "abcd"
VICTIM = "b"
EVENTS_PER_SERVER = int(os.environ.get("DSPY_LSP_DURABILITY_EVENTS", "120"))
# The victim dies once a third of all events, or a tenth of its own, are acknowledged: whichever
# comes first, so it dies mid-burst even when it hogs SQLite's write lock (which is not fair)
# and while the others still write even when it is the one starved. A tenth, not a third: its
# replies reach the pipe before the client reads them, and a fast victim had written all of
# them by the time the client counted a third (seen once in CI-like runs).
KILL_AFTER = len(SERVERS) * EVENTS_PER_SERVER // 3
KILL_AFTER_OWN = max(1, EVENTS_PER_SERVER // 10)
OPENERS = 4


@dataclass
class Writer:
    """One server and what it answered."""

    name: str
    client: LanguageClient
    sent: int = 0
    acknowledged: dict[int, str] = field(default_factory=dict)
    """Row id -> finding id, for every command answered ``recorded: 1``."""
    not_recorded: int = 0
    """Answered, but the server said the event was not stored."""
    unanswered: int = 0
    """No answer: the server died first."""
    ack_times: list[float] = field(default_factory=list)
    slowest_s: float = 0.0
    """The longest a command waited for its answer: the write lock shared with three others."""

    @property
    def pid(self) -> int:
        # pygls keeps the process it started private; it is the only link to this server's pid.
        process = self.client._server
        assert process is not None
        return process.pid


async def start_server(name: str, root: Path, store: Path) -> Writer:
    client = make_test_lsp_client()
    env = {**os.environ, "XDG_DATA_HOME": str(root / ".data")}
    await client.start_io(sys.executable, "-m", "dspy_lsp.server", env=env)
    await client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            root_uri=root.as_uri(),
            initialization_options={"dspy-lsp": {"feedback": {"path": str(store)}}},
        )
    )
    return Writer(name, client)


def payload(root: Path, writer: str, n: int) -> dict[str, object]:
    return {
        "kind": "accepted",
        "action_kind": "quickfix",
        "uri": (root / f"{writer}.py").as_uri(),
        "finding_id": f"{writer}-{n}",
        "rule": "DL104",
        "program_version": "rule",
        "code": f"def f_{n}(items=[]):\n    return items\n",
        "edit": f"def f_{n}(items=None):\n    return items or []\n",
    }


@dataclass
class KillSwitch:
    """SIGKILLs ``victim`` at the ``after``-th acknowledgement over all servers, or its own
    ``after_own``-th, whichever comes first; never before its first."""

    victim: Writer
    after: int
    after_own: int
    acknowledged: int = 0
    acknowledged_at_kill: int = 0
    killed_at: float | None = None

    def count(self) -> None:
        self.acknowledged += 1
        own = len(self.victim.acknowledged)
        if (
            self.killed_at is None
            and own
            and (self.acknowledged >= self.after or own >= self.after_own)
        ):
            os.kill(self.victim.pid, signal.SIGKILL)
            self.killed_at = time.monotonic()
            self.acknowledged_at_kill = self.acknowledged


async def burst(writer: Writer, root: Path, count: int, switch: KillSwitch) -> None:
    """Send ``count`` feedback commands at once and record what comes back."""

    async def one(n: int) -> None:
        params = types.ExecuteCommandParams(
            command=CMD_FEEDBACK, arguments=[payload(root, writer.name, n)]
        )
        writer.sent += 1
        sent = time.monotonic()
        try:
            result = await writer.client.workspace_execute_command_async(params)
        except RuntimeError:  # pygls: "Server process <pid> exited with return code: -9"
            writer.unanswered += 1
            return
        answered = time.monotonic()
        writer.slowest_s = max(writer.slowest_s, answered - sent)
        if result["recorded"] != 1:
            writer.not_recorded += 1
            return
        [rowid] = result["ids"]
        writer.acknowledged[rowid] = f"{writer.name}-{n}"
        writer.ack_times.append(answered)
        switch.count()

    await asyncio.gather(*(one(n) for n in range(count)))


async def stop(writer: Writer) -> None:
    if writer.client._server is not None and writer.client._server.returncode is None:
        await writer.client.shutdown_session()
    # The connection task of a killed server ends on a half-read message; that is expected.
    with contextlib.suppress(Exception):
        await writer.client.stop()


def lost(writer: Writer, found: dict[int, str]) -> dict[int, str]:
    """Acknowledged events that are not in the store under the id the server gave."""
    return {rowid: f for rowid, f in writer.acknowledged.items() if found.get(rowid) != f}


def after_kill(writer: Writer, switch: KillSwitch) -> int:
    killed_at = switch.killed_at if switch.killed_at is not None else float("inf")
    return sum(1 for t in writer.ack_times if t > killed_at)


def report(
    writers: list[Writer], switch: KillSwitch, found: dict[int, str], burst_s: float, total_s: float
) -> str:
    lines = [
        f"\ndurability: {len(writers)} servers x {EVENTS_PER_SERVER} feedback commands,"
        f" server {VICTIM} SIGKILLed at {switch.acknowledged_at_kill} acknowledgements",
        f"{'server':<8}{'sent':>6}{'acked':>7}{'after kill':>12}{'stored':>8}{'lost':>6}"
        f"{'unanswered':>12}{'slowest ack':>13}",
    ]
    for w in writers:
        mine = sum(1 for f in found.values() if f.startswith(f"{w.name}-"))
        acked = f"{w.sent:>6}{len(w.acknowledged):>7}{after_kill(w, switch):>12}"
        counts = f"{acked}{mine:>8}{len(lost(w, found)):>6}"
        lines.append(f"{w.name:<8}{counts}{w.unanswered:>12}{w.slowest_s:>12.2f}s")
    total = sum(len(lost(w, found)) for w in writers)
    lines.append(f"lost committed events: {total}; burst {burst_s:.2f}s, total {total_s:.2f}s")
    return "\n".join(lines)


def open_handles(pid: int, path: Path) -> int:
    """How many file descriptors of process ``pid`` point at ``path``: one per SQLite connection."""
    fds = Path(f"/proc/{pid}/fd")
    count = 0
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):  # closed since listed
            count += os.readlink(fd) == str(path)
    return count


async def prime(writer: Writer) -> None:
    """Import what recording needs without touching the store: a malformed payload is refused
    first. The burst's commands then reach the worker threads together."""
    with contextlib.suppress(JsonRpcInternalError):
        await writer.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=CMD_FEEDBACK, arguments=[{"kind": "accepted"}])
        )


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return "; ".join(row[0] for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def schema(path: Path) -> tuple[int, list[tuple[str, str]], list[tuple[object, ...]]]:
    """Version, schema objects and every row: what a migration must leave as it found it."""
    conn = sqlite3.connect(path)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        objects = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
        ).fetchall()
        rows = conn.execute("SELECT * FROM events ORDER BY id").fetchall()
        return version, objects, rows
    finally:
        conn.close()


OPENER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from dspy_lsp.server.store.feedback_store import FeedbackStore
    path, go = Path(sys.argv[1]), Path(sys.argv[2])
    Path(f"{go}.{sys.argv[3]}").touch()
    while not go.exists():
        time.sleep(0.002)
    with FeedbackStore(path, environ={}) as store:
        print(store.schema_version(), len(store.events()), flush=True)
    """
)


def open_from_processes(path: Path, count: int) -> list[str]:
    """Open (and so migrate) ``path`` from ``count`` processes released together."""
    go = path.with_name(f"{path.name}.go")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, str(path), str(go), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(count)
    ]
    deadline = time.monotonic() + 30
    while not all(Path(f"{go}.{n}").exists() for n in range(count)):
        assert time.monotonic() < deadline, "openers did not start"
        time.sleep(0.005)
    go.touch()
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        outputs.append(out.strip())
    go.unlink()
    return outputs


async def test_a_server_killed_mid_burst_loses_no_acknowledged_event(tmp_path: Path) -> None:
    store = tmp_path / "shared" / "feedback.sqlite3"  # created by the racing servers themselves
    started = time.monotonic()
    writers = await asyncio.gather(*(start_server(name, tmp_path, store) for name in SERVERS))
    victim = next(w for w in writers if w.name == VICTIM)
    switch = KillSwitch(victim, KILL_AFTER, KILL_AFTER_OWN)
    try:
        await asyncio.gather(*(prime(w) for w in writers))
        assert not store.exists()
        burst_started = time.monotonic()
        await asyncio.gather(*(burst(w, tmp_path, EVENTS_PER_SERVER, switch) for w in writers))
        burst_s = time.monotonic() - burst_started
        # One connection per server, though each records from several worker threads: threads
        # of one process opening a new file together made SQLite fail some with disk I/O errors,
        # and a failed open turned feedback off for the rest of the session.
        connections = {w.name: open_handles(w.pid, store) for w in writers if w is not victim}
    finally:
        await asyncio.gather(*(stop(w) for w in writers))
    assert victim.client._server is not None
    assert victim.client._server.returncode == -signal.SIGKILL

    assert integrity(store) == "ok"  # plain SQLite first, as any tool opening the file would
    with FeedbackStore(store, environ={}) as opened:
        assert opened.moved_aside is None
        found = {s.id: s.event.finding_id for s in opened.events()}
    print(report(writers, switch, found, burst_s, time.monotonic() - started))

    assert sum(len(lost(w, found)) for w in writers) == 0
    assert len(found) == len(set(found.values()))  # no event stored twice
    for w in writers:
        mine = {rowid for rowid, f in found.items() if f.startswith(f"{w.name}-")}
        assert w.not_recorded == 0
        assert w.acknowledged.keys() <= mine
        if w is victim:
            assert w.acknowledged and w.unanswered > 0
        else:
            assert len(w.acknowledged) == EVENTS_PER_SERVER == len(mine)
    # The others kept committing after the kill: the dead process held no lock that outlived it.
    # Unless the victim was starved of SQLite's lock until the others had finished (it dies only
    # after its first acknowledgement): then the replacement server below makes that check.
    others_finished = (
        switch.acknowledged_at_kill - len(victim.acknowledged)
        >= (len(SERVERS) - 1) * EVENTS_PER_SERVER
    )
    if not others_finished:
        assert sum(after_kill(w, switch) for w in writers if w is not victim) > 0
    assert set(connections.values()) == {1}

    # The file keeps taking writes from a new server after the crash.
    replacement = await start_server("e", tmp_path, store)
    try:
        result = await replacement.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=CMD_FEEDBACK, arguments=[payload(tmp_path, "e", 0)])
        )
    finally:
        await stop(replacement)
    assert result["recorded"] == 1 and result["ids"][0] > max(found)


def test_migrating_again_and_from_several_processes_at_once_changes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[0]:  # a file left by a version-1 dspy-lsp, with events in it
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.executemany(
        "INSERT INTO events (kind, finding_id, rule, program_version, created)"
        " VALUES ('accepted', ?, 'DL104', 'rule', ?)",
        [(f"old-{n}", float(n)) for n in range(25)],
    )
    conn.close()

    started = time.monotonic()
    first = open_from_processes(path, OPENERS)  # they race to run the upgrade
    assert first == [f"{SCHEMA_VERSION} 25"] * OPENERS
    upgraded = schema(path)
    for _ in range(3):
        FeedbackStore(path, environ={}).close()
    again = open_from_processes(path, OPENERS)
    print(
        f"\nmigration: v1 -> v{SCHEMA_VERSION} by {OPENERS} processes at once, reopened 3 times"
        f" and by {OPENERS} more; {len(upgraded[2])} rows kept; {time.monotonic() - started:.2f}s"
    )
    assert again == first
    assert schema(path) == upgraded
    assert upgraded[0] == SCHEMA_VERSION and len(upgraded[2]) == 25
    assert integrity(path) == "ok"
