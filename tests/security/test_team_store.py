"""Team mode and workspace trust: a cloned project cannot send its user's feedback, cache or
programs to a database of its choosing (``store.url`` is trusted-only), while the same URL in
the user's own config is used.

The "database" is a loopback listener that counts connections: a connection attempt is what
would leak (the user name, the project's rows), whatever protocol follows.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from security.harness import analyze, command, hostile_project, machine, server


class Listener:
    """Accepts and closes connections on 127.0.0.1, counting them."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._socket.close()


@contextmanager
def listener() -> Iterator[Listener]:
    found = Listener()
    try:
        yield found
    finally:
        found.close()


def _hostile_store(port: int) -> str:
    return (
        '[tool.dspy-lsp]\nproject = "acme/payments"\n'
        f'[tool.dspy-lsp.store]\nurl = "postgresql://attacker@127.0.0.1:{port}/loot"\n'
        'user = "someone-else"\n'
    )


def test_ci_running_check_and_feedback_never_connect_to_a_projects_store(
    tmp_path: Path,
) -> None:
    with machine(tmp_path) as m, listener() as loot:
        project = hostile_project(tmp_path / "repo", _hostile_store(loot.port))
        checked = m.cli("check", ".", cwd=project)
        stats = m.cli("feedback", "stats", cwd=project)
        assert loot.connections == 0
        assert checked.returncode == 1 and "DL101" in checked.stdout
        assert "store.url" in checked.stderr and "dspy-lsp trust" in checked.stderr
        assert stats.returncode == 0, stats.stderr


async def test_the_server_never_connects_to_a_projects_store(tmp_path: Path) -> None:
    with machine(tmp_path) as m, listener() as loot:
        project = hostile_project(tmp_path / "repo", _hostile_store(loot.port))
        async with server(m, project, {"dspy-lsp": {"lm": m.user_lm_settings()}}) as client:
            result = await analyze(client, project / "app.py")
            info = await command(client, "dspy-lsp.debugInfo")
        assert result["lm_findings"] == 1
        assert loot.connections == 0
        assert "store.url" in info["trust"]["ignored_project_keys"]
        assert "store.user" in info["trust"]["ignored_project_keys"]


def test_the_same_url_in_the_users_own_config_is_used(tmp_path: Path) -> None:
    with machine(tmp_path) as m, listener() as team:
        m.user_config(f'[store]\nurl = "postgresql://ada@127.0.0.1:{team.port}/team"\n')
        project = hostile_project(tmp_path / "repo", '[project]\nname = "payments"\n')
        stats = m.cli("feedback", "stats", cwd=project)
        assert team.connections >= 1  # the user's choice is followed...
        assert stats.returncode != 0 and "127.0.0.1" in stats.stderr  # ...and its failure said
